//! Process groups (feature `process`): the shell and Python tools and command hooks run
//! each command as the leader of its own process group, and kill the whole group (children
//! and grandchildren) on timeout, cancellation or drop. One implementation for all of them.

/// Send SIGKILL to every process of group `pgid`. Groups 0 and 1 (ours, and every
/// process) are refused; an already-gone group is an error the caller usually ignores.
pub fn kill_process_group(pgid: u32) -> std::io::Result<()> {
    let invalid = || std::io::Error::from(std::io::ErrorKind::InvalidInput);
    let raw = i32::try_from(pgid).map_err(|_| invalid())?;
    if raw <= 1 {
        return Err(invalid());
    }
    let pid = rustix::process::Pid::from_raw(raw).ok_or_else(invalid)?;
    rustix::process::kill_process_group(pid, rustix::process::Signal::KILL)
        .map_err(std::io::Error::from)
}

/// Kills a process group when dropped, unless disarmed (the command ended and was reaped).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut cmd = tokio::process::Command::new("sleep");
/// cmd.arg("30").process_group(0);
/// let child = cmd.spawn().unwrap();
/// let guard = sre_core::process::GroupGuard::new(child.id());
/// drop(guard); // the sleep and anything it started are killed
/// # });
/// ```
#[derive(Debug)]
pub struct GroupGuard(Option<u32>);

impl GroupGuard {
    /// Guard the group led by `pgid` (a child spawned with `process_group(0)`).
    pub fn new(pgid: Option<u32>) -> Self {
        GroupGuard(pgid)
    }

    /// The group's id.
    pub fn pgid(&self) -> Option<u32> {
        self.0
    }

    /// Kill the group now (and not again on drop).
    pub fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            let _ = kill_process_group(pgid);
        }
    }

    /// Do not kill on drop.
    pub fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}
