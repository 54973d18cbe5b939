//! [`OffloadStore`]: large tool results go to a content-addressed file in the workspace and
//! the model gets a head/tail preview, the path, the sizes and a hint to grep it.
//!
//! Hashing, writing and the eviction scan are blocking work: [`OutputOffload::offload`] runs
//! them on tokio's blocking pool, so a multi-megabyte result or a folder of thousands of old
//! outputs never stalls the runtime thread other sessions run on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sre_core::{OutputOffload, ToolError};

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
    dir: PathBuf,
    rel_dir: String,
    config: OffloadConfig,
    /// One store or eviction at a time (held on a blocking thread, so a cancelled
    /// `offload` cannot let two evictions race).
    lock: Mutex<()>,
}

/// Stores large outputs in the workspace. Implements [`sre_core::OutputOffload`].
#[derive(Debug)]
pub struct OffloadStore {
    ws: Workspace,
    folder: Arc<Folder>,
}

impl OffloadStore {
    /// A store in `config.dir`, which must be inside a writable mount (created if missing).
    pub fn new(ws: Workspace, config: OffloadConfig) -> Result<Self> {
        let r = ws.resolve(&config.dir, Access::Write)?;
        std::fs::create_dir_all(&r.host).map_err(|e| Error::io("creating", &r.rel, e))?;
        Ok(OffloadStore {
            ws,
            folder: Arc::new(Folder {
                dir: r.host,
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
        &self.ws
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
        let host = self.dir.join(&name);
        let rel = format!("{}/{name}", self.rel_dir);
        {
            let _one_at_a_time = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            if host.exists() {
                // Same content: refresh its age so it is evicted last.
                let _ = std::fs::File::options()
                    .append(true)
                    .open(&host)
                    .and_then(|f| f.set_modified(SystemTime::now()));
            } else {
                // No fsync: an offloaded output is a copy the model can regenerate by
                // re-running the call; atomicity (old or new file, never a torn one) is
                // what matters, and an fsync per large result would only add latency.
                sre_core::fs::write_atomic(&host, content.as_bytes(), false)
                    .map_err(|e| Error::io("writing", &rel, e))?;
            }
            self.evict(&host)?;
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

    /// Remove the oldest files until the count and byte caps hold; never removes `keep`.
    /// Temporary files of other writers are left alone unless stale (a crashed writer's).
    fn evict(&self, keep: &Path) -> Result<()> {
        let now = SystemTime::now();
        let mut files: Vec<(SystemTime, String, PathBuf, u64)> = Vec::new();
        for entry in std::fs::read_dir(&self.dir)
            .map_err(|e| Error::io("listing", &self.rel_dir, e))?
            .filter_map(|e| e.ok())
        {
            let Ok(meta) = entry.metadata() else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(now);
            if name.starts_with(sre_core::fs::TEMP_PREFIX) {
                if now.duration_since(modified).unwrap_or_default() > STALE_TEMP {
                    let _ = std::fs::remove_file(entry.path());
                }
                continue;
            }
            if name.ends_with(".txt") {
                files.push((modified, name, entry.path(), meta.len()));
            }
        }
        files.sort();
        let mut count = files.len();
        let mut bytes: u64 = files.iter().map(|f| f.3).sum();
        for (_, _, path, len) in files {
            if count <= self.config.max_files && bytes <= self.config.max_bytes {
                break;
            }
            if path == keep {
                continue;
            }
            if std::fs::remove_file(&path).is_ok() {
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
