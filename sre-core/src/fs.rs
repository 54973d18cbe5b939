//! File helpers shared by the crates that write files the agent relies on (memory topic
//! files, the audit anchor): one atomic replace with one set of guarantees, and the
//! temporary names every atomic replace uses (sre-tools' handle-relative replace of
//! workspace files takes them from here too).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A temporary name for replacing the file `name`: [`TEMP_PREFIX`], the process id and a
/// per-process sequence number, so no two writers use the same one at the same time.
pub fn temp_name(name: &str) -> String {
    format!(
        "{TEMP_PREFIX}{}-{}-{name}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Prefix of the temporary files [`write_atomic`] creates next to their target; a store
/// may delete leftovers of crashed writers that start with it.
pub const TEMP_PREFIX: &str = ".sre-tmp-";

/// Replace `path` with `bytes` atomically: write a temporary file in the same directory
/// (created exclusively, so never through a symlink), keep the old file's permissions,
/// rename it over `path`. A crash leaves either the old or the new content, never a mix.
/// With `sync`, the data and the directory entry are fsynced (durable against power loss).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("notes.md");
/// sre_core::fs::write_atomic(&path, b"v1", true).unwrap();
/// sre_core::fs::write_atomic(&path, b"v2", false).unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"v2");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(temp_name(&name));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        if let Ok(meta) = fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        if sync {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, path)?;
        if sync {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
