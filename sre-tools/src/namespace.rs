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
//!   [`default_hidden`]: the host user's credential files and folders such as `~/.ssh`,
//!   `~/.aws`, `~/.kube`, `~/.netrc`, the system's password hashes and SSH host keys, and
//!   the platform's mounted secrets) are replaced by an empty read-only folder or an empty
//!   file. Other files the host user can read stay readable (tools need the system); a host
//!   adds its own secret paths (the agent home, whose files may hold tokens) to the list.
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
    /// Run commands in namespaces when the host allows it (default true; when bwrap is
    /// missing or refused, Landlock applies and the result header says why).
    pub enabled: bool,
    /// The bubblewrap program (default `bwrap`, looked up in `PATH`).
    pub bwrap: PathBuf,
    /// Network policy.
    pub network: Network,
    /// Paths hidden from commands (an empty folder or file in their place); those that do
    /// not exist are skipped. Default: [`default_hidden`].
    pub hidden: Vec<PathBuf>,
}

impl Default for NamespaceConfig {
    fn default() -> Self {
        NamespaceConfig {
            enabled: true,
            bwrap: PathBuf::from("bwrap"),
            network: Network::On,
            hidden: default_hidden(),
        }
    }
}

/// Credential files and folders under a user's home, relative to it.
const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".oci",
    ".kube",
    ".docker",
    ".config/gh",
    ".config/hub",
    ".netrc",
    ".git-credentials",
    ".config/git/credentials",
    ".pgpass",
    ".my.cnf",
    ".npmrc",
    ".pypirc",
    ".config/pip/pip.conf",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".terraform.d/credentials.tfrc.json",
    ".vault-token",
    ".boto",
    ".s3cfg",
    ".password-store",
    ".local/share/keyrings",
];

/// System paths holding secrets.
const SYSTEM_SECRETS: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/shadow-",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssl/private",
    "/run/secrets",
    "/var/run/secrets",
    "/var/lib/kubelet",
];

/// The default hidden paths: [`SYSTEM_SECRETS`], the SSH host keys in `/etc/ssh`, and the
/// credential files of the host user's home (`$HOME`) and of root's (`/root`).
pub fn default_hidden() -> Vec<PathBuf> {
    let mut hidden: Vec<PathBuf> = SYSTEM_SECRETS.iter().map(PathBuf::from).collect();
    if let Ok(entries) = std::fs::read_dir("/etc/ssh") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("ssh_host_") && name.ends_with("_key") {
                hidden.push(entry.path());
            }
        }
    }
    let mut homes = vec![PathBuf::from("/root")];
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from)
        && home.is_absolute()
        && !homes.contains(&home)
    {
        homes.push(home);
    }
    for home in homes {
        hidden.extend(HOME_SECRETS.iter().map(|rel| home.join(rel)));
    }
    hidden
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
    let (mut args, _) = base_args(Network::Off, &[]);
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
///
/// Returns the arguments and the hidden folders, which [`wrap`] makes read-only after the
/// binds (a workspace inside a hidden folder is bound again on top first).
fn base_args(network: Network, hidden: &[PathBuf]) -> (Vec<String>, Vec<String>) {
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
    let folders = hide(&mut args, hidden);
    (args, folders)
}

/// Cover each existing path of `hidden` (symbolic links resolved, so the secret itself is
/// covered): a folder by an empty tmpfs (returned, to be made read-only once the binds are
/// in place), anything else by `/dev/null`.
fn hide(args: &mut Vec<String>, hidden: &[PathBuf]) -> Vec<String> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut folders = Vec::new();
    for path in hidden {
        // A path that cannot be resolved does not exist (or cannot be reached): nothing to hide.
        let Ok(real) = std::fs::canonicalize(path) else {
            continue;
        };
        if seen.contains(&real) || real == Path::new("/") {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&real) else {
            continue;
        };
        let r = real.display().to_string();
        if meta.is_dir() {
            // Tiny: it only holds the mount points of a workspace bound inside it.
            args.extend(["--perms", "0555", "--size", "65536", "--tmpfs"].map(String::from));
            args.push(r.clone());
            folders.push(r);
        } else {
            args.extend(["--ro-bind".to_string(), "/dev/null".to_string(), r]);
        }
        seen.push(real);
    }
    folders
}

/// The bwrap arguments that run `program args` in `cwd`, the workspace `root` readable
/// and `writable` read-write. A writable directory that does not exist is an error (as
/// under Landlock), never silently read-only.
pub fn wrap(
    config: &NamespaceConfig,
    network: Network,
    root: &Path,
    writable: &[PathBuf],
    cwd: &Path,
    program: &str,
    args: &[String],
) -> Result<Vec<String>, String> {
    let (mut out, hidden_folders) = base_args(network, &config.hidden);
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
    for dir in hidden_folders {
        out.extend(["--remount-ro".to_string(), dir]);
    }
    out.extend(["--chdir".to_string(), cwd.display().to_string()]);
    out.push("--".into());
    out.push(program.into());
    out.extend(args.iter().cloned());
    Ok(out)
}
