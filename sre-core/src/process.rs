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

/// A command made ready by a [`Confine`]: keep `keep` alive until the process has exited
/// (it holds what the confinement needs: a Landlock ruleset until the spawn, a private
/// home folder while it runs).
pub struct ConfinedCommand {
    /// The command; its stdio, extra environment and `kill_on_drop` are the caller's. It
    /// already leads its own process group (and session): do not set `process_group`.
    pub command: tokio::process::Command,
    /// Dropped once the process has exited.
    pub keep: Option<Box<dyn std::any::Any + Send>>,
    /// What confines it, for logs and errors (e.g. `namespaces: ... network on`).
    pub label: String,
}

impl std::fmt::Debug for ConfinedCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfinedCommand")
            .field("command", &self.command)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// Confines a process before it is spawned: the same rules as the agent's own commands
/// (sre-tools' executor implements it: namespaces or Landlock, a scrubbed environment,
/// resource limits). Command hooks take one, so that a governance script handling
/// untrusted input runs under those rules too.
///
/// ```
/// use sre_core::process::{Confine, ConfinedCommand};
///
/// /// No confinement at all, only a scrubbed environment (an example, not a sandbox).
/// #[derive(Debug)]
/// struct ScrubbedEnv;
///
/// #[async_trait::async_trait]
/// impl Confine for ScrubbedEnv {
///     async fn confine(
///         &self,
///         program: &str,
///         args: &[String],
///         cwd: &std::path::Path,
///     ) -> Result<ConfinedCommand, String> {
///         let mut command = tokio::process::Command::new(program);
///         command.args(args).current_dir(cwd).env_clear().process_group(0);
///         Ok(ConfinedCommand { command, keep: None, label: "environment only".into() })
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Confine: Send + Sync + std::fmt::Debug {
    /// The command that runs `program args` in `cwd`, confined; an error says why it
    /// cannot be (a required layer missing, a bad directory).
    async fn confine(
        &self,
        program: &str,
        args: &[String],
        cwd: &std::path::Path,
    ) -> Result<ConfinedCommand, String>;
}
