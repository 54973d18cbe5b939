//! Atomic file replacement: write a temp file in the same directory, fsync it, rename it
//! over the target, fsync the directory. A crash leaves either the old or the new file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{MemoryError, Result};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Prefix of temp files; the store removes leftovers of crashed writers when it opens.
pub const TEMP_PREFIX: &str = ".tmp-sre-memory-";

/// Replace `path` with `bytes` atomically. `sync` controls the fsyncs (durability against
/// power loss); atomicity against process crashes holds either way.
pub fn write_atomic(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| MemoryError::io(dir, e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}-{name}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| MemoryError::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| MemoryError::io(&tmp, e))?;
        if sync {
            f.sync_all().map_err(|e| MemoryError::io(&tmp, e))?;
        }
        drop(f);
        fs::rename(&tmp, path).map_err(|e| MemoryError::io(path, e))?;
        if sync {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsync a directory so a rename inside it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| MemoryError::io(dir, e))
}
