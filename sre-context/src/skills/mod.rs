//! Skills with progressive disclosure: a static catalog of every skill's name and whole
//! description, a tool that activates a skill (returning its instructions and the files it
//! ships), and gates that refuse a skill's tools until the skill is active in the session.
//!
//! - **Level 1, the catalog** ([`Skills::layer`]): names and whole descriptions (they carry
//!   the trigger phrases and the "do not load for" guidance), sorted by name, capped, and
//!   byte-identical for the life of the [`Skills`]: activations never change it, so the
//!   cached prompt prefix holds.
//! - **Level 2, the body** ([`Skills::activation_tool`], `activate_skill {name}`): the
//!   instructions and the list of the skill's files, as the agent's file tools address them.
//!   At most [`SkillLimits::max_active`] (5) skills are active per session; activating one
//!   more unloads the least recently activated, and the result says which.
//! - **Level 3, the files**: read on demand with the workspace's file tools.
//! - **Gated tools** ([`Skills::gate`], [`Skills::gate_granted`]): a skill's tools stay
//!   declared (the tools array never changes) and are refused, with the call that fixes it,
//!   while none of their skills is active in the calling session.
//!
//! The active set is kept per session and rebuilt from the transcript when the loop loads a
//! session ([`sre_core::Tool::restore`]), so a resumed session (even in a new process) has
//! the skills it had.
//!
//! ```
//! use std::sync::Arc;
//! use sre_context::{Skill, Skills};
//! use sre_core::{AgentLoop, ScriptedModel, Session, Agent};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let skills = Skills::new(vec![
//!     Skill::new("db-pool-triage", "Diagnose connection-pool exhaustion.\nDo not load for disk alerts.",
//!                "1. Read the pool metrics.\n2. Compare with max_size."),
//! ]).unwrap();
//! let model = Arc::new(ScriptedModel::from_yaml(r#"
//! turns:
//!   - tool_calls: [{tool: activate_skill, args: {name: db-pool-triage}}]
//!   - expect: {last_message_contains: ["Compare with max_size"]}
//!     final: "Done."
//! "#).unwrap());
//! let agent = AgentLoop::builder(model)
//!     .system_prompt("You are an SRE agent.")
//!     .layer(skills.layer())
//!     .tool(skills.activation_tool().unwrap())
//!     .build()
//!     .unwrap();
//! agent.run(&Session::new("s"), "Checkout times out.").await.unwrap();
//! assert_eq!(skills.active("s"), ["db-pool-triage"]);
//! # });
//! ```

mod activation;
mod catalog;
mod gate;
mod load;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use sre_core::{ContextLayer, Tool};

use crate::error::ContextError;

pub use activation::ActivateArgs;
pub use catalog::SkillsLayer;
pub use load::{load_skills, parse_skill};

/// Name of the activation tool.
pub const ACTIVATE_SKILL_TOOL: &str = "activate_skill";
/// Name of the catalog layer.
pub const SKILLS_LAYER: &str = "skills";

/// A skill, as the host hands it over (parsed from a `SKILL.md` folder, a
/// `SkillConfiguration` document, or built in code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skill {
    /// Unique name, without whitespace: what `activate_skill` takes.
    pub name: String,
    /// The whole description (what it is for, when to load it, when not to): shown in the
    /// catalog as written, every line.
    pub description: String,
    /// The instructions, returned on activation.
    pub body: String,
    /// The folder of its files (`scripts/`, `references/`, `assets/`), if any.
    pub files: Option<SkillFiles>,
    /// Names of the tools it grants: usable only while it is active (see
    /// [`Skills::gate_granted`]).
    pub tools: Vec<String>,
}

/// Where a skill's files are on the host and where the agent's file tools see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkillFiles {
    /// The folder on the host (listed on activation).
    pub dir: PathBuf,
    /// The same folder as the agent addresses it (its path in the workspace, e.g.
    /// `skills/db-pool-triage`).
    pub mount: String,
}

impl Skill {
    /// A skill without files or tools.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Skill {
            name: name.into(),
            description: description.into(),
            body: body.into(),
            files: None,
            tools: Vec::new(),
        }
    }

    /// Its files are in `dir` on the host, mounted at `mount` in the agent's workspace.
    pub fn files(mut self, dir: impl Into<PathBuf>, mount: impl Into<String>) -> Self {
        self.files = Some(SkillFiles {
            dir: dir.into(),
            mount: mount.into(),
        });
        self
    }

    /// The tools it grants.
    pub fn tools(mut self, tools: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.tools = tools.into_iter().map(Into::into).collect();
        self
    }
}

/// Caps of the catalog, the active set and the file listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SkillLimits {
    /// A description longer than this many bytes is cut in the catalog, with a note.
    /// Default 1536 (the open spec's 1,024 characters, with room for non-ASCII text).
    pub max_description_bytes: usize,
    /// The whole catalog stays within this many bytes: skills are described in name order
    /// while they fit, leaving an eighth of the cap to a closing note that names (then
    /// counts) the others, which can still be activated. Default 16,384 (~4k tokens,
    /// about 2% of a 200k window).
    pub max_catalog_bytes: usize,
    /// Skills active at once per session. Default 5.
    pub max_active: usize,
    /// Files listed on activation (the rest are counted). Default 100.
    pub max_listed_files: usize,
}

impl Default for SkillLimits {
    fn default() -> Self {
        SkillLimits {
            max_description_bytes: 1536,
            max_catalog_bytes: 16_384,
            max_active: 5,
            max_listed_files: 100,
        }
    }
}

/// A set of skills, with the active skills of every session. Cheap to clone: the layer,
/// the activation tool and the gates share one state.
#[derive(Clone, Debug)]
pub struct Skills {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Sorted by name.
    skills: Vec<Skill>,
    limits: SkillLimits,
    catalog: String,
    sessions: Mutex<HashMap<String, SessionSkills>>,
}

/// The skills of one session.
#[derive(Clone, Debug, Default)]
struct SessionSkills {
    /// Oldest activation first.
    active: Vec<String>,
    /// Skills unloaded by the limit (and not activated since), for clearer refusals.
    unloaded: BTreeSet<String>,
}

/// What one activation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Activation {
    /// The skill was already active (now the most recent).
    pub refreshed: bool,
    /// The skill unloaded to make room.
    pub unloaded: Option<String>,
    /// The active skills afterwards, oldest first.
    pub active: Vec<String>,
}

impl Skills {
    /// A set with the default [`SkillLimits`].
    ///
    /// Errors (naming the skill's index and field) on an empty name, a name with
    /// whitespace, a name given twice and an empty description.
    pub fn new(skills: Vec<Skill>) -> Result<Self, ContextError> {
        Skills::with_limits(skills, SkillLimits::default())
    }

    /// A set with the given limits (`max_active` of at least 1).
    pub fn with_limits(mut skills: Vec<Skill>, limits: SkillLimits) -> Result<Self, ContextError> {
        if limits.max_active == 0 {
            return Err(ContextError::Config(
                "skills: max_active must be at least 1".into(),
            ));
        }
        let invalid = |i: usize, field: &str, message: String| ContextError::Invalid {
            file: "<skills>".into(),
            path: format!("skills[{i}].{field}"),
            message,
        };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, s) in skills.iter().enumerate() {
            if s.name.is_empty() {
                return Err(invalid(i, "name", "a skill needs a name".into()));
            }
            if s.name.contains(char::is_whitespace) {
                return Err(invalid(
                    i,
                    "name",
                    format!("skill name `{}` contains whitespace", s.name),
                ));
            }
            if s.description.trim().is_empty() {
                return Err(invalid(
                    i,
                    "description",
                    format!("skill `{}` has no description", s.name),
                ));
            }
            if let Some(first) = seen.insert(&s.name, i) {
                return Err(invalid(
                    i,
                    "name",
                    format!("skill `{}` is also skills[{first}]", s.name),
                ));
            }
        }
        skills.sort_by(|a, b| a.name.cmp(&b.name));
        let catalog = catalog::render(&skills, &limits);
        Ok(Skills {
            inner: Arc::new(Inner {
                skills,
                limits,
                catalog,
                sessions: Mutex::default(),
            }),
        })
    }

    /// The skills, sorted by name.
    pub fn skills(&self) -> &[Skill] {
        &self.inner.skills
    }

    /// The skill called `name`.
    pub fn get(&self, name: &str) -> Option<&Skill> {
        let skills = &self.inner.skills;
        skills
            .binary_search_by(|s| s.name.as_str().cmp(name))
            .ok()
            .and_then(|i| skills.get(i))
    }

    /// The limits in force.
    pub fn limits(&self) -> SkillLimits {
        self.inner.limits
    }

    /// The catalog text the layer renders (empty when there are no skills).
    pub fn catalog(&self) -> &str {
        &self.inner.catalog
    }

    /// The static catalog layer (`skills`).
    pub fn layer(&self) -> Arc<dyn ContextLayer> {
        Arc::new(SkillsLayer::new(self.clone()))
    }

    /// The `activate_skill` tool.
    pub fn activation_tool(&self) -> sre_core::Result<Arc<dyn Tool>> {
        activation::tool(self.clone())
    }

    /// `tool`, refused while `skill` is not active in the calling session. Its spec and
    /// annotations are unchanged. Errors if `skill` is not in the set.
    pub fn gate(&self, tool: Arc<dyn Tool>, skill: &str) -> Result<Arc<dyn Tool>, ContextError> {
        if self.get(skill).is_none() {
            return Err(ContextError::Config(format!(
                "cannot gate `{}` by skill `{skill}`: no such skill{}",
                tool.spec().name,
                activation::suggest(self, skill)
            )));
        }
        Ok(gate::wrap(self.clone(), tool, vec![skill.to_string()]))
    }

    /// Gate every tool that some skill lists in its `tools` by the skills that grant it
    /// (any one of them active lets it run); the other tools are returned unchanged, in
    /// order. Pass only the tools the agent gets through skills: a tool the agent has in
    /// its own right should not be gated because a skill also names it.
    pub fn gate_granted(
        &self,
        tools: impl IntoIterator<Item = Arc<dyn Tool>>,
    ) -> Vec<Arc<dyn Tool>> {
        tools
            .into_iter()
            .map(|tool| {
                let name = tool.spec().name.as_str();
                let owners: Vec<String> = self
                    .inner
                    .skills
                    .iter()
                    .filter(|s| s.tools.iter().any(|t| t == name))
                    .map(|s| s.name.clone())
                    .collect();
                if owners.is_empty() {
                    tool
                } else {
                    gate::wrap(self.clone(), tool, owners)
                }
            })
            .collect()
    }

    /// The skills active in `session_id`, least recently activated first.
    pub fn active(&self, session_id: &str) -> Vec<String> {
        self.sessions()
            .get(session_id)
            .map(|s| s.active.clone())
            .unwrap_or_default()
    }

    /// Whether `skill` is active in `session_id`.
    pub fn is_active(&self, session_id: &str, skill: &str) -> bool {
        self.sessions()
            .get(session_id)
            .is_some_and(|s| s.active.iter().any(|a| a == skill))
    }

    /// Drop `session_id`'s active skills (a long-lived host calls this when a thread closes).
    pub fn forget(&self, session_id: &str) {
        self.sessions().remove(session_id);
    }

    /// Make `name` (a known skill) the most recently activated skill of `session_id`,
    /// unloading the least recently activated one beyond the limit.
    pub(crate) fn activate(&self, session_id: &str, name: &str) -> Activation {
        let max = self.inner.limits.max_active;
        let mut sessions = self.sessions();
        let state = sessions.entry(session_id.to_string()).or_default();
        let before = state.active.len();
        state.active.retain(|a| a != name);
        let refreshed = state.active.len() < before;
        state.active.push(name.to_string());
        state.unloaded.remove(name);
        let unloaded = if state.active.len() > max {
            let oldest = state.active.remove(0);
            state.unloaded.insert(oldest.clone());
            Some(oldest)
        } else {
            None
        };
        Activation {
            refreshed,
            unloaded,
            active: state.active.clone(),
        }
    }

    /// Whether `skill` was unloaded by the limit in `session_id` (and not activated since).
    pub(crate) fn was_unloaded(&self, session_id: &str, skill: &str) -> bool {
        self.sessions()
            .get(session_id)
            .is_some_and(|s| s.unloaded.contains(skill))
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, SessionSkills>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}
