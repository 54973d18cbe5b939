//! The only `unsafe` of the crate: two libc calls without a safe std equivalent at the
//! workspace's MSRV (`killpg` for process groups, `flock` for the audit log).
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;

/// Send SIGKILL to every process of the process group `pgid`. Errors (e.g. `ESRCH`: the
/// group is already gone) are returned, and usually ignored by callers.
pub(crate) fn kill_process_group(pgid: u32) -> std::io::Result<()> {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    };
    if pgid <= 1 {
        // Never signal group 0 (our own) or 1.
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    // SAFETY: killpg takes plain integers and has no memory-safety preconditions; pgid is
    // a group we created with `process_group(0)` and is > 1, so it cannot address our own
    // group or every process.
    let rc = unsafe { libc::killpg(pgid, libc::SIGKILL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Take an exclusive `flock` on `file`, blocking until it is granted. The lock is released
/// when the file (its open file description) is closed.
pub(crate) fn lock_exclusive(file: &File) -> std::io::Result<()> {
    loop {
        // SAFETY: the descriptor is valid for the lifetime of `file`, which outlives the
        // call; flock does not touch memory.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
