//! The `remember` tool: lets the agent store a fact (source = its session id).

use schemars::JsonSchema;
use serde::Deserialize;
use sre_core::{ToolAnnotations, ToolContext, ToolError, ToolOutput, TypedTool};

use crate::error::MemoryError;
use crate::store::MarkdownMemory;

/// Arguments of the `remember` tool.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RememberArgs {
    /// The fact to remember: one self-contained sentence (name services, commands, files).
    pub fact: String,
    /// Topic file to put it in, e.g. `team`, `logs`, `debugging`, `overview` (optional; chosen
    /// from the fact's words when omitted).
    #[serde(default)]
    pub topic: Option<String>,
}

/// The `remember` tool. Wrap it with [`sre_core::typed_tool`].
#[derive(Clone, Debug)]
pub struct RememberTool {
    store: MarkdownMemory,
}

impl RememberTool {
    /// A tool writing into `store`.
    pub fn new(store: MarkdownMemory) -> Self {
        RememberTool { store }
    }
}

#[async_trait::async_trait]
impl TypedTool for RememberTool {
    type Args = RememberArgs;

    fn name(&self) -> &str {
        "remember"
    }

    fn description(&self) -> &str {
        "Store a durable fact in the Markdown memory (one sentence, with provenance). Use it for facts that will matter in later sessions: ownership, where logs live, how a failure was diagnosed. Read memory with the file tools; the index lists the topic files."
    }

    fn annotations(&self) -> ToolAnnotations {
        // Adds an entry (never overwrites); the same fact twice is two entries.
        ToolAnnotations {
            read_only: false,
            destructive: false,
            idempotent: false,
            open_world: false,
        }
    }

    async fn run(&self, args: RememberArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        match self
            .store
            .remember(&args.fact, args.topic.as_deref(), &ctx.session_id)
            .await
        {
            Ok(id) => {
                let path = self
                    .store
                    .get(&id)
                    .await
                    .map(|(p, _)| p)
                    .unwrap_or_default();
                Ok(ToolOutput::ok(format!("Remembered as {id} in {path}.")))
            }
            Err(e @ MemoryError::InvalidName { .. }) => Err(ToolError::Invalid(e.to_string())),
            Err(e) => Err(ToolError::Fatal(e.to_string())),
        }
    }
}
