//! # sre-core
//!
//! The contracts of sre-harness and the one agent loop written against them.
//!
//! Each contract is a small, object-safe trait in its own module, so a host assembles its
//! own harness from the parts it wants:
//!
//! | contract | module | implemented by |
//! |---|---|---|
//! | [`Model`] | [`model`] | providers, retry layers, [`ScriptedModel`] |
//! | [`Tool`] / [`TypedTool`] | [`tool`], [`typed_tool`](mod@typed_tool) | `sre-tools`, `sre-mcp`, `sre-py`, subagents, agents ([`AgentLoop::as_tool`]), [`handoff`] |
//! | [`Hook`] | [`hook`] | `sre-hooks`, closures |
//! | [`MemoryStore`] | [`memory`] | `sre-memory` |
//! | [`ContextLayer`] | [`layer`] | `sre-context` |
//! | [`ContextBudget`] | [`budget`] | `sre-context` |
//! | [`SessionStore`] | [`session`] | [`JsonlSessionStore`], [`InMemorySessionStore`] |
//! | [`Agent`] | [`agent`] | [`AgentLoop`] |
//!
//! ## The loop
//! Build the request (tools sorted by name, the system prompt, context layers in fixed
//! order, the append-only transcript); ask the budget whether to prune or compact; call the
//! model; append the assistant message; run PreToolUse hooks, the tool calls of the turn
//! concurrently (bounded), PostToolUse hooks, and record the results (offloading large ones
//! at record time); repeat. When the model stops calling tools, run Stop hooks and either
//! finish or feed the rejection back, bounded by max rejections and max turns. Every step
//! is persisted before the next one starts and emits an [`AgentEvent`].
//!
//! ```
//! use std::sync::Arc;
//! use sre_core::{Agent, AgentLoop, ScriptedModel, Session};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let model = Arc::new(ScriptedModel::from_yaml("turns:\n  - final: All good.\n").unwrap());
//! let agent = AgentLoop::builder(model).build().unwrap();
//! let outcome = agent.run(&Session::new("demo"), "Is the service healthy?").await.unwrap();
//! assert_eq!(outcome.answer.as_deref(), Some("All good."));
//! # });
//! ```

pub mod agent;
pub mod agent_loop;
mod agent_tool;
pub mod budget;
pub mod cache;
pub mod cassette;
pub mod error;
pub mod event;
pub mod fs;
pub mod handoff;
pub mod hook;
pub mod layer;
pub mod memory;
pub mod message;
pub mod metered;
pub mod model;
#[cfg(feature = "process")]
pub mod process;
pub mod prompt;
#[cfg(feature = "http")]
pub mod providers;
pub mod retry;
mod run;
#[cfg(feature = "scripted")]
pub mod scripted;
pub mod session;
#[cfg(feature = "process")]
pub mod shell;
pub mod subagent;
#[cfg(feature = "otel")]
pub mod telemetry;
pub mod text;
pub mod time;
pub mod tool;
pub mod typed_tool;
pub mod usage;
pub mod validate;

pub use agent::{Agent, Outcome, Session, SessionParent, StopCause};
pub use agent_loop::{AgentLoop, AgentLoopBuilder, CostCap};
pub use budget::{BudgetVerdict, BudgetView, ContextBudget, ReportedPrompt, Rewrite};
pub use cache::{PrefixReport, prefix_report};
pub use error::{Error, ModelError, Result};
pub use event::{AgentEvent, EventKind, EventSink, Tee, TraceContext};
pub use handoff::{HANDOFF_TOOL, HandoffTarget};
pub use hook::{
    Approval, Approver, FailMode, Hook, HookAction, HookContext, HookDecision, HookEvent,
    HookInput, HookPayload, merge_decisions,
};
pub use layer::{ContextLayer, LayerContext};
pub use memory::{MemoryHit, MemoryStore};
pub use message::{ContentBlock, Message, Role};
pub use metered::MeteredModel;
pub use model::{
    CallContext, Model, ModelInfo, ModelRequest, ModelResponse, Pricing, StopReason, StreamEvent,
    SystemBlock, ToolSpec,
};
pub use prompt::canonical_prompt;
pub use retry::{RetryModel, RetryPolicy};
pub use run::MemoryCommand;
#[cfg(feature = "scripted")]
pub use scripted::ScriptedModel;
pub use session::{
    Durability, InMemorySessionStore, JsonlSessionStore, SessionLock, SessionRecord, SessionStore,
    transcript,
};
pub use subagent::SubagentOptions;
pub use tool::{
    ChildSession, OutputOffload, Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput,
};
pub use typed_tool::{TypedTool, typed_tool};
pub use usage::{AgentUsage, SharedLedger, Usage, UsageLedger};
pub use validate::{validate_request, validate_transcript};

/// Re-exported so hosts and tool crates use the same token type.
pub use tokio_util::sync::CancellationToken;

/// The README's code blocks, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
