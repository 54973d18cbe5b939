//! Commands in their own namespaces, through bubblewrap (`bwrap`, Debian's `bubblewrap`
//! package): the kernel's mount, PID, IPC, UTS (and, when the network is off, network)
//! namespaces, set up by a well-kept tool rather than by hand-written `unshare` code.
//!
//! What a command gets:
//! - **Mount namespace**: the whole filesystem read-only (`--ro-bind / /`), the writable
//!   mounts (and the executor's extra writable directories) bound read-write on top. Writes,
//!   and the metadata changes Landlock does not govern (`chmod`, `chown`, `touch -d`,
//!   `setxattr`), fail outside them with `EROFS`, for root too. A fresh `/dev` (null, zero,
//!   full, random, urandom, tty, shm) and a fresh `/proc`.
//! - **PID namespace** with its own `/proc`: no other process is visible (the agent host's
//!   environment in `/proc/<pid>/environ` cannot be named), none can be signalled, and every
//!   process of the call, `setsid` and double forks included, dies with it (when its PID 1
//!   dies, the kernel kills the rest).
//! - **Network**: on, or off (`--unshare-net`: only a loopback of its own).
//! - As an unprivileged user bwrap also needs a user namespace (`--unshare-user`); as root
//!   it does not.
//!
//! Landlock is not applied inside: a Landlock-restricted process cannot mount, so bwrap
//! could not build the sandbox; the read-only mount namespace is the stronger write rule,
//! and the PID namespace scopes signals. The executor falls back to Landlock alone,
//! visibly (the result header and [`crate::Confinement`] say so), when bwrap is missing or
//! the kernel refuses namespaces (a container without the capability).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Whether a namespaced command may use the network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Network {
    /// The host's network (default: tools fetch, connectors call out).
    #[default]
    On,
    /// A network namespace of its own with only a loopback interface.
    Off,
}

/// Namespace settings of an executor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceConfig {
    /// Run commands in namespaces when the host allows it. Default false for now: inside
    /// a PID namespace a command sees its own PIDs, and the hosts and tests that watch a
    /// command's processes by PID are being moved to other means first (issue 13).
    pub enabled: bool,
    /// The bubblewrap program (default `bwrap`, looked up in `PATH`).
    pub bwrap: PathBuf,
    /// Network policy.
    pub network: Network,
}

impl Default for NamespaceConfig {
    fn default() -> Self {
        NamespaceConfig {
            enabled: false,
            bwrap: PathBuf::from("bwrap"),
            network: Network::On,
        }
    }
}

/// A bwrap program and whether it works here.
type Probe = (PathBuf, Result<(), String>);

/// Whether bwrap works on this host, for `program`: `Ok(())` or why not. Probed once per
/// program by running it (`bwrap ... true`), so a missing binary, a kernel or container
/// that refuses namespaces, or a broken install all show here.
pub fn available(program: &Path) -> Result<(), String> {
    static PROBES: OnceLock<Mutex<Vec<Probe>>> = OnceLock::new();
    let probes = PROBES.get_or_init(|| Mutex::new(Vec::new()));
    let mut probes = probes.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, r)) = probes.iter().find(|(p, _)| p == program) {
        return r.clone();
    }
    let mut args = base_args(Network::Off);
    args.extend(["--", "true"].map(String::from));
    let result = match std::process::Command::new(program)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "{} cannot create namespaces here: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("{} not found ({e})", program.display())),
    };
    probes.push((program.to_path_buf(), result.clone()));
    result
}

/// The arguments shared by every namespaced command (before the binds of its own).
fn base_args(network: Network) -> Vec<String> {
    let mut args: Vec<String> = [
        "--die-with-parent",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
    ]
    .map(String::from)
    .to_vec();
    // As an unprivileged user bwrap (not setuid on Debian) needs a user namespace.
    if !rustix::process::geteuid().is_root() {
        args.push("--unshare-user".into());
    }
    if network == Network::Off {
        args.push("--unshare-net".into());
    }
    args
}

/// The bwrap arguments that run `program args` in `cwd`, with `writable` read-write.
pub fn wrap(
    network: Network,
    writable: &[PathBuf],
    cwd: &Path,
    program: &str,
    args: &[String],
) -> Vec<String> {
    let mut out = base_args(network);
    for dir in writable.iter().filter(|d| d.is_dir()) {
        let d = dir.display().to_string();
        out.extend(["--bind".to_string(), d.clone(), d]);
    }
    out.extend(["--chdir".to_string(), cwd.display().to_string()]);
    out.push("--".into());
    out.push(program.into());
    out.extend(args.iter().cloned());
    out
}
