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
//! - **Hidden secrets**: the paths of [`NamespaceConfig::hidden`] (by default
//!   [`default_hidden`]: the users' homes whole, the system's password hashes, sudoers and
//!   SSH host keys, the platform's mounted secrets, and the sockets that hand out the host's
//!   rights: a container engine's, ssh-agent's, the session bus, X11) are replaced by an
//!   empty read-only folder, or `/dev/null` for a file (reading it then fails: the mount is
//!   `nodev`). Inside hidden folders, [`NamespaceConfig::exposed`] paths stay readable (by
//!   default [`default_exposed`]: the toolchains `PATH` points into, such as `~/.cargo` or
//!   `~/.pyenv`), their credential files hidden again. A host adds its own secret paths (the
//!   agent home, whose files may hold tokens).
//! - Its own session (`--new-session`): no controlling terminal, so no `TIOCSTI` typing
//!   into the operator's terminal.
//!
//! Mounts are laid parents first (a folder before what lies inside it), so a workspace
//! inside a hidden folder is bound again on top, and a hidden path inside the workspace is
//! hidden on top of it; a hidden path that *is* the workspace or a writable folder is an
//! error. The view is fixed when the command starts: a persistent Python worker keeps it.
//!
//! Landlock is not applied inside: a Landlock-restricted process cannot mount, so bwrap
//! could not build the sandbox; the read-only mount namespace is the stronger write rule,
//! and the PID namespace scopes signals. The executor falls back to Landlock alone,
//! visibly (the result header and [`crate::Confinement`] say so), when bwrap is missing or
//! the kernel refuses namespaces (a container without the capability).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

mod secrets;

pub use secrets::{HOME_SECRETS, SYSTEM_SECRETS, default_exposed, default_hidden, homes};

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
    /// Run commands in namespaces when the host allows it (default true; when bwrap is
    /// missing or refused, Landlock applies and the result header says why).
    pub enabled: bool,
    /// The bubblewrap program (default `bwrap`, looked up in `PATH`).
    pub bwrap: PathBuf,
    /// Network policy.
    pub network: Network,
    /// Paths hidden from commands (an empty folder or `/dev/null` in their place); those
    /// that do not exist are skipped. Default: [`default_hidden`].
    pub hidden: Vec<PathBuf>,
    /// Paths inside hidden folders that stay readable. Default: [`default_exposed`].
    pub exposed: Vec<PathBuf>,
}

impl Default for NamespaceConfig {
    fn default() -> Self {
        NamespaceConfig {
            enabled: true,
            bwrap: PathBuf::from("bwrap"),
            network: Network::On,
            hidden: default_hidden(),
            exposed: default_exposed(),
        }
    }
}

/// What a working bwrap offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Features {
    /// `--size` for tmpfs (bubblewrap 0.8.0 and later).
    tmpfs_size: bool,
}

/// A bwrap program and whether it works here.
type Probe = (PathBuf, Result<Features, String>);

fn probe(program: &Path) -> Result<Features, String> {
    static PROBES: OnceLock<Mutex<Vec<Probe>>> = OnceLock::new();
    let probes = PROBES.get_or_init(|| Mutex::new(Vec::new()));
    let mut probes = probes.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, r)) = probes.iter().find(|(p, _)| p == program) {
        return r.clone();
    }
    let result = run_probe(program);
    probes.push((program.to_path_buf(), result.clone()));
    result
}

fn run_probe(program: &Path) -> Result<Features, String> {
    let version = std::process::Command::new(program)
        .arg("--version")
        .output()
        .map_err(|e| format!("{} not found ({e})", program.display()))?;
    // "bubblewrap 0.8.0"
    let text = String::from_utf8_lossy(&version.stdout);
    let numbers: Vec<u32> = text
        .split_whitespace()
        .last()
        .unwrap_or("")
        .split('.')
        .map_while(|n| n.parse().ok())
        .collect();
    let features = Features {
        tmpfs_size: numbers.as_slice() >= [0, 8].as_slice(),
    };
    let mut args = base_args(Network::Off, features);
    args.extend(["--", "true"].map(String::from));
    match std::process::Command::new(program)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
    {
        Ok(out) if out.status.success() => Ok(features),
        Ok(out) => Err(format!(
            "{} cannot create namespaces here: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("{} not found ({e})", program.display())),
    }
}

/// Whether bwrap works on this host, for `program`: `Ok(())` or why not. Probed once per
/// program by running it (`bwrap ... true`), so a missing binary, a kernel or container
/// that refuses namespaces, or a broken install all show here.
pub fn available(program: &Path) -> Result<(), String> {
    probe(program).map(|_| ())
}

/// The arguments shared by every namespaced command (before the mounts of its own).
fn base_args(network: Network, features: Features) -> Vec<String> {
    let mut args: Vec<String> = [
        "--die-with-parent",
        "--new-session",
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
            tmpfs(&mut args, features, "1777", 16 << 20, dir);
        }
    }
    args
}

/// A tmpfs at `dir` with `mode`, capped at `bytes` where bwrap can cap it.
fn tmpfs(args: &mut Vec<String>, features: Features, mode: &str, bytes: u64, dir: &str) {
    args.extend(["--perms".to_string(), mode.to_string()]);
    if features.tmpfs_size {
        args.extend(["--size".to_string(), bytes.to_string()]);
    }
    args.extend(["--tmpfs".to_string(), dir.to_string()]);
}

/// One mount of a command's view.
#[derive(Debug)]
enum Mount {
    /// An empty read-only folder, or `/dev/null` over a file.
    Hide { dir: bool },
    /// Bound read-only from the host (the workspace root, exposed toolchains, readable
    /// folders).
    ReadOnly,
    /// Bound read-write from the host.
    Writable,
}

/// The paths of `config` and of the call, resolved and laid parents first.
fn plan(
    config: &NamespaceConfig,
    root: &Path,
    writable: &[PathBuf],
    readable: &[PathBuf],
) -> Result<Vec<(PathBuf, Mount)>, String> {
    let mut plan: Vec<(PathBuf, Mount)> = Vec::new();
    fn put(plan: &mut Vec<(PathBuf, Mount)>, path: PathBuf, mount: Mount) {
        if !plan.iter().any(|(p, _)| *p == path) {
            plan.push((path, mount));
        }
    }
    put(&mut plan, root.to_path_buf(), Mount::ReadOnly);
    for dir in writable {
        if !dir.is_dir() {
            return Err(format!(
                "writable directory {} does not exist",
                dir.display()
            ));
        }
        put(&mut plan, dir.clone(), Mount::Writable);
    }
    // Folders the command must read (a Python environment's): bound again if hidden.
    for path in readable.iter().chain(&config.exposed) {
        if let Ok(real) = std::fs::canonicalize(path) {
            put(&mut plan, real, Mount::ReadOnly);
        }
    }
    for path in &config.hidden {
        // A path that cannot be resolved does not exist (or cannot be reached): nothing to hide.
        let Ok(real) = std::fs::canonicalize(path) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&real) else {
            continue;
        };
        if real == Path::new("/") {
            continue;
        }
        if let Some((_, mount)) = plan.iter().find(|(p, _)| *p == real) {
            match mount {
                Mount::ReadOnly if real != root => continue, // exposed on purpose
                Mount::Hide { .. } => continue,
                _ => {
                    return Err(format!(
                        "{} is both hidden from commands and their {}: hide something else, \
                         or give commands another workspace",
                        real.display(),
                        if real == root {
                            "workspace"
                        } else {
                            "writable folder"
                        }
                    ));
                }
            }
        }
        put(&mut plan, real, Mount::Hide { dir: meta.is_dir() });
    }
    // Parents first: each mount lands on top of those of the folders that contain it.
    plan.sort_by_key(|(p, _)| p.components().count());
    Ok(plan)
}

/// The bwrap arguments that run `program args` in `cwd`, the workspace `root` readable,
/// `writable` read-write and `readable` readable even inside hidden folders. A writable
/// directory that does not exist is an error (as under Landlock), never silently read-only.
#[allow(clippy::too_many_arguments)]
pub fn wrap(
    config: &NamespaceConfig,
    network: Network,
    root: &Path,
    writable: &[PathBuf],
    readable: &[PathBuf],
    cwd: &Path,
    program: &str,
    args: &[String],
) -> Result<Vec<String>, String> {
    let features = probe(&config.bwrap)?;
    let mut out = base_args(network, features);
    let mut hidden_folders = Vec::new();
    for (path, mount) in plan(config, root, writable, readable)? {
        let p = path.display().to_string();
        match mount {
            Mount::Hide { dir: true } => {
                // Tiny: it only holds the mount points of what is bound inside it.
                tmpfs(&mut out, features, "0555", 64 << 10, &p);
                hidden_folders.push(p);
            }
            Mount::Hide { dir: false } => {
                out.extend(["--ro-bind".to_string(), "/dev/null".to_string(), p]);
            }
            Mount::ReadOnly => out.extend(["--ro-bind".to_string(), p.clone(), p]),
            Mount::Writable => out.extend(["--bind".to_string(), p.clone(), p]),
        }
    }
    // Read-only once everything inside them is mounted (bwrap creates the mount points).
    for dir in hidden_folders {
        out.extend(["--remount-ro".to_string(), dir]);
    }
    out.extend(["--chdir".to_string(), cwd.display().to_string()]);
    out.push("--".into());
    out.push(program.into());
    out.extend(args.iter().cloned());
    Ok(out)
}
