//! The only module with `unsafe`: the post-fork setup of child processes (resource limits,
//! Landlock self-restriction) and the Landlock ABI probe. Process groups are killed with
//! `sre_core::process` (safe, shared with command hooks).
//!
//! Everything that allocates (building the Landlock ruleset, opening the allowed paths) is
//! done in the parent; the `pre_exec` closure only makes raw syscalls on copied integers.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// Resource limits applied to every child with `setrlimit` (soft and hard). `None` leaves
/// the inherited limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceLimits {
    /// Largest file a command may write, in bytes (`RLIMIT_FSIZE`).
    pub file_size_bytes: Option<u64>,
    /// Processes of the user (`RLIMIT_NPROC`; not enforced by the kernel for root).
    pub processes: Option<u64>,
    /// CPU seconds per process (`RLIMIT_CPU`).
    pub cpu_seconds: Option<u64>,
    /// Address space per process, in bytes (`RLIMIT_AS`).
    pub address_space_bytes: Option<u64>,
    /// Open files per process (`RLIMIT_NOFILE`).
    pub open_files: Option<u64>,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        ResourceLimits {
            file_size_bytes: Some(1 << 30),
            processes: Some(4096),
            cpu_seconds: Some(900),
            address_space_bytes: None,
            open_files: Some(4096),
        }
    }
}

impl ResourceLimits {
    /// The limits as a fixed array of `(resource, value)` pairs (no allocation in the child).
    fn table(&self) -> [(libc::__rlimit_resource_t, Option<u64>); 6] {
        [
            (libc::RLIMIT_FSIZE, self.file_size_bytes),
            (libc::RLIMIT_NPROC, self.processes),
            (libc::RLIMIT_CPU, self.cpu_seconds),
            (libc::RLIMIT_AS, self.address_space_bytes),
            (libc::RLIMIT_NOFILE, self.open_files),
            (libc::RLIMIT_CORE, Some(0)),
        ]
    }
}

/// How child processes are confined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confinement {
    /// Their own mount (read-only outside the writable mounts), PID, IPC and UTS
    /// namespaces, and a network namespace when the network is off ([`crate::namespace`]).
    Namespaces {
        /// The network policy.
        network: crate::namespace::Network,
    },
    /// Landlock alone: writes outside the writable mounts (and `/dev/null`-like devices)
    /// are denied; from ABI 6, signals and abstract sockets outside the sandbox too.
    Landlock {
        /// The kernel's Landlock ABI version.
        abi: i32,
        /// Why namespaces are not in force (bwrap missing, refused by the kernel, off).
        no_namespaces: String,
    },
    /// Not confined, and why.
    Unconfined {
        /// Why (kernel without Landlock, feature off, disabled by the host...).
        reason: String,
    },
}

impl Confinement {
    /// Whether writes are confined.
    pub fn is_active(&self) -> bool {
        !matches!(self, Confinement::Unconfined { .. })
    }

    /// The short form for a command's result header.
    pub fn label(&self) -> String {
        match self {
            Confinement::Namespaces { network } => format!(
                "namespaces: read-only outside writable mounts, own pids, network {}",
                if *network == crate::namespace::Network::Off {
                    "off"
                } else {
                    "on"
                }
            ),
            Confinement::Landlock { abi, .. } if *abi >= 6 => {
                format!("landlock ABI {abi}: writes, signals, abstract sockets; no namespaces")
            }
            Confinement::Landlock { abi, .. } => {
                format!("landlock ABI {abi}: writes only; no namespaces")
            }
            Confinement::Unconfined { .. } => "none".to_string(),
        }
    }
}

impl std::fmt::Display for Confinement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Confinement::Namespaces { .. } => write!(
                f,
                "{} (bubblewrap: no metadata changes outside, no other process visible, \
                 every process dies with the call)",
                self.label()
            ),
            Confinement::Landlock { abi, no_namespaces } if *abi >= 6 => write!(
                f,
                "landlock (ABI {abi}): writes allowed only in writable mounts; no signals \
                 or abstract UNIX sockets outside the sandbox; no namespaces: {no_namespaces}"
            ),
            Confinement::Landlock { abi, no_namespaces } => write!(
                f,
                "landlock (ABI {abi}): writes allowed only in writable mounts; signals and \
                 abstract UNIX sockets NOT scoped (kernel before 6.12); no namespaces: \
                 {no_namespaces}"
            ),
            Confinement::Unconfined { reason } => write!(f, "none ({reason})"),
        }
    }
}

/// The kernel's Landlock ABI version, if Landlock is available and enabled.
#[cfg(target_os = "linux")]
pub fn landlock_abi() -> Option<i32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: landlock_create_ruleset with a NULL attr, size 0 and the VERSION flag only
    // returns the ABI version (or -1); it reads no memory.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if v > 0 { i32::try_from(v).ok() } else { None }
}

/// The kernel's Landlock ABI version (never available off Linux).
#[cfg(not(target_os = "linux"))]
pub fn landlock_abi() -> Option<i32> {
    None
}

/// A prepared Landlock ruleset: an fd the child restricts itself with.
#[derive(Debug)]
pub struct Ruleset {
    fd: OwnedFd,
}

/// Build a ruleset that handles every write-type access and allows it only beneath
/// `writable` (directories) and on `devices` (files such as `/dev/null`).
#[cfg(all(target_os = "linux", feature = "landlock"))]
pub fn prepare_ruleset(
    writable: &[PathBuf],
    devices: &[PathBuf],
) -> Result<Option<Ruleset>, String> {
    use landlock::{
        ABI, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd,
        Ruleset as LlRuleset, RulesetAttr, RulesetCreatedAttr, Scope,
    };
    let abi = ABI::V6;
    // Device ioctls are left alone so that terminals and /dev/null behave as usual.
    let handled: BitFlags<AccessFs> =
        AccessFs::from_write(abi) & !BitFlags::from(AccessFs::IoctlDev);
    // ABI 6 scopes: no signal to a process outside the sandbox (the agent host included),
    // no connection to an abstract UNIX socket created outside it. Best effort: older
    // kernels keep the write rules, and `Confinement` says which ABI is in force.
    let mut rs = LlRuleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(handled)
        .map_err(|e| format!("landlock: {e}"))?
        .scope(Scope::Signal | Scope::AbstractUnixSocket)
        .map_err(|e| format!("landlock: {e}"))?
        .create()
        .map_err(|e| format!("landlock: {e}"))?;
    for dir in writable {
        let fd =
            PathFd::new(dir).map_err(|e| format!("landlock: opening {}: {e}", dir.display()))?;
        rs = rs
            .add_rule(PathBeneath::new(fd, handled))
            .map_err(|e| format!("landlock: {e}"))?;
    }
    let file_access = handled & AccessFs::from_file(abi);
    for dev in devices {
        if let Ok(fd) = PathFd::new(dev) {
            rs = rs
                .add_rule(PathBeneath::new(fd, file_access))
                .map_err(|e| format!("landlock: {e}"))?;
        }
    }
    let fd: Option<OwnedFd> = rs.into();
    Ok(fd.map(|fd| Ruleset { fd }))
}

/// Without the `landlock` feature (or off Linux) there is never a ruleset.
#[cfg(not(all(target_os = "linux", feature = "landlock")))]
pub fn prepare_ruleset(
    _writable: &[PathBuf],
    _devices: &[PathBuf],
) -> Result<Option<Ruleset>, String> {
    Ok(None)
}

/// Make the child a process-group leader (with `new_session`, of a session of its own:
/// no controlling terminal), apply `limits` and, if given, restrict it with `ruleset`
/// before it executes. `ruleset` must outlive the `spawn` call.
pub fn configure_child(
    cmd: &mut tokio::process::Command,
    limits: &ResourceLimits,
    ruleset: Option<&Ruleset>,
    new_session: bool,
) {
    if !new_session {
        cmd.process_group(0);
    }
    let table = limits.table();
    let fd: libc::c_int = ruleset.map(|r| r.fd.as_raw_fd()).unwrap_or(-1);
    let hook = move || -> std::io::Result<()> {
        // SAFETY: setsid is a raw, async-signal-safe syscall; the child is not a group
        // leader yet (no `process_group` above), so it succeeds and leads group and session.
        if new_session && unsafe { libc::setsid() } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        for (resource, value) in table {
            if let Some(v) = value {
                let lim = libc::rlimit {
                    rlim_cur: v as libc::rlim_t,
                    rlim_max: v as libc::rlim_t,
                };
                // SAFETY: setrlimit is async-signal-safe and reads only the stack value `lim`.
                // A failure (e.g. raising a hard limit) leaves the inherited limit.
                let _ = unsafe { libc::setrlimit(resource, &lim) };
            }
        }
        if fd >= 0 {
            // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) is a raw, async-signal-safe syscall.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: landlock_restrict_self on an fd that the parent keeps open across the
            // spawn; a raw syscall with integer arguments, async-signal-safe.
            if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the closure performs only async-signal-safe raw syscalls on copied integers and
    // a stack value; it allocates nothing and takes no locks (last_os_error only reads errno).
    unsafe {
        cmd.pre_exec(hook);
    }
}
