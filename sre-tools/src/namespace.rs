//! Commands in their own namespaces, through bubblewrap (`bwrap`, Debian's `bubblewrap`
//! package): the kernel's mount, PID, IPC, UTS (and, when the network is off, network)
//! namespaces, set up by a well-kept tool rather than by hand-written `unshare` code.
//!
//! What a command gets:
//! - **Mount namespace**: the whole filesystem read-only (`--ro-bind / /`), the writable
//!   mounts (and the executor's extra writable directories) bound read-write on top. Writes,
//!   and the metadata changes Landlock does not govern (`chmod`, `chown`, `touch -d`,
//!   `setxattr`), fail outside them with `EROFS`, for root too (no capabilities inside). A fresh `/dev` (null, zero,
//!   full, random, urandom, tty, shm) and a fresh `/proc`.
//! - **PID namespace** with its own `/proc`: no other process is visible (the agent host's
//!   environment in `/proc/<pid>/environ` cannot be named), none can be signalled, and every
//!   process of the call, `setsid` and double forks included, dies with it (when its PID 1
//!   dies, the kernel kills the rest).
//! - **Network**: on, or off (`--unshare-net`: only a loopback of its own).
//! - A user namespace and no capabilities (`--unshare-user --cap-drop ALL`), for root too:
//!   a root command keeping its capabilities could remount `/` read-write.
//! - With the network off, also no host UNIX socket: empty folders over `/run`, `/tmp` and
//!   `/var/tmp` (the workspace is bound again on top).
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
    // A user namespace and no capabilities, for root too: a root command with its
    // capabilities could remount `/` read-write, or reach the host's firewall and routes.
    // (As an unprivileged user bwrap, not setuid on Debian, needs the user namespace anyway.)
    args.extend(["--unshare-user", "--cap-drop", "ALL"].map(String::from));
    if network == Network::Off {
        args.push("--unshare-net".into());
        // Without a network, no host socket either: the UNIX sockets under /run and /tmp
        // (a container engine's, a database's) are hidden behind empty folders.
        for dir in ["/run", "/tmp", "/var/tmp"] {
            // Small: the command's own temp files go to its private TMPDIR in a mount.
            args.extend(["--size", "16777216", "--tmpfs", dir].map(String::from));
        }
    }
    args
}

/// The bwrap arguments that run `program args` in `cwd`, the workspace `root` readable
/// and `writable` read-write. A writable directory that does not exist is an error (as
/// under Landlock), never silently read-only.
pub fn wrap(
    network: Network,
    root: &Path,
    writable: &[PathBuf],
    cwd: &Path,
    program: &str,
    args: &[String],
) -> Result<Vec<String>, String> {
    let mut out = base_args(network);
    // Again over what the tmpfs folders may hide (a workspace under /tmp).
    let r = root.display().to_string();
    out.extend(["--ro-bind".to_string(), r.clone(), r]);
    for dir in writable {
        if !dir.is_dir() {
            return Err(format!(
                "writable directory {} does not exist",
                dir.display()
            ));
        }
        let d = dir.display().to_string();
        out.extend(["--bind".to_string(), d.clone(), d]);
    }
    out.extend(["--chdir".to_string(), cwd.display().to_string()]);
    out.push("--".into());
    out.push(program.into());
    out.extend(args.iter().cloned());
    Ok(out)
}
