//! # sre-hooks
//!
//! Governance hooks for sre-harness agents: how operators keep an autonomous agent safe,
//! auditable and rigorous without writing middleware. Every hook here implements
//! [`sre_core::Hook`] and plugs into [`sre_core::AgentLoop`] unchanged.
//!
//! | kind | type | what it runs |
//! |---|---|---|
//! | command | [`CommandHook`] | an executable, a shell command or an inline script, Claude Code protocol ([`command`], [`output`]) |
//! | prompt | [`PromptHook`] | a judge [`Model`](sre_core::Model) answering `{"ok": ...}` ([`prompt`]) |
//! | in-process | [`FnHook`] | an async Rust closure ([`in_process`]) |
//! | allowlist | [`CommandAllowlist`] | the reference safety hook: a shell-aware command allowlist ([`allowlist`], on `sre_core::shell`) |
//! | audit | [`AuditHook`] | a keyed (HMAC) chained JSON-lines audit trail with an external anchor ([`audit`]) |
//!
//! Hooks are defined as plain data ([`HookSpec`]), loaded from YAML agent definitions or
//! Claude Code settings JSON ([`HookConfig`]; each spec keeps its [`HookFormat`], which
//! decides what `PostToolUse` means), built with a [`BuildContext`] (judge model, working
//! directory, [`Activation`] switchboard, tool aliases such as [`default_tool_aliases`], so
//! `matcher: Bash` governs our `shell`) into a [`HookRegistry`] of global and per-agent
//! hooks.
//!
//! ## Failures
//! A failing hook (missing file, crash, timeout, unparsable output, model error) follows
//! its [`FailMode`]: `allow` returns `Err` from `Hook::run`, which the loop reports as a
//! `HookFailed` event and otherwise ignores; `block` returns a `Block` decision naming the
//! failure. Failures are never dropped silently.
//!
//! ## Example
//! ```
//! use std::sync::Arc;
//! use sre_core::{Agent, AgentLoop, ScriptedModel, Session, StopCause};
//! use sre_hooks::{BuildContext, HookConfig};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // A Stop quality gate, judged by a (scripted) model.
//! let config = HookConfig::from_yaml(r#"
//! kind: AgentConfiguration
//! metadata: {name: investigator}
//! spec:
//!   hooks:
//!     - name: quality-gate
//!       event: Stop
//!       type: prompt
//!       prompt: "Does this answer cite evidence? $ARGUMENTS"
//! "#, "agent.yaml").unwrap();
//! let judge = ScriptedModel::from_yaml(r#"
//! turns:
//!   - final: '{"ok": false, "reason": "cite the error rate"}'
//!   - final: '{"ok": true}'
//! "#).unwrap();
//! let registry = config.build(&BuildContext { model: Some(Arc::new(judge)), ..Default::default() }).unwrap();
//!
//! let agent_model = ScriptedModel::from_yaml(r#"
//! turns:
//!   - final: "It is the database."
//!   - expect: {last_message_contains: ["cite the error rate"]}
//!     final: "It is the database: 42% of queries time out."
//! "#).unwrap();
//! let agent = AgentLoop::builder(Arc::new(agent_model))
//!     .name("investigator")
//!     .hooks(registry.hooks_for("investigator"))
//!     .build()
//!     .unwrap();
//! let outcome = agent.run(&Session::new("s1"), "Why is checkout slow?").await.unwrap();
//! assert_eq!(outcome.cause, StopCause::Completed);
//! assert_eq!(outcome.stop_rejections, vec!["cite the error rate".to_string()]);
//! # });
//! ```

#![forbid(unsafe_code)]

pub mod allowlist;
pub mod audit;
pub mod command;
pub mod config;
pub mod error;
pub mod in_process;
pub mod matcher;
pub mod output;
pub mod prompt;
pub mod registry;
pub mod spec;

pub use allowlist::{CommandAllowlist, Refusal, ShellPolicy};
pub use audit::{
    AuditAnchor, AuditHook, AuditKey, AuditLog, AuditProblem, AuditRecord, AuditReport,
    verify_audit_log,
};
pub use command::CommandHook;
pub use config::{ConfigWarning, HookConfig};
pub use error::HookError;
pub use in_process::FnHook;
pub use matcher::{
    Activation, ActivationMode, HookFilter, HookFormat, ToolAliases, ToolMatcher,
    default_tool_aliases,
};
pub use output::{decision_from_json, parse_command_output};
pub use prompt::PromptHook;
pub use registry::HookRegistry;
pub use spec::{AllowlistSpec, BuildContext, FailMode, HookKind, HookSpec};

/// The README's code blocks, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
