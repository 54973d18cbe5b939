//! Hook definitions as plain data ([`HookSpec`]) and how they become hooks
//! ([`HookSpec::build`] with a [`BuildContext`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sre_core::{Hook, HookAction, HookDecision, HookEvent, Model};

use crate::allowlist::{CommandAllowlist, ShellPolicy};
use crate::command::CommandHook;
use crate::error::HookError;
use crate::matcher::{
    Activation, ActivationMode, HookFilter, HookFormat, ToolAliases, ToolMatcher,
};
use crate::prompt::PromptHook;

/// Default timeout of command and prompt hooks, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u32 = 30;
/// Allowed timeouts, in seconds.
pub const TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 1..=300;
/// Default number of Stop rejections a hook makes before it lets the answer through.
pub const DEFAULT_MAX_REJECTIONS: u32 = 3;
/// Allowed `maxRejections`.
pub const MAX_REJECTIONS_RANGE: std::ops::RangeInclusive<u32> = 1..=25;

/// What a hook's failure (crash, timeout, unparsable output, model error) means: the
/// core's [`sre_core::FailMode`]. Hooks return the failure as `Err` and declare their fail
/// mode ([`sre_core::Hook::fail_mode`]); the agent loop reports every failure as a
/// `HookFailed` event and, for `block`, blocks what the hook guards, however the hook
/// failed (its own timeout, a crash, or the loop's hook timeout).
pub use sre_core::FailMode;

/// What the hook runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HookKind {
    /// A command line (an executable path, or a shell command run with `/bin/sh -c`).
    Command {
        /// The command.
        command: String,
    },
    /// An inline script body (run with `bash`, or with the interpreter of its `#!` line).
    Script {
        /// The script.
        script: String,
    },
    /// A prompt for a judge model (`$ARGUMENTS` is replaced by the JSON context).
    Prompt {
        /// The prompt template.
        prompt: String,
    },
    /// An in-process shell command allowlist ([`CommandAllowlist`]).
    Allowlist(AllowlistSpec),
}

/// The configuration of a [`CommandAllowlist`] hook (`type: allowlist`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AllowlistSpec {
    /// Allowed command prefixes (`kubectl get`, `psql -c SELECT*`).
    pub allow: Vec<String>,
    /// Variables that may be assigned (`allowEnv`).
    pub allow_env: Vec<String>,
    /// Whether `sudo` may run an allowlisted command (`allowSudo`).
    pub allow_sudo: bool,
    /// The tool-input field holding the command line (`inputField`, default `command`).
    pub input_field: Option<String>,
}

impl AllowlistSpec {
    /// The policy it describes.
    pub fn policy(&self) -> Result<ShellPolicy, HookError> {
        Ok(ShellPolicy::new(&self.allow)?
            .allow_env(self.allow_env.iter().cloned())
            .allow_sudo(self.allow_sudo))
    }
}

/// One hook definition, as loaded from YAML agent definitions or Claude Code settings.
/// Both formats load to the same `HookSpec`s, so they can be compared.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HookSpec {
    /// Name (explicit, or derived from event, kind and body).
    pub name: String,
    /// The event.
    pub event: HookEvent,
    /// Tool-name regex (`None` = every tool).
    pub matcher: Option<String>,
    /// What it runs.
    pub kind: HookKind,
    /// Timeout in seconds (1 to 300).
    pub timeout_secs: u32,
    /// What a failure means.
    pub fail_mode: FailMode,
    /// Stop rejections before the hook lets the answer through (1 to 25).
    pub max_rejections: u32,
    /// Always, or on demand.
    pub activation: ActivationMode,
    /// The plugin folder the hook comes from ([`HookConfig::from_plugin_dir`]): command
    /// hooks get it as `CLAUDE_PLUGIN_ROOT`.
    ///
    /// [`HookConfig::from_plugin_dir`]: crate::HookConfig::from_plugin_dir
    pub plugin_root: Option<PathBuf>,
    /// Where the definition comes from, which decides what `PostToolUse` means: YAML agent
    /// definitions load as [`HookFormat::AgentYaml`] (failed calls included), Claude Code
    /// settings as [`HookFormat::ClaudeCode`] (the default).
    pub format: HookFormat,
}

impl HookSpec {
    /// A spec with defaults (timeout 30 s, failMode allow, 3 rejections, always active) and
    /// a name derived from its content.
    pub fn new(event: HookEvent, matcher: Option<String>, kind: HookKind) -> Self {
        let matcher = matcher.filter(|m| !matches!(m.trim(), "" | "*"));
        let name = default_name(event, matcher.as_deref(), &kind);
        HookSpec {
            name,
            event,
            matcher,
            kind,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            fail_mode: FailMode::Allow,
            max_rejections: DEFAULT_MAX_REJECTIONS,
            activation: ActivationMode::Always,
            plugin_root: None,
            format: HookFormat::ClaudeCode,
        }
    }

    /// The timeout as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_secs))
    }

    /// The filter of the hook: name, event, matcher (with `ctx.tool_aliases`), activation
    /// (through `ctx.activation`) and format.
    pub fn filter(&self, ctx: &BuildContext) -> Result<HookFilter, HookError> {
        let mut matcher = ToolMatcher::new(self.matcher.as_deref()).map_err(|e| {
            HookError::config(
                format!("hook `{}`: matcher", self.name),
                format!("invalid regex: {e}"),
            )
        })?;
        if !ctx.tool_aliases.is_empty() {
            matcher = matcher.with_aliases(Arc::new(ctx.tool_aliases.clone()));
        }
        let filter = HookFilter::new(self.name.clone(), [self.event], matcher).format(self.format);
        Ok(match self.activation {
            ActivationMode::Always => filter,
            ActivationMode::OnDemand => filter.on_demand(&ctx.activation),
        })
    }

    /// Build the hook. Prompt hooks need `ctx.model`.
    pub fn build(&self, ctx: &BuildContext) -> Result<Arc<dyn Hook>, HookError> {
        if !TIMEOUT_RANGE.contains(&self.timeout_secs) {
            return Err(HookError::config(
                format!("hook `{}`: timeout", self.name),
                format!(
                    "must be between 1 and 300 seconds, got {}",
                    self.timeout_secs
                ),
            ));
        }
        if !MAX_REJECTIONS_RANGE.contains(&self.max_rejections) {
            return Err(HookError::config(
                format!("hook `{}`: maxRejections", self.name),
                format!("must be between 1 and 25, got {}", self.max_rejections),
            ));
        }
        match &self.kind {
            HookKind::Command { .. } | HookKind::Script { .. } => {
                Ok(Arc::new(CommandHook::from_spec(self, ctx)?))
            }
            HookKind::Prompt { prompt } => {
                let Some(model) = ctx.model.clone() else {
                    return Err(HookError::config(
                        format!("hook `{}`", self.name),
                        "prompt hooks need a model: set BuildContext.model",
                    ));
                };
                Ok(Arc::new(
                    PromptHook::new(self.filter(ctx)?, prompt.clone(), model)
                        .timeout(self.timeout())
                        .fail_mode(self.fail_mode)
                        .max_rejections(self.max_rejections),
                ))
            }
            HookKind::Allowlist(spec) => {
                if self.event != HookEvent::PreToolUse {
                    return Err(HookError::config(
                        format!("hook `{}`: event", self.name),
                        format!("an allowlist hook runs at PreToolUse, not {}", self.event),
                    ));
                }
                let hook = CommandAllowlist::with_filter(self.filter(ctx)?, spec.policy()?);
                Ok(Arc::new(match &spec.input_field {
                    Some(field) => hook.input_field(field.clone()),
                    None => hook,
                }))
            }
        }
    }
}

/// What building hooks needs from the host.
#[derive(Clone, Default)]
pub struct BuildContext {
    /// The judge model of prompt hooks.
    pub model: Option<Arc<dyn Model>>,
    /// Working directory of command hooks when the hook input has no `cwd` (the workspace
    /// root); relative command paths resolve against it. Default: the process's.
    pub cwd: Option<PathBuf>,
    /// The switchboard of on-demand hooks.
    pub activation: Activation,
    /// Other names of our tools that matchers may use (our name -> names), e.g.
    /// [`default_tool_aliases`](crate::default_tool_aliases): a hook handles a tool event
    /// when its matcher matches the tool's name or one of its aliases. Default: none.
    pub tool_aliases: ToolAliases,
    /// Confines command hooks' processes (see [`crate::CommandHook::confine`]). Default:
    /// none, they run with the host's rights, as Claude Code runs them.
    pub confine: Option<Arc<dyn sre_core::process::Confine>>,
}

impl std::fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext")
            .field("model", &self.model.as_ref().map(|m| m.info().name.clone()))
            .field("cwd", &self.cwd)
            .field("tool_aliases", &self.tool_aliases)
            .field("confine", &self.confine)
            .finish_non_exhaustive()
    }
}

fn default_name(event: HookEvent, matcher: Option<&str>, kind: &HookKind) -> String {
    use sha2::{Digest, Sha256};
    let joined;
    let (k, body) = match kind {
        HookKind::Command { command } => ("command", command),
        HookKind::Script { script } => ("script", script),
        HookKind::Prompt { prompt } => ("prompt", prompt),
        HookKind::Allowlist(spec) => {
            joined = spec.allow.join("\n");
            ("allowlist", &joined)
        }
    };
    let mut h = Sha256::new();
    h.update(event.as_str());
    h.update([0]);
    h.update(matcher.unwrap_or("*"));
    h.update([0]);
    h.update(k);
    h.update([0]);
    h.update(body);
    let digest = h.finalize();
    let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{event}-{k}-{short}")
}

/// The common end of every configurable hook: the `maxRejections` limit of a Stop hook.
/// A failure is returned as `Err` (the loop applies the hook's fail mode).
///
/// Once `stop_rejection_count` reached `max_rejections`, a Stop block becomes a pass and a
/// failure becomes a pass too (both noted in `system_message`): the hook is done judging.
pub(crate) fn finish(
    name: &str,
    input: &sre_core::HookInput,
    max_rejections: u32,
    result: Result<HookDecision, HookError>,
) -> Result<HookDecision, sre_core::Error> {
    let limit_reached = crate::matcher::stop_rejections(input).is_some_and(|n| n >= max_rejections);
    match result {
        Ok(mut d) if limit_reached => {
            if let HookAction::Block { reason } = &d.action {
                d.system_message = Some(format!(
                    "hook `{name}` would reject the answer again ({reason}) but reached its maxRejections ({max_rejections})"
                ));
                d.action = HookAction::Continue;
            }
            Ok(d)
        }
        Ok(d) => Ok(d),
        Err(e) if limit_reached => Ok(HookDecision {
            system_message: Some(format!(
                "hook `{name}` failed ({e}) after reaching its maxRejections ({max_rejections}); the answer goes through"
            )),
            ..HookDecision::allow()
        }),
        Err(e) => Err(e.into()),
    }
}
