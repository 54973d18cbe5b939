//! Typed tool authoring: the schema is derived with `schemars` from an argument struct and
//! every input is validated with `jsonschema` before the call.

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::ToolSpec;
use crate::tool::{Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput};

/// A tool with a typed argument struct. Doc comments on the struct's fields become the
/// parameter descriptions the model sees.
///
/// ```
/// use sre_core::{typed_tool, TypedTool, ToolContext, ToolError, ToolOutput};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct EchoArgs {
///     /// Text to echo back.
///     text: String,
/// }
///
/// struct Echo;
///
/// #[async_trait::async_trait]
/// impl TypedTool for Echo {
///     type Args = EchoArgs;
///     fn name(&self) -> &str { "echo" }
///     fn description(&self) -> &str { "Echo the text back." }
///     async fn run(&self, args: EchoArgs, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
///         Ok(ToolOutput::ok(args.text))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let tool = typed_tool(Echo).unwrap();
/// let ctx = ToolContext::detached("call_1");
/// let out = tool.call(serde_json::json!({"text": "hi"}), &ctx).await.unwrap();
/// assert_eq!(out.content, "hi");
/// // A wrong type is a model-visible error, not a panic.
/// let err = tool.call(serde_json::json!({"text": 3}), &ctx).await.unwrap_err();
/// assert!(err.to_string().contains("/text"));
/// # });
/// ```
#[async_trait]
pub trait TypedTool: Send + Sync + 'static {
    /// The argument struct.
    type Args: DeserializeOwned + JsonSchema + Send;

    /// Tool name.
    fn name(&self) -> &str;

    /// What the tool does and when to use it.
    fn description(&self) -> &str;

    /// What the tool does to the world (see [`ToolAnnotations`]); default: may do anything.
    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::default()
    }

    /// What one call does to the world (see [`Tool::call_annotations`]); default: the
    /// tool's annotations. Called with the raw input (it may not validate).
    fn call_annotations(&self, _input: &Value) -> ToolAnnotations {
        self.annotations()
    }

    /// Rebuild per-session state from a recorded successful call (see [`Tool::restore`]).
    fn restore(&self, _session_id: &str, _args: Self::Args) {}

    /// See [`Tool::deadline`]. Default: the loop's.
    fn deadline(&self) -> Option<std::time::Duration> {
        None
    }

    /// Run with validated arguments.
    async fn run(&self, args: Self::Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError>;
}

/// Wrap a [`TypedTool`] as a [`Tool`]: derives its schema and compiles a validator once.
pub fn typed_tool<T: TypedTool>(tool: T) -> Result<Arc<dyn Tool>> {
    Ok(Arc::new(Typed::new(tool)?))
}

/// The [`Tool`] adapter around a [`TypedTool`].
pub struct Typed<T: TypedTool> {
    inner: T,
    spec: ToolSpec,
    validator: jsonschema::Validator,
}

impl<T: TypedTool> Typed<T> {
    /// Derive the schema of `T::Args` and compile its validator.
    pub fn new(inner: T) -> Result<Self> {
        let schema = schema_for::<T::Args>();
        let validator = jsonschema::validator_for(&schema).map_err(|e| {
            Error::Config(format!(
                "tool `{}`: derived schema is not valid: {e}",
                inner.name()
            ))
        })?;
        let spec = ToolSpec {
            name: inner.name().to_string(),
            description: inner.description().to_string(),
            input_schema: schema,
        };
        Ok(Typed {
            inner,
            spec,
            validator,
        })
    }
}

/// The JSON schema of `A`, as offered to models (no `$schema` key, `type: object`).
pub fn schema_for<A: JsonSchema>() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(A)).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut schema {
        map.remove("$schema");
        map.entry("type")
            .or_insert_with(|| Value::String("object".into()));
    }
    schema
}

/// Validate `input` against `validator`; the error lists every violation with its JSON path.
pub fn validate_input(
    tool: &str,
    validator: &jsonschema::Validator,
    input: &Value,
) -> Result<(), ToolError> {
    let problems: Vec<String> = validator
        .iter_errors(input)
        .map(|e| {
            let path = e.instance_path().to_string();
            let at = if path.is_empty() {
                "(root)".to_string()
            } else {
                path
            };
            format!("{at}: {e}")
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ToolError::Invalid(format!(
            "invalid arguments for `{tool}`: {}",
            problems.join("; ")
        )))
    }
}

#[async_trait]
impl<T: TypedTool> Tool for Typed<T> {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn annotations(&self) -> ToolAnnotations {
        self.inner.annotations()
    }

    fn call_annotations(&self, input: &Value) -> ToolAnnotations {
        self.inner.call_annotations(input)
    }

    fn deadline(&self) -> Option<std::time::Duration> {
        self.inner.deadline()
    }

    fn restore(&self, session_id: &str, input: &Value) {
        if let Ok(args) = serde_json::from_value::<T::Args>(input.clone()) {
            self.inner.restore(session_id, args);
        }
    }

    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        validate_input(&self.spec.name, &self.validator, &input)?;
        let args: T::Args = serde_json::from_value(input).map_err(|e| {
            ToolError::Invalid(format!("invalid arguments for `{}`: {e}", self.spec.name))
        })?;
        self.inner.run(args, ctx).await
    }
}
