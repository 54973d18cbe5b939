//! A cap on what the writable mounts may hold: bytes and files
//! ([`WorkspaceBuilder::quota`](crate::WorkspaceBuilder::quota)).
//!
//! In the reference host a workspace serves one thread, so this is the quota of its
//! sessions. It holds as follows:
//! - `write_file` and `edit_file` check before writing: a write that would grow the mounts
//!   past it is refused with an error that names it, and nothing is written; a write that
//!   does not grow them (a shrinking edit) always goes through;
//! - a command (shell, python, git) may write no single file beyond what is left
//!   (`RLIMIT_FSIZE`, which caps the write offset: a runaway `dd` stops there, and so does
//!   an append to a file already larger than what is left); at the quota it still runs,
//!   so `rm` and reads work, but it can grow no file;
//! - after each command the mounts are measured: the result says when it crossed the
//!   quota, and the file tools refuse growth until files are removed.
//!
//! It is not exact: calls running at the same time (parallel tool calls, an agent used as
//! a tool) may each write up to what was left when they started; a command writing many
//! files overshoots by what it wrote in that call; Python tool workers are not capped or
//! measured; hard links count once per name, sparse files at their length; folders the
//! host cannot read are not counted. Dependency installs into the Python tool cache are
//! outside it.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::timefmt::human_size;
use crate::workspace::Workspace;

/// The most the writable mounts may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Bytes of regular files.
    pub bytes: u64,
    /// Files and directories.
    pub files: u64,
}

/// What the writable mounts hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of regular files.
    pub bytes: u64,
    /// Files and directories.
    pub files: u64,
}

impl Quota {
    /// Check that `bytes` and `files` more stay within the quota of `ws`: the usage before
    /// (or zero when nothing grows: then nothing is measured), or an error naming the quota
    /// when it would be crossed (`what` says what was about to happen).
    pub fn check(&self, ws: &Workspace, bytes: u64, files: u64, what: &str) -> Result<Usage> {
        if bytes == 0 && files == 0 {
            // Growing nothing never crosses the quota: no need to measure.
            return Ok(Usage::default());
        }
        let now = usage_up_to(ws, Some(*self));
        let after = Usage {
            bytes: now.bytes.saturating_add(bytes),
            files: now.files.saturating_add(files),
        };
        if self.exceeded_by(after) {
            return Err(self.exceeded(what, after));
        }
        Ok(now)
    }

    /// The error for usage `after` (what `what` led or would lead to).
    pub(crate) fn exceeded(&self, what: &str, after: Usage) -> Error {
        Error::QuotaExceeded {
            what: what.to_string(),
            bytes: human_size(after.bytes),
            files: after.files,
            max_bytes: human_size(self.bytes),
            max_files: self.files,
        }
    }

    /// Whether `u` is over the quota.
    pub fn exceeded_by(&self, u: Usage) -> bool {
        u.bytes > self.bytes || u.files > self.files
    }
}

/// What the writable mounts of `ws` hold (symlinks are counted as files, never followed;
/// a mount inside another is counted once).
pub fn usage(ws: &Workspace) -> Usage {
    usage_up_to(ws, None)
}

/// [`usage`], stopping once past `quota` (the walk costs one `lstat` per entry: a full
/// count is not needed to know that it is over).
pub(crate) fn usage_up_to(ws: &Workspace, quota: Option<Quota>) -> Usage {
    let mut roots: Vec<PathBuf> = ws.writable_mounts().map(|m| m.host.clone()).collect();
    roots.sort();
    roots.dedup_by(|later, earlier| later.starts_with(earlier.as_path()));
    let mut total = Usage::default();
    for root in roots {
        walk(&root, &mut total, quota);
    }
    total
}

fn walk(dir: &Path, total: &mut Usage, quota: Option<Quota>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if quota.is_some_and(|q| q.exceeded_by(*total)) {
            return;
        }
        // `DirEntry::metadata` does not follow symlinks.
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        total.files += 1;
        if meta.is_dir() {
            walk(&entry.path(), total, quota);
        } else if meta.is_file() {
            total.bytes += meta.len();
        }
    }
}
