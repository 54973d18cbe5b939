//! Scopes: global hooks and per-agent hooks.

use std::collections::BTreeMap;
use std::sync::Arc;

use sre_core::Hook;

use crate::config::HookConfig;
use crate::error::HookError;
use crate::spec::BuildContext;

/// Built hooks by scope. [`HookRegistry::hooks_for`] gives an agent its hooks: the global
/// ones first, then its own, which is the order the loop merges decisions in. A subagent's
/// own hooks go in `SubagentOptions::hooks`, which sre-core appends after its parent's.
///
/// ```
/// use std::sync::Arc;
/// use sre_core::{HookDecision, HookEvent};
/// use sre_hooks::{FnHook, HookRegistry};
///
/// let mut registry = HookRegistry::new();
/// registry.add_global(FnHook::new("g", [HookEvent::Stop], "*", |_| async { Ok(HookDecision::allow()) }).unwrap().into_arc());
/// registry.add_agent("db-agent", FnHook::new("a", [HookEvent::Stop], "*", |_| async { Ok(HookDecision::allow()) }).unwrap().into_arc());
/// let names: Vec<String> = registry.hooks_for("db-agent").iter().map(|h| h.name().to_string()).collect();
/// assert_eq!(names, ["g", "a"]);
/// assert_eq!(registry.hooks_for("other").len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct HookRegistry {
    global: Vec<Arc<dyn Hook>>,
    agents: BTreeMap<String, Vec<Arc<dyn Hook>>>,
}

impl HookRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Build every hook of `config`.
    pub fn from_config(config: &HookConfig, ctx: &BuildContext) -> Result<Self, HookError> {
        let mut registry = HookRegistry::new();
        for (agent, spec) in config.iter() {
            let hook = spec.build(ctx)?;
            match agent {
                None => registry.add_global(hook),
                Some(agent) => registry.add_agent(agent, hook),
            }
        }
        Ok(registry)
    }

    /// Add a hook for every agent.
    pub fn add_global(&mut self, hook: Arc<dyn Hook>) {
        self.global.push(hook);
    }

    /// Add a hook for one agent.
    pub fn add_agent(&mut self, agent: &str, hook: Arc<dyn Hook>) {
        self.agents.entry(agent.to_string()).or_default().push(hook);
    }

    /// The global hooks.
    pub fn global(&self) -> &[Arc<dyn Hook>] {
        &self.global
    }

    /// The hooks of `agent` only (without the global ones).
    pub fn agent(&self, agent: &str) -> &[Arc<dyn Hook>] {
        self.agents
            .get(agent)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Agents with hooks of their own.
    pub fn agents(&self) -> impl Iterator<Item = &str> {
        self.agents.keys().map(String::as_str)
    }

    /// Global hooks, then `agent`'s.
    pub fn hooks_for(&self, agent: &str) -> Vec<Arc<dyn Hook>> {
        self.global
            .iter()
            .chain(self.agent(agent))
            .cloned()
            .collect()
    }
}

impl std::fmt::Debug for HookRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names =
            |hs: &[Arc<dyn Hook>]| hs.iter().map(|h| h.name().to_string()).collect::<Vec<_>>();
        f.debug_struct("HookRegistry")
            .field("global", &names(&self.global))
            .field(
                "agents",
                &self
                    .agents
                    .iter()
                    .map(|(a, hs)| (a.clone(), names(hs)))
                    .collect::<BTreeMap<_, _>>(),
            )
            .finish()
    }
}
