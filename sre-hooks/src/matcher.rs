//! Which inputs a hook handles: its events, a tool-name matcher, and per-session activation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use regex::Regex;
use serde_json::Value;
use sre_core::{HookEvent, HookInput, HookPayload};

/// Tool names hook matchers may use for our tools: our name -> the names other harnesses
/// give the same tool (see [`default_tool_aliases`]).
pub type ToolAliases = BTreeMap<String, Vec<String>>;

/// The names Claude Code and the Azure SRE Agent give our built-in tools, so hook files
/// written for those harnesses govern ours unmodified: `shell` is `Bash` and
/// `ExecuteShellCommand`, `python` is `ExecutePythonCode`, `read_file` is `Read`,
/// `write_file` is `Write`, `edit_file` is `Edit`, `grep` is `Grep`, `find` is `Glob`,
/// `list` is `LS`. Give it (or your own table) as
/// [`BuildContext::tool_aliases`](crate::BuildContext::tool_aliases).
///
/// ```
/// let aliases = sre_hooks::default_tool_aliases();
/// assert_eq!(aliases["shell"], ["Bash", "ExecuteShellCommand"]);
/// ```
pub fn default_tool_aliases() -> ToolAliases {
    [
        ("shell", &["Bash", "ExecuteShellCommand"][..]),
        ("python", &["ExecutePythonCode"]),
        ("read_file", &["Read"]),
        ("write_file", &["Write"]),
        ("edit_file", &["Edit"]),
        ("grep", &["Grep"]),
        ("find", &["Glob"]),
        ("list", &["LS"]),
    ]
    .into_iter()
    .map(|(ours, theirs)| {
        (
            ours.to_string(),
            theirs.iter().map(|n| n.to_string()).collect(),
        )
    })
    .collect()
}

/// A regex over tool names, matched against the whole name (`^(?:...)$`).
///
/// `*`, an empty pattern, or no pattern match every tool. As in Claude Code, the matcher
/// applies to the tool name for tool events (`PreToolUse`, `PostToolUse`,
/// `PostToolUseFailure`), to the `source` for `SessionStart` (`startup`, `resume`) and to the
/// `trigger` for `PreCompact` (`auto`, `manual`); other events always match.
///
/// With [`ToolMatcher::with_aliases`], a tool also matches when one of its aliases does
/// (`Bash` matches our `shell`), each name matched whole as usual.
#[derive(Clone, Debug)]
pub struct ToolMatcher {
    source: Option<String>,
    re: Option<Regex>,
    aliases: Option<Arc<ToolAliases>>,
}

impl ToolMatcher {
    /// A matcher that matches every tool.
    pub fn all() -> Self {
        ToolMatcher {
            source: None,
            re: None,
            aliases: None,
        }
    }

    /// Also match a tool by the other names `aliases` gives it (our name -> names a
    /// matcher may use).
    pub fn with_aliases(mut self, aliases: Arc<ToolAliases>) -> Self {
        self.aliases = Some(aliases);
        self
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
                    aliases: None,
                })
            }
        }
    }

    /// The pattern as written, `None` for "every tool".
    pub fn pattern(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// Whether `tool` matches (`None`, a non-tool event, always matches). Aliases are not
    /// consulted: see [`ToolMatcher::matches_tool`].
    pub fn matches(&self, tool: Option<&str>) -> bool {
        match (&self.re, tool) {
            (Some(re), Some(tool)) => re.is_match(tool),
            _ => true,
        }
    }

    /// Whether the tool named `tool` matches, by its name or by one of its aliases.
    pub fn matches_tool(&self, tool: &str) -> bool {
        let Some(re) = &self.re else { return true };
        re.is_match(tool)
            || self
                .aliases
                .as_ref()
                .and_then(|a| a.get(tool))
                .is_some_and(|names| names.iter().any(|n| re.is_match(n)))
    }
}

/// Which hook dialect a hook speaks, by where its definition was loaded from. It decides
/// what `PostToolUse` means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HookFormat {
    /// Claude Code settings JSON and plugins, and hooks built in code: `PostToolUse` runs
    /// after calls that succeeded; failed calls are `PostToolUseFailure`.
    #[default]
    ClaudeCode,
    /// YAML agent definitions (the Azure SRE Agent format, which has no
    /// `PostToolUseFailure`): `PostToolUse` runs after every call, failed ones included,
    /// and the hook is told `"hook_event_name": "PostToolUse"` with `"tool_succeeded":
    /// false`.
    AgentYaml,
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
/// A hook switched on in session `S` is on in every session descended from it too: the
/// sessions whose id is `S--...` (subagents and agents called as tools,
/// `<parent>--<name>-<id>`; handoff hops, `<thread>--handoff<N>-<agent>`), so an audit hook
/// switched on for a thread sees the whole thread.
///
/// Cloning shares the state: give one handle to the hooks (through
/// [`BuildContext`](crate::BuildContext)) and keep another in the host (e.g. behind a
/// `/enable-hook` command).
///
/// ```
/// let activation = sre_hooks::Activation::new();
/// activation.enable("thread-1", "sql-guard");
/// assert_eq!(activation.active("thread-1"), vec!["sql-guard".to_string()]);
/// assert!(activation.is_active("thread-1--handoff1-dba", "sql-guard"));
/// assert!(activation.active("thread-2").is_empty());
/// activation.disable("thread-1", "sql-guard");
/// assert!(!activation.is_active("thread-1--handoff1-dba", "sql-guard"));
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

    /// The on-demand hooks switched on in `session` (or in a session it descends from),
    /// sorted.
    pub fn active(&self, session_id: &str) -> Vec<String> {
        let map = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let mut out = BTreeSet::new();
        for id in lineage(session_id) {
            if let Some(set) = map.get(id) {
                out.extend(set.iter().cloned());
            }
        }
        out.into_iter().collect()
    }

    /// Whether `hook` is switched on in `session` (or in a session it descends from).
    pub fn is_active(&self, session_id: &str, hook: &str) -> bool {
        let map = self.inner.read().unwrap_or_else(|p| p.into_inner());
        lineage(session_id).any(|id| map.get(id).is_some_and(|s| s.contains(hook)))
    }
}

/// `a--b--c`, then its ancestors `a--b` and `a`.
fn lineage(session_id: &str) -> impl Iterator<Item = &str> {
    std::iter::once(session_id).chain(
        session_id
            .match_indices("--")
            .map(move |(i, _)| &session_id[..i])
            .filter(|p| !p.is_empty()),
    )
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
    /// The dialect of the hook (what `PostToolUse` means).
    pub format: HookFormat,
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
            format: HookFormat::ClaudeCode,
        }
    }

    /// Speak `format` (see [`HookFormat`]).
    pub fn format(mut self, format: HookFormat) -> Self {
        self.format = format;
        self
    }

    /// The event of `input` as this hook knows it: a failed call is `PostToolUse` for a
    /// [`HookFormat::AgentYaml`] hook on `PostToolUse` (and not on `PostToolUseFailure`).
    pub fn event(&self, input: &HookInput) -> HookEvent {
        let event = input.event();
        if self.format == HookFormat::AgentYaml
            && event == HookEvent::PostToolUseFailure
            && self.events.contains(&HookEvent::PostToolUse)
            && !self.events.contains(&HookEvent::PostToolUseFailure)
        {
            HookEvent::PostToolUse
        } else {
            event
        }
    }

    /// The JSON context given to the hook ([`HookInput::to_json`]), its
    /// `hook_event_name` the event as this hook knows it ([`HookFilter::event`]).
    pub fn input_json(&self, input: &HookInput) -> Value {
        let mut json = input.to_json();
        let event = self.event(input);
        if event != input.event()
            && let Value::Object(map) = &mut json
        {
            map.insert("hook_event_name".into(), Value::from(event.as_str()));
        }
        json
    }

    /// Make the hook on-demand, switched through `activation`.
    pub fn on_demand(mut self, activation: &Activation) -> Self {
        self.mode = ActivationMode::OnDemand;
        self.activation = activation.clone();
        self
    }

    /// Event + matcher (tool name or alias) + activation.
    pub fn handles(&self, input: &HookInput) -> bool {
        let subject_matches = match input.tool_name() {
            Some(tool) => self.matcher.matches_tool(tool),
            None => self.matcher.matches(matcher_subject(input)),
        };
        self.events.contains(&self.event(input))
            && subject_matches
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
