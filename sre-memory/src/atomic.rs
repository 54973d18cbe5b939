//! Atomic file replacement through `sre_core::fs::write_atomic` (temp file created
//! exclusively, permissions kept, rename, fsync of data and directory when syncing), with
//! this crate's error type.

use std::fs::File;
use std::path::Path;

use crate::error::{MemoryError, Result};

/// Prefix of the temp files and folders a crashed writer may leave behind; `open` removes
/// them.
pub const TEMP_PREFIX: &str = sre_core::fs::TEMP_PREFIX;

/// The prefix earlier versions of this crate used; their leftovers are removed too.
pub const LEGACY_TEMP_PREFIX: &str = ".tmp-sre-memory-";

/// Replace `path` with `bytes` atomically, creating its folder if needed. `sync` controls
/// the fsyncs (durability against power loss); atomicity against crashes holds either way.
pub fn write_atomic(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    match sre_core::fs::write_atomic(path, bytes, sync) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A new nested topic or document: create its folder, then write.
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| MemoryError::io(dir, e))?;
            }
            sre_core::fs::write_atomic(path, bytes, sync)
        }
        other => other,
    }
    .map_err(|e| MemoryError::io(path, e))
}

/// fsync a directory so a rename inside it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| MemoryError::io(dir, e))
}
