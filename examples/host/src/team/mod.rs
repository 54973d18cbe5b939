//! A team: the agents of an agent home, assembled into `AgentLoop`s over one workspace,
//! with their tools, skills, connectors, hooks, handoffs and agent types.
//!
//! ```no_run
//! use sre_core::Session;
//! use sre_host::home::AgentHome;
//! use sre_host::team::{ModelSource, Team, TeamOptions};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let home = AgentHome::load("examples/team")?;
//! let team = Team::assemble(home, TeamOptions::new("/tmp/ws", ModelSource::Environment)).await?;
//! let thread = team
//!     .run("tls-monitor", &Session::new("t-1"), "Audit api.example.com and pay.example.com")
//!     .await?;
//! println!("{:?}", thread.last().and_then(|o| o.answer.clone()));
//! # Ok(())
//! # }
//! ```

mod assemble;
pub use assemble::on_demand_hooks;
pub mod durable;
mod models;
pub mod modes;
mod thread;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use sre_core::{AgentLoop, Approver, SessionStore};
use sre_hooks::Activation;

pub use durable::DurableApprover;
pub use models::ModelSource;
pub use modes::{AutoApproval, TerminalApprover};
pub use thread::{Hop, MAX_HANDOFFS, ThreadOutcome, handed_task, hop_session_id};

use crate::error::HostError;
use crate::home::AgentHome;

/// How to assemble a team.
#[derive(Clone)]
pub struct TeamOptions {
    /// The workspace: repositories, skills, memory and scratch go there.
    pub workspace: PathBuf,
    /// Where the models come from.
    pub models: ModelSource,
    /// Who answers approval requests (`Review` agents, `ask` hooks). Default: deny.
    pub approver: Arc<dyn Approver>,
    /// Where Python tool environments are cached (default `<workspace>/.sre/cache`).
    pub cache_dir: Option<PathBuf>,
    /// The session store (default: JSONL files in `<workspace>/.sre/sessions`).
    pub store: Option<Arc<dyn SessionStore>>,
    /// Assemble only these agents and the agents they hand off to or use as tools
    /// (transitively); connectors only they use are not started. Default: every agent.
    pub only: Option<Vec<String>>,
    /// Run the agents' commands (shell, python, git, Python tools) in namespaces when the
    /// host allows it (bubblewrap; `sre_tools::namespace`), with no network for `ReadOnly`
    /// agents; otherwise Landlock alone, said in every command's header. Default true.
    pub namespaces: bool,
    /// What the workspace's writable mounts may hold (`sre_tools::quota`). Default 5 GiB
    /// in 200,000 files and folders.
    pub quota: Option<sre_tools::quota::Quota>,
    /// How command hooks run.
    pub hooks: HookSandbox,
    /// Every agent acts in this mode or its own, whichever is stricter (a response plan's
    /// `agentMode`: a plan makes an agent more careful, never bolder).
    pub agent_type: Option<crate::home::AgentType>,
    /// Tools every agent gets besides its own (an eval case's mocked tools); an agent's
    /// own tool of the same name wins.
    pub extra_tools: Vec<Arc<dyn sre_core::Tool>>,
    /// Wraps every model and tool of the team (recording a cassette, replaying one).
    pub wrap: Option<Arc<dyn Wrap>>,
}

/// Wraps a team's models (those of its agents and of its prompt hooks) and tools, as they
/// are assembled.
pub trait Wrap: Send + Sync {
    /// The model to use instead of `model`.
    fn model(&self, model: Arc<dyn sre_core::Model>) -> Arc<dyn sre_core::Model> {
        model
    }
    /// The tool to use instead of `tool`.
    fn tool(&self, tool: Arc<dyn sre_core::Tool>) -> Arc<dyn sre_core::Tool> {
        tool
    }
}

/// How command hooks run: by default confined like the agents' commands (namespaces or
/// Landlock, writes only in the workspace's writable mounts, the host environment scrubbed
/// to an allow-list, no other process visible), with the network (an approval hook may
/// call a service) and the agent home readable (hook scripts live there).
#[derive(Clone, Debug)]
pub struct HookSandbox {
    /// Confine them (default true); false: the host's rights and environment.
    pub confine: bool,
    /// Folders they may write besides the writable mounts (an audit log's).
    pub writable: Vec<PathBuf>,
    /// Host environment variables they get besides the allow-list.
    pub pass_env: Vec<String>,
}

impl Default for HookSandbox {
    fn default() -> Self {
        HookSandbox {
            confine: true,
            writable: Vec::new(),
            pass_env: Vec::new(),
        }
    }
}

impl TeamOptions {
    /// Options with the defaults: deny approvals, caches and sessions in the workspace.
    pub fn new(workspace: impl Into<PathBuf>, models: ModelSource) -> Self {
        TeamOptions {
            workspace: workspace.into(),
            models,
            approver: Arc::new(AutoApproval::Deny),
            cache_dir: None,
            store: None,
            only: None,
            namespaces: true,
            quota: Some(sre_tools::quota::Quota {
                bytes: 5 << 30,
                files: 200_000,
            }),
            hooks: HookSandbox::default(),
            agent_type: None,
            extra_tools: Vec::new(),
            wrap: None,
        }
    }
}

/// The assembled agents of a home.
pub struct Team {
    agents: BTreeMap<String, AgentLoop>,
    store: Arc<dyn SessionStore>,
    activation: Activation,
    /// What each agent had to leave out (a connector that did not connect...), told in
    /// the events of every run it takes part in.
    agent_notes: BTreeMap<String, Vec<String>>,
    /// The names of the home's on-demand hooks.
    on_demand_hooks: BTreeSet<String>,
    warnings: Vec<String>,
    scripted: bool,
    workspace: PathBuf,
    connectors: Option<sre_mcp::McpConnectors>,
    /// The workspace's Markdown memory (lessons and runbooks go there).
    memory: sre_memory::MarkdownMemory,
    /// The model that writes lessons and runbooks (the team's default).
    scribe: Arc<dyn sre_core::Model>,
}

impl Team {
    /// Assemble every agent of `home` (see the module documentation).
    pub async fn assemble(home: AgentHome, options: TeamOptions) -> Result<Team, HostError> {
        assemble::assemble(home, options).await
    }

    /// The agent called `name`.
    pub fn agent(&self, name: &str) -> Option<&AgentLoop> {
        self.agents.get(name)
    }

    /// The agents, by name.
    pub fn agents(&self) -> impl Iterator<Item = (&str, &AgentLoop)> {
        self.agents.iter().map(|(n, a)| (n.as_str(), a))
    }

    /// The session store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// The workspace the team works in.
    pub fn workspace(&self) -> &std::path::Path {
        &self.workspace
    }

    /// What assembly noticed (a connector that did not connect, a tool left out...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// What agent `name` had to leave out when it was assembled.
    pub fn notes_of(&self, name: &str) -> &[String] {
        self.agent_notes
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The names of the home's on-demand hooks, sorted.
    pub fn on_demand_hooks(&self) -> impl Iterator<Item = &str> {
        self.on_demand_hooks.iter().map(String::as_str)
    }

    /// Whether the models answer from a script (offline).
    pub fn is_scripted(&self) -> bool {
        self.scripted
    }

    /// Switch on the on-demand hook `hook` for thread `thread`: its hops, and the agents
    /// they call as tools, see it too (their sessions descend from the thread's). An
    /// unknown name is an error naming the on-demand hooks there are.
    pub fn enable_hook(&self, thread: &str, hook: &str) -> Result<(), HostError> {
        if !self.on_demand_hooks.contains(hook) {
            let known: Vec<&str> = self.on_demand_hooks().collect();
            return Err(HostError::Assembly(format!(
                "no on-demand hook `{hook}` in the home (on-demand hooks: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
        self.activation.enable(thread, hook);
        Ok(())
    }

    /// Switch it off again.
    pub fn disable_hook(&self, thread: &str, hook: &str) {
        self.activation.disable(thread, hook);
    }

    /// What session `session_id` taught, asked of the team's model and filed into the
    /// workspace's memory with the session as source: the root cause with its symptoms in
    /// `incidents`, the steps that worked in `debugging`, the pitfalls in `pitfalls`. The
    /// next investigation sees them in its memory index.
    /// A session learned from already is not learned from again (its entries name it as
    /// their source): nothing is filed twice when a finished run is resumed.
    pub async fn learn(&self, session_id: &str) -> Result<sre_memory::LearnReport, HostError> {
        let topics = sre_memory::LearnTopics::default();
        for topic in [&topics.incidents, &topics.steps, &topics.pitfalls] {
            let learned = self.memory.read(topic).await.is_ok_and(|file| {
                file.document
                    .entries()
                    .any(|e| e.meta.source.as_deref() == Some(session_id))
            });
            if learned {
                return Ok(sre_memory::LearnReport {
                    lessons: sre_memory::Lessons::default(),
                    filed: Vec::new(),
                });
            }
        }
        let said = self.said(session_id).await?;
        Ok(sre_memory::learn_from_session(
            &self.memory,
            self.scribe.as_ref(),
            session_id,
            &said,
            &topics,
        )
        .await?)
    }

    /// Turn session `session_id` into a runbook in the memory's knowledge files
    /// (`knowledge/runbook-<title>-<session>.md`, listed in the index); the file's path.
    pub async fn write_runbook(&self, session_id: &str) -> Result<PathBuf, HostError> {
        let said = self.said(session_id).await?;
        let name = sre_memory::write_runbook(&self.memory, self.scribe.as_ref(), session_id, &said)
            .await?;
        Ok(self.memory.root().join(name))
    }

    /// The conversation of a session that ran here; an error when there is none.
    async fn said(&self, session_id: &str) -> Result<Vec<sre_core::Message>, HostError> {
        let loaded = self.store.load(session_id).await?;
        let said = sre_core::transcript(&loaded.records);
        if said.is_empty() {
            return Err(HostError::Assembly(format!(
                "no session `{session_id}` in this workspace to learn from"
            )));
        }
        Ok(said)
    }

    /// Close the connectors.
    pub async fn shutdown(&self) {
        if let Some(c) = &self.connectors {
            c.shutdown().await;
        }
    }
}
