//! Cross-process advisory locking: an exclusive lock on a lock file with std's
//! [`File::lock`] (`flock(2)` on Unix).

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{MemoryError, Result};

/// An exclusive lock on a lock file, released when dropped (the file is closed) and by
/// the kernel if the process dies, so a killed writer never leaves the store locked.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Block until the exclusive lock on `path` (created if missing) is held.
    pub fn exclusive(path: &Path) -> Result<FileLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| MemoryError::io(path, e))?;
        loop {
            match file.lock() {
                Ok(()) => return Ok(FileLock { _file: file }),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(MemoryError::io(path, e)),
            }
        }
    }
}
