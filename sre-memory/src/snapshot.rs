//! Snapshots: a copy of every file of the memory (except the store's own state) under
//! `.sre-memory/snapshots/<id>/`, with a `MANIFEST` of sizes and SHA-256 hashes. Restoring
//! puts back exactly those bytes and removes files the snapshot did not have.

use std::fs;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::atomic::{TEMP_PREFIX, sync_dir, write_atomic};
use crate::clock::Timestamp;
use crate::error::{MemoryError, Result};
use crate::format::hex;
use crate::store::{Core, MarkdownMemory, STATE_DIR};

const MANIFEST: &str = "MANIFEST";

/// `(sha256 hex, size, relative path)`.
type ManifestLine = (String, u64, String);

/// A snapshot on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Its id (folder name), e.g. `20261101T100000Z-1`.
    pub id: String,
    /// When it was taken.
    pub taken: Timestamp,
    /// Number of files.
    pub files: usize,
    /// Total bytes.
    pub bytes: u64,
}

/// Take a snapshot every `every`, keep the newest `keep`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Minimum time between snapshots.
    pub every: Duration,
    /// How many snapshots to keep (older ones are deleted); at least 1 is kept.
    pub keep: usize,
}

impl MarkdownMemory {
    /// Snapshot the whole memory now.
    pub async fn snapshot(&self) -> Result<SnapshotInfo> {
        self.run(|c| {
            let _g = c.lock()?;
            c.take_snapshot()
        })
        .await
    }

    /// Snapshots, oldest first.
    pub async fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        // Under the lock, so a listing never sees a snapshot being taken or pruned.
        self.run(|c| {
            let _g = c.lock()?;
            c.list_snapshots()
        })
        .await
    }

    /// Restore a snapshot: afterwards every file equals its snapshot byte for byte and files
    /// the snapshot did not have are gone. Take a snapshot first if you may want to undo.
    pub async fn restore(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.run(move |c| {
            let _g = c.lock()?;
            c.restore_snapshot(&id)
        })
        .await
    }

    /// Take a snapshot if the newest is older than `policy.every` (or there is none), then
    /// delete all but the newest `policy.keep`. Returns the snapshot taken, if any.
    pub async fn snapshot_if_due(&self, policy: &SnapshotPolicy) -> Result<Option<SnapshotInfo>> {
        let policy = policy.clone();
        self.run(move |c| {
            let _g = c.lock()?;
            let now = c.now();
            let list = c.list_snapshots()?;
            let due = list.last().is_none_or(|s| {
                now.0 - s.taken.0 >= i64::try_from(policy.every.as_secs()).unwrap_or(i64::MAX)
            });
            let taken = if due { Some(c.take_snapshot()?) } else { None };
            let list = c.list_snapshots()?;
            let keep = policy.keep.max(1);
            if list.len() > keep {
                for s in &list[..list.len() - keep] {
                    let dir = c.snapshot_dir().join(&s.id);
                    fs::remove_dir_all(&dir).map_err(|e| MemoryError::io(&dir, e))?;
                }
            }
            Ok(taken)
        })
        .await
    }

    /// A tokio task that calls [`MarkdownMemory::snapshot_if_due`] every `check_every`,
    /// passing errors to `on_error`. Abort the handle to stop it.
    pub fn spawn_snapshots(
        &self,
        policy: SnapshotPolicy,
        check_every: Duration,
        on_error: impl Fn(MemoryError) + Send + Sync + 'static,
    ) -> JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(check_every);
            loop {
                tick.tick().await;
                if let Err(e) = store.snapshot_if_due(&policy).await {
                    on_error(e);
                }
            }
        })
    }
}

impl Core {
    fn snapshot_dir(&self) -> std::path::PathBuf {
        self.root.join(STATE_DIR).join("snapshots")
    }

    /// Files of the memory (relative paths), excluding the state folder and temp files.
    fn memory_files(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut stack = vec![(self.root.clone(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            let rd = fs::read_dir(&dir).map_err(|e| MemoryError::io(&dir, e))?;
            for ent in rd {
                let ent = ent.map_err(|e| MemoryError::io(&dir, e))?;
                let name = ent.file_name().to_string_lossy().to_string();
                let rel = format!("{prefix}{name}");
                if rel == STATE_DIR || name.starts_with(TEMP_PREFIX) {
                    continue;
                }
                let ft = ent
                    .file_type()
                    .map_err(|e| MemoryError::io(ent.path(), e))?;
                if ft.is_dir() {
                    stack.push((ent.path(), format!("{rel}/")));
                } else if ft.is_file() {
                    out.push(rel);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn take_snapshot(&self) -> Result<SnapshotInfo> {
        let now = self.now();
        let base = self.snapshot_dir();
        fs::create_dir_all(&base).map_err(|e| MemoryError::io(&base, e))?;
        let mut n = 1;
        let id = loop {
            let id = format!("{}-{n}", now.compact());
            if !base.join(&id).exists() {
                break id;
            }
            n += 1;
        };
        let tmp = base.join(format!("{TEMP_PREFIX}{id}"));
        let _ = fs::remove_dir_all(&tmp);
        let mut manifest = format!("# sre-memory snapshot\ntaken {now}\n");
        let mut bytes_total = 0u64;
        let files = self.memory_files()?;
        for rel in &files {
            let src = self.root.join(rel);
            let bytes = fs::read(&src).map_err(|e| MemoryError::io(&src, e))?;
            let dst = tmp.join("files").join(rel);
            write_atomic(&dst, &bytes, self.cfg.sync)?;
            bytes_total += bytes.len() as u64;
            manifest.push_str(&format!(
                "{} {} {}\n",
                hex(&Sha256::digest(&bytes)),
                bytes.len(),
                rel
            ));
        }
        write_atomic(&tmp.join(MANIFEST), manifest.as_bytes(), self.cfg.sync)?;
        let dir = base.join(&id);
        fs::rename(&tmp, &dir).map_err(|e| MemoryError::io(&dir, e))?;
        if self.cfg.sync {
            sync_dir(&base)?;
        }
        Ok(SnapshotInfo {
            id,
            taken: now,
            files: files.len(),
            bytes: bytes_total,
        })
    }

    fn read_manifest(&self, id: &str) -> Result<(Timestamp, Vec<ManifestLine>)> {
        let path = self.snapshot_dir().join(id).join(MANIFEST);
        let text = fs::read_to_string(&path).map_err(|e| MemoryError::io(&path, e))?;
        let shown = format!("{STATE_DIR}/snapshots/{id}/{MANIFEST}");
        let parse_err = |line: usize, message: &str| MemoryError::Parse {
            path: shown.clone(),
            line,
            message: message.to_string(),
        };
        let mut taken = None;
        let mut files = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            if let Some(t) = line.strip_prefix("taken ") {
                taken = Some(Timestamp::parse(t).ok_or_else(|| parse_err(i + 1, "bad timestamp"))?);
                continue;
            }
            let mut parts = line.splitn(3, ' ');
            let (Some(hash), Some(size), Some(rel)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(parse_err(i + 1, "expected `<sha256> <size> <path>`"));
            };
            let size = size.parse().map_err(|_| parse_err(i + 1, "bad size"))?;
            if rel.split('/').any(|p| p == ".." || p.is_empty()) || rel.starts_with(STATE_DIR) {
                return Err(parse_err(i + 1, "path outside the memory"));
            }
            files.push((hash.to_string(), size, rel.to_string()));
        }
        Ok((
            taken.ok_or_else(|| parse_err(1, "missing `taken` line"))?,
            files,
        ))
    }

    fn list_snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let base = self.snapshot_dir();
        let Ok(rd) = fs::read_dir(&base) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for ent in rd.flatten() {
            let id = ent.file_name().to_string_lossy().to_string();
            if id.starts_with('.') || !ent.path().join(MANIFEST).exists() {
                continue;
            }
            let (taken, files) = self.read_manifest(&id)?;
            out.push(SnapshotInfo {
                id,
                taken,
                files: files.len(),
                bytes: files.iter().map(|f| f.1).sum(),
            });
        }
        out.sort_by(|a, b| {
            a.taken
                .cmp(&b.taken)
                .then_with(|| natural(&a.id).cmp(&natural(&b.id)))
        });
        Ok(out)
    }

    fn restore_snapshot(&self, id: &str) -> Result<()> {
        if id.contains('/') || id.starts_with('.') {
            return Err(MemoryError::NotFound(format!("snapshot `{id}`")));
        }
        let dir = self.snapshot_dir().join(id);
        if !dir.join(MANIFEST).exists() {
            return Err(MemoryError::NotFound(format!("snapshot `{id}`")));
        }
        let (_, files) = self.read_manifest(id)?;
        // Verify everything before touching the live files.
        let mut contents = Vec::with_capacity(files.len());
        for (hash, size, rel) in &files {
            let src = dir.join("files").join(rel);
            let bytes = fs::read(&src).map_err(|e| MemoryError::io(&src, e))?;
            if bytes.len() as u64 != *size || hex(&Sha256::digest(&bytes)) != *hash {
                return Err(MemoryError::Parse {
                    path: format!("{STATE_DIR}/snapshots/{id}/files/{rel}"),
                    line: 1,
                    message: "content does not match the manifest".into(),
                });
            }
            contents.push((rel.clone(), bytes));
        }
        for rel in self.memory_files()? {
            if !files.iter().any(|f| f.2 == rel) {
                let p = self.root.join(&rel);
                fs::remove_file(&p).map_err(|e| MemoryError::io(&p, e))?;
            }
        }
        for (rel, bytes) in contents {
            write_atomic(&self.root.join(&rel), &bytes, self.cfg.sync)?;
        }
        remove_empty_dirs(&self.root)?;
        self.clear_cache();
        Ok(())
    }
}

fn natural(id: &str) -> (String, u64) {
    match id.rsplit_once('-') {
        Some((a, b)) => (a.to_string(), b.parse().unwrap_or(0)),
        None => (id.to_string(), 0),
    }
}

fn remove_empty_dirs(dir: &Path) -> Result<bool> {
    let rd = fs::read_dir(dir).map_err(|e| MemoryError::io(dir, e))?;
    let mut empty = true;
    for ent in rd.flatten() {
        let name = ent.file_name();
        let path = ent.path();
        if path.is_dir() && name != STATE_DIR {
            if remove_empty_dirs(&path)? {
                let _ = fs::remove_dir(&path);
            } else {
                empty = false;
            }
        } else {
            empty = false;
        }
    }
    Ok(empty)
}
