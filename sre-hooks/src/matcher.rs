//! Which inputs a hook handles: its events, a tool-name matcher, and per-session activation.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use regex::Regex;
use sre_core::{HookEvent, HookInput, HookPayload};

/// A regex over tool names, matched against the whole name (`^(?:...)$`).
///
/// `*`, an empty pattern, or no pattern match every tool. As in Claude Code, the matcher
/// applies to the tool name for tool events (`PreToolUse`, `PostToolUse`,
/// `PostToolUseFailure`), to the `source` for `SessionStart` (`startup`, `resume`) and to the
/// `trigger` for `PreCompact` (`auto`, `manual`); other events always match.
#[derive(Clone, Debug)]
pub struct ToolMatcher {
    source: Option<String>,
    re: Option<Regex>,
}

impl ToolMatcher {
    /// A matcher that matches every tool.
    pub fn all() -> Self {
        ToolMatcher {
            source: None,
            re: None,
        }
    }

    /// Compile `pattern` (`None`, `""` and `"*"` mean every tool).
    pub fn new(pattern: Option<&str>) -> Result<Self, regex::Error> {
        match pattern.map(str::trim) {
            None | Some("") | Some("*") => Ok(Self::all()),
            Some(p) => {
                let re = Regex::new(&format!("^(?:{p})$"))?;
                Ok(ToolMatcher {
                    source: Some(p.to_string()),
                    re: Some(re),
                })
            }
        }
    }

    /// The pattern as written, `None` for "every tool".
    pub fn pattern(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// Whether `tool` matches (`None`, a non-tool event, always matches).
    pub fn matches(&self, tool: Option<&str>) -> bool {
        match (&self.re, tool) {
            (Some(re), Some(tool)) => re.is_match(tool),
            _ => true,
        }
    }
}

/// When a hook runs: always, or only in sessions where it was switched on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ActivationMode {
    /// Runs in every session.
    #[default]
    Always,
    /// Runs only in sessions where [`Activation::enable`] switched it on.
    OnDemand,
}

impl ActivationMode {
    /// Parse `always` or `on-demand` (also `on_demand`, `onDemand`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "always" => Some(ActivationMode::Always),
            "on-demand" | "on_demand" | "onDemand" | "ondemand" => Some(ActivationMode::OnDemand),
            _ => None,
        }
    }

    /// The name in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivationMode::Always => "always",
            ActivationMode::OnDemand => "on-demand",
        }
    }
}

/// A shared switchboard of on-demand hooks, per session (thread).
///
/// Cloning shares the state: give one handle to the hooks (through
/// [`BuildContext`](crate::BuildContext)) and keep another in the host (e.g. behind a
/// `/enable-hook` command).
///
/// ```
/// let activation = sre_hooks::Activation::new();
/// activation.enable("thread-1", "sql-guard");
/// assert_eq!(activation.active("thread-1"), vec!["sql-guard".to_string()]);
/// assert!(activation.active("thread-2").is_empty());
/// activation.disable("thread-1", "sql-guard");
/// assert!(!activation.is_active("thread-1", "sql-guard"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Activation {
    inner: Arc<RwLock<HashMap<String, BTreeSet<String>>>>,
}

impl Activation {
    /// An empty switchboard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Switch `hook` on in `session`.
    pub fn enable(&self, session_id: &str, hook: &str) {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        map.entry(session_id.to_string())
            .or_default()
            .insert(hook.to_string());
    }

    /// Switch `hook` off in `session`.
    pub fn disable(&self, session_id: &str, hook: &str) {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = map.get_mut(session_id) {
            set.remove(hook);
            if set.is_empty() {
                map.remove(session_id);
            }
        }
    }

    /// Forget every switch of `session` (e.g. when the thread is closed).
    pub fn clear(&self, session_id: &str) {
        self.inner
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(session_id);
    }

    /// The on-demand hooks switched on in `session`, sorted.
    pub fn active(&self, session_id: &str) -> Vec<String> {
        let map = self.inner.read().unwrap_or_else(|p| p.into_inner());
        map.get(session_id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether `hook` is switched on in `session`.
    pub fn is_active(&self, session_id: &str, hook: &str) -> bool {
        let map = self.inner.read().unwrap_or_else(|p| p.into_inner());
        map.get(session_id).is_some_and(|s| s.contains(hook))
    }
}

/// The cheap part of every hook of this crate: name, events, matcher and activation.
/// [`HookFilter::handles`] is what `Hook::handles` returns.
#[derive(Clone, Debug)]
pub struct HookFilter {
    /// Hook name (also the key for [`Activation`]).
    pub name: String,
    /// Events handled.
    pub events: Vec<HookEvent>,
    /// Tool-name matcher (tool events only).
    pub matcher: ToolMatcher,
    /// Always, or on demand.
    pub mode: ActivationMode,
    /// The switchboard consulted for on-demand hooks.
    pub activation: Activation,
}

impl HookFilter {
    /// A filter for `events` and `matcher`, always active.
    pub fn new(
        name: impl Into<String>,
        events: impl IntoIterator<Item = HookEvent>,
        matcher: ToolMatcher,
    ) -> Self {
        HookFilter {
            name: name.into(),
            events: events.into_iter().collect(),
            matcher,
            mode: ActivationMode::Always,
            activation: Activation::default(),
        }
    }

    /// Make the hook on-demand, switched through `activation`.
    pub fn on_demand(mut self, activation: &Activation) -> Self {
        self.mode = ActivationMode::OnDemand;
        self.activation = activation.clone();
        self
    }

    /// Event + matcher + activation.
    pub fn handles(&self, input: &HookInput) -> bool {
        self.events.contains(&input.event())
            && self.matcher.matches(matcher_subject(input))
            && (self.mode == ActivationMode::Always
                || self.activation.is_active(&input.session_id, &self.name))
    }
}

/// What a matcher is matched against: the tool name, the `SessionStart` source or the
/// `PreCompact` trigger (`None`: the event has no matcher subject, every matcher matches).
pub fn matcher_subject(input: &HookInput) -> Option<&str> {
    match &input.payload {
        HookPayload::SessionStart { source } => Some(source),
        HookPayload::PreCompact { trigger } => Some(trigger),
        _ => input.tool_name(),
    }
}

/// How many Stop rejections already happened, for Stop/SubagentStop inputs.
pub(crate) fn stop_rejections(input: &HookInput) -> Option<u32> {
    match &input.payload {
        HookPayload::Stop {
            rejection_count, ..
        } => Some(*rejection_count),
        _ => None,
    }
}
