//! # sre-tools
//!
//! Filesystem, search, shell, python and git tools for sre-harness agents, all confined to a
//! [`Workspace`]: a root directory with named read-only or writable mounts.
//!
//! | tool | what it does |
//! |---|---|
//! | `read_file` | numbered lines by range, byte cap, binary detection, lossy UTF-8 |
//! | `write_file`, `edit_file` | atomic writes; exact-match edits refusing 0 or >1 matches |
//! | `grep` | ripgrep's crates: regex/literal, globs, context, `.gitignore` |
//! | `find`, `list` | globs, type, size and mtime filters; a directory tree |
//! | `shell`, `python` | one [`Executor`]: scrubbed env, timeout, bounded output, rlimits, Landlock, group kill |
//! | Python function tools | [`PythonFunctionTool`]: a declared function run in a persistent worker with the same confinement |
//! | `git_live_commit`, `git_log`, `git_diff`, `git_checkout` | point-in-time git with the `git` binary |
//! | `prefix_report` | where two model request bodies stop sharing a cacheable prefix (opt-in: [`ToolSet::prefix_report`]) |
//!
//! Large results go through [`OffloadStore`] (an [`sre_core::OutputOffload`]).
//!
//! Every path a tool receives goes through [`Workspace::resolve`]: relative to the root,
//! no `..`, no NUL, bounded length, symlinks must stay inside, writes only in writable mounts.
//!
//! ```
//! use std::sync::Arc;
//! use sre_core::ToolContext;
//! use sre_tools::{MountMode, OffloadConfig, OffloadStore, Workspace};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let root = tempfile::tempdir().unwrap();
//! std::fs::create_dir_all(root.path().join("logs")).unwrap();
//! std::fs::write(root.path().join("logs/app.log"), "ok\nERROR db timeout\nok\n").unwrap();
//! let ws = Workspace::builder(root.path())
//!     .mount("logs", MountMode::ReadOnly)
//!     .mount("scratch", MountMode::Writable)
//!     .build()
//!     .unwrap();
//! let tools = ws.tools().unwrap();
//! let offload = Arc::new(OffloadStore::new(ws.clone(), OffloadConfig::default()).unwrap());
//! // Host: AgentLoop::builder(model).tools(tools).offload(offload)...
//! # let _ = offload;
//! let grep = tools.iter().find(|t| t.spec().name == "grep").unwrap();
//! let out = grep
//!     .call(serde_json::json!({"pattern": "ERROR", "path": "logs"}), &ToolContext::detached("1"))
//!     .await
//!     .unwrap();
//! assert!(out.content.starts_with("logs/app.log:2:ERROR db timeout"));
//! # });
//! ```

pub mod beneath;
pub mod error;
pub mod exec;
pub mod files;
pub mod find;
pub mod git;
pub mod list;
pub mod namespace;
pub mod offload;
pub mod prefix;
pub mod python;
pub mod quota;
pub mod readonly;
pub mod sandbox;
pub mod search;
pub mod shell;
pub mod timefmt;
pub mod toolset;
pub mod workspace;

pub use error::{Error, Result};
pub use exec::{Captured, ExecConfig, ExecOutcome, ExecRequest, Executor, ExitKind};
pub use files::{EditFile, ReadFile, ReadLimits, WriteFile};
pub use find::Find;
pub use git::{Git, GitCheckout, GitDiff, GitLiveCommit, GitLog};
pub use list::List;
pub use offload::{OffloadConfig, OffloadStore};
pub use prefix::PrefixReportTool;
pub use python::{
    ParamSpec, ParamType, PythonEnv, PythonFunctionSpec, PythonFunctionTool, PythonToolConfig,
};
pub use sandbox::{Confinement, ResourceLimits, landlock_abi};
pub use search::{Grep, GrepLimits};
pub use shell::{Python, Shell};
pub use toolset::ToolSet;
pub use workspace::{Access, Mount, MountMode, Resolved, Workspace, WorkspaceBuilder};

/// The README's code blocks, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
