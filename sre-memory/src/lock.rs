//! Cross-process advisory locking with `flock(2)`: the only module allowed `unsafe`.

#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::{MemoryError, Result};

/// An exclusive `flock` on a lock file, released on drop (and by the kernel if the process
/// dies, so a killed writer never leaves the store locked).
#[derive(Debug)]
pub struct FileLock {
    file: File,
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
            // SAFETY: `file` is an open file owned by this function, so its descriptor is
            // valid for the duration of the call; flock does not touch memory we own.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(MemoryError::io(path, err));
            }
        }
        Ok(FileLock { file })
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // SAFETY: the descriptor belongs to `self.file`, which is still open here. Closing
        // the file would release the lock anyway; unlocking first just makes it prompt.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}
