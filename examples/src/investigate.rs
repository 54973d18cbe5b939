//! The reference investigation, assembled: the sample service as a workspace, every crate
//! of the harness around one agent, and the offline script. The `investigate` binary, its
//! tests and the benches build it from here, so what they run is what a user runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use sre_context::{
    BudgetConfig, KnowledgeMapLayer, PinnedState, RepositoriesLayer, Repository, TokenBudget,
    TopologyLayer,
};
use sre_core::{
    AgentLoop, ContextLayer, JsonlSessionStore, Model, ScriptedModel, SessionStore,
    SubagentOptions, Usage, typed_tool,
};
use sre_hooks::{Activation, BuildContext};
use sre_host::home::{AgentHome, ToolRef, WORKSPACE_TOOLS};
use sre_memory::{MarkdownMemory, RememberTool};
use sre_tools::{MountMode, OffloadConfig, OffloadStore, Workspace};

use crate::sample_service;

/// The offline script: every model answer, written in advance.
pub const SCRIPT: &str = include_str!("../scripts/investigate.yaml");
/// The investigator's name in its agent home.
pub const AGENT: &str = "investigator";
/// The incident.
pub const TASK: &str = "INCIDENT-4711: since about 14:02Z on 2026-11-20, checkout-api answers HTTP 503 to \
                        POST /payments. Find the root cause and tell us what to do.";
/// Session ids of investigations start with this.
pub const SESSION_PREFIX: &str = "incident-4711";
/// Marks a directory as an investigation workspace this program built.
const MARKER: &str = ".sre-investigate";
/// The memory note the agent starts with.
const MEMORY_NOTE: &str = "checkout-api: when POST /payments returns 503, check DB pool saturation \
                           (PoolTimeoutError, waiters) before the database itself.";

/// The agent home the investigator is declared in (`examples/agents`: its definition,
/// prompt, hooks and tools in `investigator.yaml`, its topology in `workspace.yaml`),
/// loaded by the same loader as `sre run`. Override with `SRE_INVESTIGATOR_HOME`.
pub fn agent_home() -> PathBuf {
    std::env::var_os("SRE_INVESTIGATOR_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("agents"))
}

/// Load the investigator's home; every error of the files, with file:line:column.
pub fn load_home() -> Result<AgentHome> {
    let dir = agent_home();
    AgentHome::load(&dir).map_err(|errors| anyhow::anyhow!("{errors}"))
}

/// Where transcripts live inside the workspace.
pub fn sessions_dir(root: &Path) -> PathBuf {
    root.join("scratch/sessions")
}

/// Make `root` an investigation workspace: build the sample service and the memory the
/// first time; reuse it when a previous run built it. A directory with anything else in
/// it is refused (nothing of the user's is overwritten).
pub async fn prepare_workspace(root: &Path) -> Result<()> {
    if root.join(MARKER).exists() {
        return Ok(());
    }
    sample_service::build(root)?;
    let memory = MarkdownMemory::open(root.join("memory"))?;
    memory
        .remember(MEMORY_NOTE, Some("debugging"), "user")
        .await?;
    std::fs::write(root.join(MARKER), "built by `investigate`\n")
        .with_context(|| format!("writing {}", root.join(MARKER).display()))?;
    Ok(())
}

/// The models of a run: the agent's, and the judge of the Stop quality gate.
pub struct Models {
    /// The investigating model.
    pub agent: Arc<dyn Model>,
    /// The Stop hook's judge.
    pub judge: Arc<dyn Model>,
}

impl Models {
    /// The offline script for both (the tools, hooks and files stay real).
    pub fn scripted() -> Result<Self> {
        let scripted: Arc<dyn Model> = Arc::new(ScriptedModel::from_yaml(SCRIPT)?);
        Ok(Models {
            agent: scripted.clone(),
            judge: scripted,
        })
    }

    /// One model for both.
    pub fn same(model: Arc<dyn Model>) -> Self {
        Models {
            agent: model.clone(),
            judge: model,
        }
    }

    /// Count every call at the model itself (agent, subagents, judge, compaction), to check
    /// the ledger against: see [`CallCounter`].
    pub fn counted(self) -> (Self, Arc<CallCounter>) {
        let counter = Arc::new(CallCounter::default());
        let wrap = |m: Arc<dyn Model>| -> Arc<dyn Model> {
            Arc::new(Counted {
                inner: m,
                counter: counter.clone(),
            })
        };
        (
            Models {
                agent: wrap(self.agent),
                judge: wrap(self.judge),
            },
            counter,
        )
    }
}

/// Calls and usage as the model answered them, independent of the ledger.
#[derive(Debug, Default)]
pub struct CallCounter(std::sync::Mutex<(u64, Usage)>);

impl CallCounter {
    /// Calls made and their summed usage.
    pub fn totals(&self) -> (u64, Usage) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, usage: Usage) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        t.0 += 1;
        t.1 += usage;
    }
}

struct Counted {
    inner: Arc<dyn Model>,
    counter: Arc<CallCounter>,
}

#[async_trait::async_trait]
impl Model for Counted {
    fn info(&self) -> &sre_core::ModelInfo {
        self.inner.info()
    }

    async fn complete(
        &self,
        request: &sre_core::ModelRequest,
    ) -> Result<sre_core::ModelResponse, sre_core::ModelError> {
        let response = self.inner.complete(request).await?;
        self.counter.add(response.usage);
        Ok(response)
    }
}

/// The assembled investigator and the parts a host may look at.
pub struct Assembly {
    /// The agent.
    pub agent: AgentLoop,
    /// Its pinned investigation state (per session).
    pub pinned: PinnedState,
    /// Where its transcripts are.
    pub sessions: PathBuf,
}

/// Assemble the investigator over the workspace at `root` (see [`prepare_workspace`]):
/// sre-tools (the workspace and its tools, offload), sre-hooks (the YAML hooks),
/// sre-context (repository, topology and knowledge-map layers, the token budget, pinned
/// state), sre-memory (Markdown memory) and sre-core (the loop, subagents, JSONL sessions).
pub fn assemble(root: &Path, models: Models) -> Result<Assembly> {
    let sessions = sessions_dir(root);
    let store = Arc::new(JsonlSessionStore::new(&sessions)?);
    assemble_with_store(root, models, store, sessions)
}

/// One agent with the workspace's tools: a definition asking for what only the team host
/// assembles (`sre run`) is an error here, never silently dropped.
/// Approvals (a `Review` agent, `ask` hooks) have no approver here and are denied.
fn only_what_investigate_assembles(
    def: &sre_host::home::AgentDef,
    home_skills: bool,
) -> Result<()> {
    let needs_team: Vec<&str> = [
        (!def.handoffs.is_empty(), "handoffs"),
        (def.llm_model_name.is_some(), "llm_model_name"),
        (
            def.enable_skills && def.skills.is_none() && home_skills,
            "enable_skills",
        ),
        (!def.agents_as_tools.is_empty(), "agents_as_tools"),
        (!def.connectors.is_empty(), "mcp_connectors"),
        (!def.mcp_tools.is_empty(), "mcp_tools"),
        (def.skills.as_ref().is_some_and(|s| !s.is_empty()), "skills"),
    ]
    .into_iter()
    .filter_map(|(set, field)| set.then_some(field))
    .collect();
    anyhow::ensure!(
        needs_team.is_empty(),
        "agent `{}` sets {}: investigate assembles one agent with the workspace's tools; \
         run such an agent with `sre run`",
        def.name,
        needs_team.join(", ")
    );
    Ok(())
}

/// [`assemble`] with another session store (e.g. in memory, to measure the other parts).
pub fn assemble_with_store(
    root: &Path,
    models: Models,
    store: Arc<dyn SessionStore>,
    sessions: PathBuf,
) -> Result<Assembly> {
    let home = load_home()?;
    let def = home
        .agent(AGENT)
        .with_context(|| format!("no agent `{AGENT}` in {}", agent_home().display()))?;
    only_what_investigate_assembles(def, !home.skills.is_empty())?;
    let memory = MarkdownMemory::open(root.join("memory"))?;
    let workspace = Workspace::builder(root)
        .mount("repos", MountMode::ReadOnly)
        .mount("logs", MountMode::ReadOnly)
        .mount("deploy", MountMode::ReadOnly)
        .mount("memory", MountMode::ReadOnly)
        .mount("scratch", MountMode::Writable)
        .build()?;
    // Context budget and the pinned investigation state (never pruned or summarised away).
    let pinned = PinnedState::new();
    let budget = TokenBudget::new(BudgetConfig::default())?.with_pinned(pinned.clone());
    // Governance hooks from the agent definition (and any global hooks of its home).
    let hooks = home.hooks_for(AGENT).build(&BuildContext {
        model: Some(models.judge),
        cwd: Some(root.to_path_buf()),
        activation: Activation::new(),
        tool_aliases: sre_hooks::default_tool_aliases(),
        // Command hooks run confined like the agent's own commands.
        confine: Some(Arc::new(sre_tools::Executor::new(
            workspace.clone(),
            sre_tools::ExecConfig::default(),
        ))),
    })?;
    // The tools its definition lists, by name (an absent list means the workspace tools).
    let listed: Vec<String> = match &def.tools {
        Some(tools) => tools.iter().map(ToolRef::name).collect(),
        None => WORKSPACE_TOOLS.iter().map(|t| t.to_string()).collect(),
    };
    let topology = match &home.world.topology {
        Some(path) => vec![Arc::new(TopologyLayer::from_file(path)?) as Arc<dyn ContextLayer>],
        None => Vec::new(),
    };
    let mut tools = workspace.tools()?;
    tools.push(typed_tool(RememberTool::new(memory.clone()))?);
    tools.push(pinned.tool()?);
    if let Some(unknown) = listed
        .iter()
        .find(|name| !tools.iter().any(|t| &t.spec().name == *name))
    {
        anyhow::bail!(
            "agent `{AGENT}` in {} lists tool `{unknown}`, which investigate does not offer \
             (it offers {})",
            agent_home().display(),
            tools
                .iter()
                .map(|t| t.spec().name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let tools: Vec<_> = tools
        .into_iter()
        .filter(|t| listed.contains(&t.spec().name))
        .collect();
    let mut builder = AgentLoop::builder(models.agent)
        .name(&def.name)
        .system_prompt(&def.system_prompt)
        .layer(Arc::new(RepositoriesLayer::new([Repository::new(
            "checkout-api",
            root.join(sample_service::REPO),
        )
        .mount(sample_service::REPO)])))
        .layers(topology)
        .layer(Arc::new(KnowledgeMapLayer::new(Arc::new(memory.clone()))))
        .layer(pinned.layer())
        .tools(tools)
        .memory(Arc::new(memory))
        .budget(Arc::new(budget))
        .subagents(SubagentOptions {
            max_turns: 8,
            ..SubagentOptions::default()
        })
        .hooks(hooks.hooks_for(AGENT))
        .hooks(sre_host::team::modes::guards(def.agent_type))
        .offload(Arc::new(OffloadStore::new(
            workspace.clone(),
            OffloadConfig::default(),
        )?))
        .session_store(store)
        .cwd(root.display().to_string())
        .max_turns(30);
    if !def.allow_parallel_tool_calls {
        builder = builder.tool_concurrency(1);
    }
    if let Some(t) = def.temperature {
        builder = builder.temperature(t);
    }
    let agent = builder.build()?;
    Ok(Assembly {
        agent,
        pinned,
        sessions,
    })
}

/// A session id not used yet in `sessions`: `incident-4711`, then `incident-4711-2`, ...
pub fn new_session_id(sessions: &Path) -> String {
    let taken = |id: &str| sessions.join(format!("{id}.jsonl")).exists();
    if !taken(SESSION_PREFIX) {
        return SESSION_PREFIX.to_string();
    }
    (2..)
        .map(|n| format!("{SESSION_PREFIX}-{n}"))
        .find(|id| !taken(id))
        .unwrap_or_else(|| SESSION_PREFIX.to_string())
}

/// The most recently written top-level investigation session in `sessions` (subagent
/// sessions, `<parent>--<name>-...`, excluded).
pub fn latest_session(sessions: &Path) -> Option<String> {
    let entries = std::fs::read_dir(sessions).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_suffix(".jsonl")?.to_string();
            if !id.starts_with(SESSION_PREFIX) || id.contains("--") {
                return None;
            }
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, id))
        })
        .max()
        .map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_agent_loads_and_team_fields_are_refused() {
        let home = load_home().unwrap_or_else(|e| panic!("{e:#}"));
        let def = home.agent(AGENT).unwrap_or_else(|| panic!("no {AGENT}"));
        only_what_investigate_assembles(def, false).unwrap_or_else(|e| panic!("{e:#}"));
        let mut asks_more = def.clone();
        asks_more.handoffs = vec!["other".into()];
        asks_more.skills = Some(vec!["tls-audit".into()]);
        let err = only_what_investigate_assembles(&asks_more, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sets handoffs, skills"), "{err}");
    }
}
