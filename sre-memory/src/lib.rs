//! # sre-memory
//!
//! Memory for SRE agents as a folder of Markdown files that people read and edit and the
//! agent navigates with its ordinary file tools. Not a vector store.
//!
//! ```text
//! memory/
//! ├── index.md            entry point, always in the prompt (≤ 2,000 chars by default)
//! ├── overview.md         topic files: facts as list items with provenance
//! ├── team.md
//! ├── debugging.md
//! ├── knowledge/          ingested runbooks, postmortems, notes (listed in the index)
//! └── .sre-memory/        lock, id counter, snapshots (hidden from the index)
//! ```
//!
//! [`MarkdownMemory`] implements [`sre_core::MemoryStore`]; [`RememberTool`] lets the agent
//! store facts; the index reaches the prompt through `sre-context`'s `KnowledgeMapLayer`
//! (capped), given this store as its `MemoryStore`. Modules: [`format`] (parse/render
//! entries), [`store`] (operations and concurrency), [`index`] (the entry point within
//! budget), [`staleness`] (review rules), [`snapshot`] (take/list/restore), [`learn`]
//! (lessons and runbooks from a transcript), [`tool`] (the `remember` tool), [`clock`]
//! (injectable time). The `sre-memory-writer` binary is a writer process for the
//! cross-process tests and the multi-process bench.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use sre_memory::{ManualClock, MarkdownMemory, MemoryConfig, Timestamp};
//! use sre_core::MemoryStore;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let clock = ManualClock::new(Timestamp::parse("2026-11-01T10:00:00Z").unwrap());
//! let config = MemoryConfig { clock: Arc::new(clock.clone()), ..MemoryConfig::default() };
//! let memory = MarkdownMemory::open_with(dir.path(), config).unwrap();
//!
//! let id = memory.remember("Checkout owns the payments-db pool.", Some("team"), "user").await.unwrap();
//! assert_eq!(id, "m-1");
//! assert!(MemoryStore::index(&memory).await.unwrap().contains("[team](team.md)"));
//!
//! // Forty days later the fact is flagged where the agent reads it.
//! clock.advance(Duration::from_secs(40 * 86_400));
//! let hits = MemoryStore::retrieve(&memory, "payments pool", 5).await.unwrap();
//! assert_eq!(hits[0].note.as_deref(), Some("verified 40 days ago"));
//! memory.refresh_markers().await.unwrap();
//! let team = std::fs::read_to_string(dir.path().join("team.md")).unwrap();
//! assert!(team.contains("⚠ verified 40 days ago <!-- m-1 "));
//! # });
//! ```

//!
//! Attaching it to an agent: the store for the user's `#remember`/`#forget`/`#retrieve` and
//! the `remember` tool for the model. To put the index in the prompt, add
//! `sre_context::KnowledgeMapLayer::new(Arc::new(memory.clone()))` (capped; this crate has
//! no layer of its own).
//!
//! ```
//! use std::sync::Arc;
//! use sre_core::{Agent, AgentLoop, ScriptedModel, Session, typed_tool};
//! use sre_memory::{MarkdownMemory, RememberTool};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! # let dir = tempfile::tempdir().unwrap();
//! let memory = MarkdownMemory::open(dir.path()).unwrap();
//! let model = Arc::new(ScriptedModel::from_yaml("turns:\n  - final: ok\n").unwrap());
//! let agent = AgentLoop::builder(model)
//!     .memory(Arc::new(memory.clone()))
//!     .tool(typed_tool(RememberTool::new(memory.clone())).unwrap())
//!     .build()
//!     .unwrap();
//! let out = agent.run(&Session::new("s1"), "#remember Logs are in Loki.").await.unwrap();
//! assert_eq!(out.answer.as_deref(), Some("Remembered as m-1."));
//! assert!(std::fs::read_to_string(dir.path().join("logs.md")).unwrap().contains("Logs are in Loki."));
//! # });
//! ```

#![cfg(unix)]
#![forbid(unsafe_code)]

mod atomic;
pub mod clock;
pub mod error;
pub mod format;
pub mod index;
pub mod learn;
mod lock;
pub mod snapshot;
pub mod staleness;
pub mod store;
pub mod tool;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::{MemoryError, Result};
pub use format::{Document, Entry, Meta, Status};
pub use learn::{LearnReport, LearnTopics, Lessons, learn_from_session, write_runbook};
pub use snapshot::{SnapshotInfo, SnapshotPolicy};
pub use staleness::{ReviewItem, StalenessPolicy};
pub use store::{
    MarkdownMemory, MemoryConfig, ParseCounts, TopicFile, TopicSummary, UpdateOutcome,
    suggest_topic,
};
pub use tool::{RememberArgs, RememberTool};

/// The README's code blocks, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
