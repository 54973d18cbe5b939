//! [`OffloadStore`]: large tool results go to a content-addressed file in the workspace and
//! the model gets a head/tail preview, the path, the sizes and a hint to grep it.

use std::path::PathBuf;
use std::time::SystemTime;

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

/// Stores large outputs in the workspace. Implements [`sre_core::OutputOffload`].
#[derive(Debug)]
pub struct OffloadStore {
    ws: Workspace,
    dir: PathBuf,
    rel_dir: String,
    config: OffloadConfig,
    lock: tokio::sync::Mutex<()>,
}

impl OffloadStore {
    /// A store in `config.dir`, which must be inside a writable mount (created if missing).
    pub fn new(ws: Workspace, config: OffloadConfig) -> Result<Self> {
        let r = ws.resolve(&config.dir, Access::Write)?;
        std::fs::create_dir_all(&r.host).map_err(|e| Error::io("creating", &r.rel, e))?;
        Ok(OffloadStore {
            ws,
            dir: r.host,
            rel_dir: r.rel,
            config,
            lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OffloadConfig {
        &self.config
    }

    /// Store `content` and return the preview (synchronous part of [`OutputOffload::offload`]).
    pub fn store(&self, tool: &str, content: &str) -> Result<String> {
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
        if host.exists() {
            // Same content: refresh its age so it is evicted last.
            let _ = std::fs::File::options()
                .append(true)
                .open(&host)
                .and_then(|f| f.set_modified(SystemTime::now()));
        } else {
            crate::files::atomic_write(&host, &rel, content.as_bytes())?;
        }
        self.evict(&host)?;
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
    fn evict(&self, keep: &std::path::Path) -> Result<()> {
        let mut files: Vec<(SystemTime, String, PathBuf, u64)> = std::fs::read_dir(&self.dir)
            .map_err(|e| Error::io("listing", &self.rel_dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                if !meta.is_file() || !e.file_name().to_string_lossy().ends_with(".txt") {
                    return None;
                }
                Some((
                    meta.modified().ok()?,
                    e.file_name().to_string_lossy().into_owned(),
                    e.path(),
                    meta.len(),
                ))
            })
            .collect();
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

    /// The workspace.
    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }
}

#[async_trait]
impl OutputOffload for OffloadStore {
    fn threshold_bytes(&self) -> usize {
        self.config.threshold_bytes
    }

    async fn offload(
        &self,
        tool: &str,
        _tool_use_id: &str,
        content: &str,
    ) -> Result<String, ToolError> {
        let _guard = self.lock.lock().await;
        // Small synchronous file work; a block_in_place would need the multi-thread runtime.
        self.store(tool, content).map_err(ToolError::from)
    }
}
