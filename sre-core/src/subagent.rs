//! Parallel subagents: the `spawn_subagents` tool starts several child agents at once, each
//! with its own transcript, its own context budget and an optional narrower tool set. Their
//! final answers come back as the tool result and their usage rolls up into the parent's
//! ledger (per agent and in total).
//!
//! A child's session id is derived from the parent's session, the call's tool-use id and
//! the child's name (`<parent>--<name>-<hash of the call id>`), so it is unique
//! per call and the same when the call is made again after a crash: a resumed parent
//! resumes its interrupted children and takes the answers of those that finished, instead
//! of starting them over. That is why the tool is idempotent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::agent::{Outcome, Session, SessionParent, StopCause};
use crate::agent_loop::{AgentLoop, Parts};
use crate::error::{Error, Result};
use crate::hook::Hook;
use crate::model::ToolSpec;
use crate::run::Mode;
use crate::tool::{ChildSession, Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput};
use crate::typed_tool::{schema_for, validate_input};

/// How subagents are run.
#[derive(Clone)]
pub struct SubagentOptions {
    /// System prompt of the children (default: the parent's).
    pub system_prompt: Option<String>,
    /// Model calls each child may make. Default 20.
    pub max_turns: u32,
    /// Children that run at once. Default 4.
    pub max_parallel: usize,
    /// Children one call may start. Default 8.
    pub max_tasks: usize,
    /// Hooks of the children, run after the parent's.
    pub hooks: Vec<Arc<dyn Hook>>,
}

impl Default for SubagentOptions {
    fn default() -> Self {
        SubagentOptions {
            system_prompt: None,
            max_turns: 20,
            max_parallel: 4,
            max_tasks: 8,
            hooks: Vec::new(),
        }
    }
}

/// Arguments of `spawn_subagents`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpawnArgs {
    /// Independent investigations to run in parallel, one subagent each.
    pub tasks: Vec<SubTask>,
}

/// One subagent's assignment.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubTask {
    /// Short name for the subagent, e.g. `db-pool` (letters, digits, `-`, `_`).
    pub name: String,
    /// What to investigate and what to report back.
    pub prompt: String,
    /// Tool names the subagent may use (default: all of the parent's tools).
    #[serde(default)]
    pub tools: Option<Vec<String>>,
}

/// The name of the subagent tool.
pub const SPAWN_TOOL: &str = "spawn_subagents";

/// The session id of subagent `name` started by the call `tool_use_id` of `parent`:
/// `<parent>--<name>-<8 hex of the call id>`, at most 200 characters (a long parent id is
/// cut and its own hash added, so ids stay unique and valid for every store).
pub fn child_session_id(parent: &str, tool_use_id: &str, name: &str) -> String {
    let id = format!("{parent}--{name}-{:08x}", fnv1a(tool_use_id));
    if id.len() <= MAX_SESSION_ID {
        return id;
    }
    let keep = MAX_SESSION_ID.saturating_sub(name.len() + 2 + 9 + 10);
    let head: String = parent.chars().take(keep).collect();
    format!(
        "{head}.{:08x}--{name}-{:08x}",
        fnv1a(parent),
        fnv1a(tool_use_id)
    )
}

/// Longest session id every store accepts.
const MAX_SESSION_ID: usize = 200;

/// FNV-1a folded to 32 bits: stable across processes and versions (unlike std's hasher).
fn fnv1a(s: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash >> 32) as u32 ^ hash as u32
}

/// The valid subagent names in a `spawn_subagents` input (for replay; invalid names never
/// started a child).
fn task_names(input: &Value) -> Vec<String> {
    input
        .get("tasks")
        .and_then(Value::as_array)
        .map(|tasks| {
            tasks
                .iter()
                .filter_map(|t| t.get("name")?.as_str().map(str::to_string))
                .filter(|n| valid_name(n))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) struct SpawnSubagents {
    template: Arc<Parts>,
    options: SubagentOptions,
    spec: ToolSpec,
    validator: jsonschema::Validator,
    annotations: ToolAnnotations,
}

impl SpawnSubagents {
    pub(crate) fn new(template: Arc<Parts>, options: SubagentOptions) -> Result<Self> {
        if options.max_parallel == 0 || options.max_tasks == 0 || options.max_turns == 0 {
            return Err(Error::Config(
                "subagent max_parallel, max_tasks and max_turns must be at least 1".into(),
            ));
        }
        let schema = schema_for::<SpawnArgs>();
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| Error::Config(format!("spawn_subagents schema: {e}")))?;
        let spec = ToolSpec {
            name: SPAWN_TOOL.into(),
            description: format!(
                "Start up to {} subagents that investigate independent hypotheses in parallel, each in \
                 its own context. Give each a name, a self-contained prompt (it sees nothing of this \
                 conversation) and optionally the tools it may use. Returns each subagent's final answer.",
                options.max_tasks
            ),
            input_schema: schema,
        };
        // Children resume instead of restarting, so calling again is harmless; it reads
        // only if every tool the children may use reads only.
        let read_only = template.tools.values().all(|t| t.annotations().read_only);
        let annotations = ToolAnnotations {
            read_only,
            destructive: !read_only,
            idempotent: true,
            open_world: template.tools.values().any(|t| t.annotations().open_world),
        };
        Ok(SpawnSubagents {
            template,
            options,
            spec,
            validator,
            annotations,
        })
    }

    fn child_parts(&self, task: &SubTask) -> Result<Arc<Parts>, ToolError> {
        let Some(names) = &task.tools else {
            return Ok(self.template.clone());
        };
        let mut tools = BTreeMap::new();
        for name in names {
            match self.template.tools.get(name) {
                Some(t) => {
                    tools.insert(name.clone(), t.clone());
                }
                None => {
                    let known: Vec<&str> = self.template.tools.keys().map(String::as_str).collect();
                    return Err(ToolError::Invalid(format!(
                        "subagent `{}` asks for unknown tool `{name}`; available: {}",
                        task.name,
                        known.join(", ")
                    )));
                }
            }
        }
        Ok(Arc::new(self.template.with_tools(tools)))
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[async_trait]
impl Tool for SpawnSubagents {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn annotations(&self) -> ToolAnnotations {
        self.annotations
    }

    /// A child investigation may rightly run longer than any one command.
    fn deadline(&self) -> Option<std::time::Duration> {
        Some(crate::agent_tool::AGENT_CALL_DEADLINE)
    }

    fn child_sessions(
        &self,
        parent_session: &str,
        parent_agent: &str,
        tool_use_id: &str,
        input: &Value,
    ) -> Vec<ChildSession> {
        task_names(input)
            .into_iter()
            .map(|child| ChildSession {
                session_id: child_session_id(parent_session, tool_use_id, &child),
                ledger_name: format!("{parent_agent}/{child}"),
                // The template has every tool a child may have had: their own children
                // are found through it.
                agent: Some(AgentLoop::from_parts(self.template.clone())),
            })
            .collect()
    }

    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        validate_input(&self.spec.name, &self.validator, &input)?;
        let args: SpawnArgs = serde_json::from_value(input).map_err(|e| {
            ToolError::Invalid(format!("invalid arguments for `spawn_subagents`: {e}"))
        })?;
        if args.tasks.is_empty() || args.tasks.len() > self.options.max_tasks {
            return Err(ToolError::Invalid(format!(
                "give between 1 and {} tasks (got {})",
                self.options.max_tasks,
                args.tasks.len()
            )));
        }
        let mut seen = BTreeSet::new();
        let mut runs = Vec::with_capacity(args.tasks.len());
        for task in &args.tasks {
            if !valid_name(&task.name) {
                return Err(ToolError::Invalid(format!(
                    "subagent name `{}` must be 1-40 characters of [A-Za-z0-9_-]",
                    task.name
                )));
            }
            if !seen.insert(task.name.as_str()) {
                return Err(ToolError::Invalid(format!(
                    "two subagents are named `{}`",
                    task.name
                )));
            }
            runs.push((task, self.child_parts(task)?));
        }
        let mut futures: Vec<BoxFuture<'_, (&SubTask, Result<Outcome>)>> =
            Vec::with_capacity(runs.len());
        for (task, parts) in runs {
            let session = Session {
                id: child_session_id(&ctx.session_id, &ctx.tool_use_id, &task.name),
                cancel: ctx.cancel.child_token(),
                events: ctx.events.clone(),
                parent: Some(SessionParent {
                    session_id: ctx.session_id.clone(),
                    call_id: Some(ctx.tool_use_id.clone()),
                }),
            };
            let name = format!("{}/{}", ctx.agent_name, task.name);
            let ledger = ctx.ledger.clone();
            futures.push(Box::pin(async move {
                let agent = AgentLoop::from_parts(parts);
                let result = agent
                    .run_in_tree(&session, Mode::TaskOrResume(&task.prompt), name, ledger)
                    .await;
                (task, result)
            }));
        }
        let results = futures::stream::iter(futures)
            .buffered(self.options.max_parallel)
            .collect::<Vec<_>>()
            .await;

        let mut sections = Vec::with_capacity(results.len());
        let mut failures = 0;
        for (task, result) in results {
            let body = match result {
                Ok(outcome) => match (outcome.cause, outcome.answer) {
                    (StopCause::Completed, Some(a)) => a,
                    (cause, Some(a)) => format!("{a}\n(ended: {cause:?})"),
                    (cause, None) => {
                        failures += 1;
                        format!("(no answer; ended: {cause:?})")
                    }
                },
                Err(Error::Cancelled) => return Err(ToolError::Cancelled),
                Err(e) => {
                    failures += 1;
                    format!("(failed: {e})")
                }
            };
            sections.push(format!("## subagent {}\n{}", task.name, body));
        }
        let content = sections.join("\n\n");
        Ok(if failures == sections.len() {
            ToolOutput::error(content)
        } else {
            ToolOutput::ok(content)
        })
    }
}
