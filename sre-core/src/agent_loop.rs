//! `AgentLoop`: the one implementation of [`Agent`], assembled with a builder from optional
//! parts (tools, hooks, layers, budget, memory, session store, offload, approver).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::agent::{Agent, Outcome, Session};
use crate::budget::ContextBudget;
use crate::error::{Error, Result};
use crate::handoff::{HandoffTarget, HandoffTool};
use crate::hook::{Approver, Hook};
use crate::layer::ContextLayer;
use crate::memory::MemoryStore;
use crate::model::{Model, ToolSpec};
use crate::run::{Mode, Run};
use crate::session::{InMemorySessionStore, SessionStore};
use crate::subagent::{SpawnSubagents, SubagentOptions};
use crate::tool::{OutputOffload, Tool};
use crate::usage::SharedLedger;

/// The default of [`AgentLoopBuilder::tool_deadline`].
pub const DEFAULT_TOOL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Everything a run needs; shared (`Arc`) between a loop and the subagents it spawns.
pub(crate) struct Parts {
    pub name: String,
    pub model: Arc<dyn Model>,
    pub system_prompt: String,
    pub tools: BTreeMap<String, Arc<dyn Tool>>,
    /// Specs of `tools`, sorted by name (the map's order).
    pub specs: Vec<ToolSpec>,
    pub hooks: Vec<Arc<dyn Hook>>,
    pub layers: Vec<Arc<dyn ContextLayer>>,
    pub budget: Option<Arc<dyn ContextBudget>>,
    pub memory: Option<Arc<dyn MemoryStore>>,
    pub store: Arc<dyn SessionStore>,
    pub offload: Option<Arc<dyn OutputOffload>>,
    pub approver: Option<Arc<dyn Approver>>,
    pub cwd: Option<String>,
    pub max_turns: u32,
    pub max_stop_rejections: u32,
    pub tool_concurrency: usize,
    pub streaming: bool,
    pub max_output_tokens: u64,
    pub hook_timeout: std::time::Duration,
    /// Longest a tool call may take when its tool does not say ([`Tool::deadline`]).
    pub tool_deadline: std::time::Duration,
    pub is_subagent: bool,
    pub cost_cap: CostCap,
    pub max_output_continuations: u32,
    /// Sampling temperature copied into every request of the run.
    pub temperature: Option<f32>,
    /// Agents the `handoff` tool may hand the thread to (empty: no such tool).
    pub handoffs: Vec<HandoffTarget>,
}

/// A hard cap on what one run's agent tree (the agent, its subagents, its hook judges and
/// compactions) may spend. When a cap is reached the run stops before its next model call
/// with [`StopCause::CostCapReached`](crate::StopCause::CostCapReached).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CostCap {
    /// Prompt plus completion tokens, summed over every model call of the tree.
    pub max_tokens: Option<u64>,
    /// US dollars, at the models' configured prices.
    pub max_usd: Option<f64>,
}

impl Parts {
    pub(crate) fn with_tools(&self, tools: BTreeMap<String, Arc<dyn Tool>>) -> Parts {
        let specs = tools.values().map(|t| t.spec().clone()).collect();
        Parts {
            name: self.name.clone(),
            model: self.model.clone(),
            system_prompt: self.system_prompt.clone(),
            tools,
            specs,
            hooks: self.hooks.clone(),
            layers: self.layers.clone(),
            budget: self.budget.clone(),
            memory: self.memory.clone(),
            store: self.store.clone(),
            offload: self.offload.clone(),
            approver: self.approver.clone(),
            cwd: self.cwd.clone(),
            max_turns: self.max_turns,
            max_stop_rejections: self.max_stop_rejections,
            tool_concurrency: self.tool_concurrency,
            streaming: self.streaming,
            max_output_tokens: self.max_output_tokens,
            hook_timeout: self.hook_timeout,
            tool_deadline: self.tool_deadline,
            is_subagent: self.is_subagent,
            cost_cap: self.cost_cap,
            max_output_continuations: self.max_output_continuations,
            temperature: self.temperature,
            // Children never hand the parent's thread over.
            handoffs: Vec::new(),
        }
    }
}

/// The agent loop.
///
/// ```
/// use std::sync::Arc;
/// use sre_core::{AgentLoop, Agent, ScriptedModel, Session, StopCause};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let model = ScriptedModel::from_yaml(r#"
/// turns:
///   - final: "Root cause: the pool is too small."
/// "#).unwrap();
/// let agent = AgentLoop::builder(Arc::new(model))
///     .name("investigator")
///     .system_prompt("You are an SRE agent.")
///     .build()
///     .unwrap();
/// let outcome = agent.run(&Session::new("s1"), "Why is checkout failing?").await.unwrap();
/// assert_eq!(outcome.cause, StopCause::Completed);
/// assert_eq!(outcome.answer.as_deref(), Some("Root cause: the pool is too small."));
/// # });
/// ```
#[derive(Clone)]
pub struct AgentLoop {
    pub(crate) parts: Arc<Parts>,
}

impl AgentLoop {
    /// Start assembling a loop around `model`.
    pub fn builder(model: Arc<dyn Model>) -> AgentLoopBuilder {
        AgentLoopBuilder {
            name: "agent".into(),
            model,
            system_prompt: String::new(),
            tools: Vec::new(),
            hooks: Vec::new(),
            layers: Vec::new(),
            budget: None,
            memory: None,
            store: None,
            offload: None,
            approver: None,
            cwd: None,
            max_turns: 50,
            max_stop_rejections: 3,
            tool_concurrency: 8,
            streaming: false,
            max_output_tokens: None,
            hook_timeout: std::time::Duration::from_secs(600),
            tool_deadline: DEFAULT_TOOL_DEADLINE,
            subagents: None,
            cost_cap: CostCap::default(),
            max_output_continuations: 3,
            temperature: None,
            handoffs: Vec::new(),
        }
    }

    /// The agent's name.
    pub fn name(&self) -> &str {
        &self.parts.name
    }

    /// The tool specs offered to the model, sorted by name.
    pub fn tool_specs(&self) -> &[ToolSpec] {
        &self.parts.specs
    }

    pub(crate) fn from_parts(parts: Arc<Parts>) -> Self {
        AgentLoop { parts }
    }

    /// This loop as a tool another agent can call (input `{task}`): each call runs it as a
    /// child of the calling run, in its own session
    /// ([`child_session_id`](crate::subagent::child_session_id)`(parent session, call id,
    /// name)`), with the caller's cancellation and event sink, its usage counted in the
    /// caller's ledger as `<caller>/<name>`. The child keeps this loop's own model, prompt,
    /// tools, hooks and store. A call made again after a crash resumes the interrupted child
    /// or returns the answer of the finished one, so the tool is idempotent; it is read-only
    /// when every tool of this loop is.
    pub fn as_tool(
        &self,
        name: impl Into<String>,
        description: impl Into<String>,
    ) -> Arc<dyn Tool> {
        Arc::new(crate::agent_tool::AgentTool::new(
            self.parts.clone(),
            name.into(),
            description.into(),
        ))
    }

    /// Run with a ledger shared with a parent agent (subagents) and an explicit agent name.
    pub(crate) async fn run_in_tree(
        &self,
        session: &Session,
        mode: Mode<'_>,
        agent_name: String,
        ledger: SharedLedger,
    ) -> Result<Outcome> {
        Run::new(&self.parts, session, agent_name, ledger)
            .execute(mode)
            .await
    }
}

#[async_trait]
impl Agent for AgentLoop {
    async fn run(&self, session: &Session, task: &str) -> Result<Outcome> {
        self.run_in_tree(
            session,
            Mode::Task(task),
            self.parts.name.clone(),
            SharedLedger::default(),
        )
        .await
    }

    async fn resume(&self, session: &Session) -> Result<Outcome> {
        self.run_in_tree(
            session,
            Mode::Resume,
            self.parts.name.clone(),
            SharedLedger::default(),
        )
        .await
    }
}

/// Builder for [`AgentLoop`]; every part is optional except the model.
#[must_use]
pub struct AgentLoopBuilder {
    name: String,
    model: Arc<dyn Model>,
    system_prompt: String,
    tools: Vec<Arc<dyn Tool>>,
    hooks: Vec<Arc<dyn Hook>>,
    layers: Vec<Arc<dyn ContextLayer>>,
    budget: Option<Arc<dyn ContextBudget>>,
    memory: Option<Arc<dyn MemoryStore>>,
    store: Option<Arc<dyn SessionStore>>,
    offload: Option<Arc<dyn OutputOffload>>,
    approver: Option<Arc<dyn Approver>>,
    cwd: Option<String>,
    max_turns: u32,
    max_stop_rejections: u32,
    tool_concurrency: usize,
    streaming: bool,
    max_output_tokens: Option<u64>,
    hook_timeout: std::time::Duration,
    tool_deadline: std::time::Duration,
    subagents: Option<SubagentOptions>,
    cost_cap: CostCap,
    max_output_continuations: u32,
    temperature: Option<f32>,
    handoffs: Vec<HandoffTarget>,
}

impl AgentLoopBuilder {
    /// Agent name (events, hooks, ledger). Default `agent`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The system prompt (first system block).
    pub fn system_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = prompt.into();
        self
    }

    /// Add one tool.
    pub fn tool(mut self, tool: Arc<dyn Tool>) -> Self {
        self.tools.push(tool);
        self
    }

    /// Add tools.
    pub fn tools(mut self, tools: impl IntoIterator<Item = Arc<dyn Tool>>) -> Self {
        self.tools.extend(tools);
        self
    }

    /// Add one hook.
    pub fn hook(mut self, hook: Arc<dyn Hook>) -> Self {
        self.hooks.push(hook);
        self
    }

    /// Add hooks (run in this order when merging decisions).
    pub fn hooks(mut self, hooks: impl IntoIterator<Item = Arc<dyn Hook>>) -> Self {
        self.hooks.extend(hooks);
        self
    }

    /// Add one context layer (placed after the system prompt, in the order added).
    pub fn layer(mut self, layer: Arc<dyn ContextLayer>) -> Self {
        self.layers.push(layer);
        self
    }

    /// Add context layers.
    pub fn layers(mut self, layers: impl IntoIterator<Item = Arc<dyn ContextLayer>>) -> Self {
        self.layers.extend(layers);
        self
    }

    /// The token budget policy (prune/compact). Without one the transcript only grows.
    pub fn budget(mut self, budget: Arc<dyn ContextBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The memory store, for the user commands `#remember`, `#forget` and `#retrieve`.
    /// To put the memory index in the prompt, also add it as a layer (e.g.
    /// `sre_context::KnowledgeMapLayer` over this store): layers are
    /// explicit so their order, and so the cached prefix, stays under the host's control.
    pub fn memory(mut self, memory: Arc<dyn MemoryStore>) -> Self {
        self.memory = Some(memory);
        self
    }

    /// Where transcripts are persisted. Default: in memory (nothing survives the process);
    /// use [`JsonlSessionStore`](crate::JsonlSessionStore) to survive crashes.
    pub fn session_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Where large tool outputs go.
    pub fn offload(mut self, offload: Arc<dyn OutputOffload>) -> Self {
        self.offload = Some(offload);
        self
    }

    /// Who approves tool calls that a hook marked `Ask`.
    pub fn approver(mut self, approver: Arc<dyn Approver>) -> Self {
        self.approver = Some(approver);
        self
    }

    /// Working directory reported to hooks (`cwd`), usually the workspace root.
    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }

    /// Model calls allowed per run. Default 50.
    pub fn max_turns(mut self, n: u32) -> Self {
        self.max_turns = n;
        self
    }

    /// Stop-hook rejections fed back to the agent. Default 3: rejections 1 to 3 send the
    /// agent back to work; a 4th rejection ends the run with
    /// [`StopCause::MaxRejections`](crate::StopCause::MaxRejections) and the answer.
    /// (A hook with its own, lower limit stops rejecting first, and the run completes.)
    pub fn max_stop_rejections(mut self, n: u32) -> Self {
        self.max_stop_rejections = n;
        self
    }

    /// Tool calls of one turn that run at once. Default 8.
    pub fn tool_concurrency(mut self, n: usize) -> Self {
        self.tool_concurrency = n;
        self
    }

    /// Longest the loop waits for one hook's decision; a hook that exceeds it has failed (a
    /// `HookFailed` event) and its fail mode decides: `block` blocks, `allow` does not
    /// decide. Default 10 minutes; hooks with their own timeouts (command hooks) apply
    /// those first.
    pub fn hook_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.hook_timeout = timeout;
        self
    }

    /// Longest one tool call may take, for tools that do not set their own
    /// ([`Tool::deadline`]). Past it the call's cancellation token is cancelled; a call
    /// that still has not returned after a grace of two seconds is abandoned, and the
    /// model is told it was stopped and its effect is unknown. Default 30 minutes: a
    /// backstop behind the tools' own timeouts (a shell command's is shorter), so that no
    /// call can wedge a turn.
    pub fn tool_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.tool_deadline = deadline;
        self
    }

    /// Use the model's streaming call and emit text deltas as events.
    pub fn streaming(mut self, on: bool) -> Self {
        self.streaming = on;
        self
    }

    /// Completion token cap per call. Default: the model's maximum.
    pub fn max_output_tokens(mut self, n: u64) -> Self {
        self.max_output_tokens = Some(n);
        self
    }

    /// Stop the run when its agent tree has spent `cap` (tokens and/or dollars).
    pub fn cost_cap(mut self, cap: CostCap) -> Self {
        self.cost_cap = cap;
        self
    }

    /// How many times an answer cut at the output token limit is continued before the run
    /// ends with [`StopCause::OutputLimit`](crate::StopCause::OutputLimit). Default 3.
    pub fn max_output_continuations(mut self, n: u32) -> Self {
        self.max_output_continuations = n;
        self
    }

    /// Sampling temperature sent with every model call of the run and of its subagents
    /// (0 to 2). Providers leave it out for reasoning models, which reject it. Default:
    /// the provider's.
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Offer the `handoff` tool: the model may hand the thread to one of `targets` (chosen
    /// by their descriptions), with a note for the next agent. A valid call ends the run
    /// with [`StopCause::Handoff`](crate::StopCause::Handoff) once the turn's other calls
    /// ran; the host starts the target. A target not listed is refused (the model sees
    /// the allowed ones). See [`crate::handoff`].
    pub fn handoffs(mut self, targets: impl IntoIterator<Item = HandoffTarget>) -> Self {
        self.handoffs.extend(targets);
        self
    }

    /// Offer the `spawn_subagents` tool: the model can start several subagents at once.
    pub fn subagents(mut self, options: SubagentOptions) -> Self {
        self.subagents = Some(options);
        self
    }

    /// Check the configuration and build the loop.
    pub fn build(self) -> Result<AgentLoop> {
        if self.max_turns == 0 {
            return Err(Error::Config("max_turns must be at least 1".into()));
        }
        if self.tool_concurrency == 0 {
            return Err(Error::Config("tool_concurrency must be at least 1".into()));
        }
        if let Some(t) = self.temperature
            && !(t.is_finite() && (0.0..=2.0).contains(&t))
        {
            return Err(Error::Config(format!(
                "temperature must be between 0 and 2, got {t}"
            )));
        }
        let mut tools = BTreeMap::new();
        for tool in self.tools {
            let name = tool.spec().name.clone();
            check_tool_name(&name)?;
            if tools.insert(name.clone(), tool).is_some() {
                return Err(Error::Config(format!("two tools are named `{name}`")));
            }
        }
        let max_output_tokens = self
            .max_output_tokens
            .unwrap_or(self.model.info().max_output_tokens);
        let store: Arc<dyn SessionStore> = self
            .store
            .unwrap_or_else(|| Arc::new(InMemorySessionStore::new()));
        let mut parts = Parts {
            name: self.name,
            model: self.model,
            system_prompt: self.system_prompt,
            specs: Vec::new(),
            tools: BTreeMap::new(),
            hooks: self.hooks,
            layers: self.layers,
            budget: self.budget,
            memory: self.memory,
            store,
            offload: self.offload,
            approver: self.approver,
            cwd: self.cwd,
            max_turns: self.max_turns,
            max_stop_rejections: self.max_stop_rejections,
            tool_concurrency: self.tool_concurrency,
            streaming: self.streaming,
            max_output_tokens,
            hook_timeout: self.hook_timeout,
            tool_deadline: self.tool_deadline,
            is_subagent: false,
            cost_cap: self.cost_cap,
            max_output_continuations: self.max_output_continuations,
            temperature: self.temperature,
            handoffs: Vec::new(),
        };
        if let Some(options) = self.subagents {
            let mut child = parts.with_tools(tools.clone());
            child.is_subagent = true;
            child.max_turns = options.max_turns;
            if let Some(p) = &options.system_prompt {
                child.system_prompt = p.clone();
            }
            child.hooks.extend(options.hooks.iter().cloned());
            let spawn = SpawnSubagents::new(Arc::new(child), options)?;
            let name = spawn.spec().name.clone();
            if tools.insert(name.clone(), Arc::new(spawn)).is_some() {
                return Err(Error::Config(format!("a tool is already named `{name}`")));
            }
        }
        // After the subagent template: children never hand the thread over.
        if !self.handoffs.is_empty() {
            let handoff = HandoffTool::new(self.handoffs.clone())?;
            let name = handoff.spec().name.clone();
            if tools.insert(name.clone(), Arc::new(handoff)).is_some() {
                return Err(Error::Config(format!("a tool is already named `{name}`")));
            }
            parts.handoffs = self.handoffs;
        }
        parts.specs = tools.values().map(|t| t.spec().clone()).collect();
        parts.tools = tools;
        Ok(AgentLoop {
            parts: Arc::new(parts),
        })
    }
}

/// Tool names must be what every provider accepts: 1-64 of `[A-Za-z0-9_-]`.
fn check_tool_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "tool name `{name}` is not 1-64 characters of [A-Za-z0-9_-] (providers reject it)"
        )))
    }
}
