//! [`OffloadStore`]: large tool results go to a content-addressed file in the workspace and
//! the model gets a head/tail preview, the path, the sizes and a hint to grep it.
//!
//! Hashing, writing and the eviction scan are blocking work: [`OutputOffload::offload`] runs
//! them on tokio's blocking pool, so a multi-megabyte result or a folder of thousands of old
//! outputs never stalls the runtime thread other sessions run on.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sre_core::{OutputOffload, ToolError};

use rustix::fs::{self as rfs, AtFlags, FileType};

use crate::beneath;
use crate::error::{Error, Result};
use crate::workspace::{Access, Workspace};

/// Configuration of an [`OffloadStore`].
#[derive(Clone, Debug)]
pub struct OffloadConfig {
    /// Workspace-relative folder inside a writable mount (default `scratch/.offload`).
    pub dir: String,
    /// Results strictly larger than this are offloaded (default 16 KiB).
    pub threshold_bytes: usize,
    /// Bytes of preview (head + tail) the model sees (default 2 KiB).
    pub preview_bytes: usize,
    /// Most files kept (oldest evicted first; default 200).
    pub max_files: usize,
    /// Most bytes kept (oldest evicted first; default 256 MiB).
    pub max_bytes: u64,
}

impl Default for OffloadConfig {
    fn default() -> Self {
        OffloadConfig {
            dir: "scratch/.offload".into(),
            threshold_bytes: 16 * 1024,
            preview_bytes: 2048,
            max_files: 200,
            max_bytes: 256 << 20,
        }
    }
}

/// Temporary files of crashed writers older than this are removed by the eviction scan.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// The folder and its policy; shared with the blocking tasks.
#[derive(Debug)]
struct Folder {
    ws: Workspace,
    /// The folder relative to the workspace root (opened through its handle each time).
    rel: PathBuf,
    rel_dir: String,
    config: OffloadConfig,
    /// One store or eviction at a time (held on a blocking thread, so a cancelled
    /// `offload` cannot let two evictions race).
    lock: Mutex<()>,
}

/// Stores large outputs in the workspace. Implements [`sre_core::OutputOffload`].
#[derive(Debug)]
pub struct OffloadStore {
    folder: Arc<Folder>,
}

impl OffloadStore {
    /// A store in `config.dir`, which must be inside a writable mount (created if missing).
    pub fn new(ws: Workspace, config: OffloadConfig) -> Result<Self> {
        let r = ws.resolve(&config.dir, Access::Write)?;
        std::fs::create_dir_all(&r.host).map_err(|e| Error::io("creating", &r.rel, e))?;
        let rel = ws.rel_path(&r.host)?.to_path_buf();
        Ok(OffloadStore {
            folder: Arc::new(Folder {
                ws,
                rel,
                rel_dir: r.rel,
                config,
                lock: Mutex::new(()),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OffloadConfig {
        &self.folder.config
    }

    /// Store `content` and return the preview. This blocks (hashing, file I/O, eviction);
    /// [`OutputOffload::offload`] runs it on the blocking pool.
    pub fn store(&self, tool: &str, content: &str) -> Result<String> {
        self.folder.store(tool, content)
    }

    /// The workspace.
    pub fn workspace(&self) -> &Workspace {
        &self.folder.ws
    }
}

impl Folder {
    fn store(&self, tool: &str, content: &str) -> Result<String> {
        let digest = Sha256::digest(content.as_bytes());
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let safe_tool: String = tool
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let name = format!("{safe_tool}-{hex}.txt");
        let rel = format!("{}/{name}", self.rel_dir);
        {
            let _one_at_a_time = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            // Everything relative to the folder's handle: a folder swapped for a symlink is
            // never followed (crate::beneath).
            let dir = self
                .ws
                .anchor()
                .dir(&self.rel)
                .map_err(|e| Error::open(e, "opening", &self.rel_dir))?;
            let existing = rfs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
                .ok()
                .map(|st| FileType::from_raw_mode(st.st_mode));
            if existing == Some(FileType::RegularFile) {
                // Same content: refresh its age so it is evicted last.
                let now = rfs::Timestamps {
                    last_access: rfs::Timespec {
                        tv_sec: 0,
                        tv_nsec: rfs::UTIME_OMIT,
                    },
                    last_modification: rfs::Timespec {
                        tv_sec: 0,
                        tv_nsec: rfs::UTIME_NOW,
                    },
                };
                let _ = rfs::utimensat(&dir, name.as_str(), &now, AtFlags::SYMLINK_NOFOLLOW);
            } else {
                // No fsync: an offloaded output is a copy the model can regenerate by
                // re-running the call; atomicity (old or new file, never a torn one) is
                // what matters, and an fsync per large result would only add latency.
                beneath::replace_in(&dir, name.as_ref(), content.as_bytes())
                    .map_err(|e| Error::open(e, "writing", &rel))?;
            }
            self.evict(&dir, &name)?;
        }
        let lines = content.lines().count();
        let preview = sre_core::text::truncate_middle(content, self.config.preview_bytes);
        Ok(format!(
            "[output of `{tool}` was {} bytes ({lines} lines); stored in `{rel}`. Preview (head and tail):]\n{preview}\n\
             [full output: `{rel}` ({} bytes, {lines} lines). Search it with grep (path=\"{rel}\"), page it with read_file (offset/limit), or use shell with jq/awk.]",
            content.len(),
            content.len(),
        ))
    }

    /// Remove the oldest files of `dir` until the count and byte caps hold; never removes
    /// `keep`. Temporary files of other writers are left alone unless stale (a crashed
    /// writer's). Only regular files are counted or removed, by name in `dir`.
    fn evict(&self, dir: &OwnedFd, keep: &str) -> Result<()> {
        let now = SystemTime::now();
        let mut files: Vec<(SystemTime, OsString, u64)> = Vec::new();
        let names = beneath::entries(dir).map_err(|e| Error::io("listing", &self.rel_dir, e))?;
        for name in names {
            let Ok(st) = rfs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
                continue;
            }
            // The field types differ between architectures.
            #[allow(clippy::useless_conversion)]
            let nanos = u64::try_from(st.st_mtime_nsec).unwrap_or(0);
            let secs = u64::try_from(st.st_mtime).unwrap_or(0);
            let modified =
                SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_nanos(nanos);
            let text = name.to_string_lossy();
            if text.starts_with(sre_core::fs::TEMP_PREFIX) {
                if now.duration_since(modified).unwrap_or_default() > STALE_TEMP {
                    let _ = rfs::unlinkat(dir, &name, AtFlags::empty());
                }
                continue;
            }
            if text.ends_with(".txt") {
                files.push((modified, name, u64::try_from(st.st_size).unwrap_or(0)));
            }
        }
        files.sort();
        let mut count = files.len();
        let mut bytes: u64 = files.iter().map(|f| f.2).sum();
        for (_, name, len) in files {
            if count <= self.config.max_files && bytes <= self.config.max_bytes {
                break;
            }
            if name == keep {
                continue;
            }
            if rfs::unlinkat(dir, &name, AtFlags::empty()).is_ok() {
                count -= 1;
                bytes -= len;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl OutputOffload for OffloadStore {
    fn threshold_bytes(&self) -> usize {
        self.folder.config.threshold_bytes
    }

    async fn offload(
        &self,
        tool: &str,
        _tool_use_id: &str,
        content: &str,
    ) -> Result<String, ToolError> {
        let folder = self.folder.clone();
        let tool = tool.to_string();
        let content = content.to_string();
        crate::files::blocking(move || folder.store(&tool, &content)).await
    }
}
