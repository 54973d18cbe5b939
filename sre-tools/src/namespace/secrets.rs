//! What commands must not read: the default hidden paths (users' homes, system secrets,
//! sockets that would hand out the host's rights) and the toolchains inside those homes
//! that stay readable.

use std::path::{Path, PathBuf};

/// Credential files and folders under a home, relative to it: hidden again inside a
/// toolchain folder of a home that is exposed (`~/.cargo/credentials.toml`).
pub const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config",
    ".oci",
    ".kube",
    ".docker",
    ".netrc",
    ".git-credentials",
    ".pgpass",
    ".my.cnf",
    ".npmrc",
    ".pypirc",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".terraform.d",
    ".vault-token",
    ".boto",
    ".s3cfg",
    ".password-store",
    ".local/share/keyrings",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".lesshst",
    ".viminfo",
];

/// System paths holding secrets, or sockets that grant the host's rights to whoever
/// connects (a container engine's is root on the host).
pub const SYSTEM_SECRETS: &[&str] = &[
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
    "/run/user",
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/containerd",
    "/run/podman",
    "/run/crio",
    "/run/dbus",
    "/tmp/.X11-unix",
];

/// Folders that are never a user's home, whatever `$HOME` says (a test sets `HOME=/tmp`).
const NOT_A_HOME: &[&str] = &["/", "/tmp", "/var/tmp", "/dev/shm", "/usr", "/etc", "/var"];

/// The users' homes: `/home`, `/root`, and `$HOME` when it is elsewhere.
pub fn homes() -> Vec<PathBuf> {
    let mut homes = vec![PathBuf::from("/home"), PathBuf::from("/root")];
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from)
        && home.is_absolute()
        && !NOT_A_HOME.iter().any(|n| home == Path::new(n))
        && !homes.iter().any(|h| home.starts_with(h))
    {
        homes.push(home);
    }
    homes
}

/// The default hidden paths: the homes whole ([`homes`]), [`SYSTEM_SECRETS`], the SSH host
/// keys, ssh-agent sockets in `/tmp`, and [`HOME_SECRETS`] in every home (what an exposed
/// toolchain folder may hold).
pub fn default_hidden() -> Vec<PathBuf> {
    let homes = homes();
    let mut hidden: Vec<PathBuf> = homes.clone();
    hidden.extend(SYSTEM_SECRETS.iter().map(PathBuf::from));
    let matching = |dir: &str, keep: &dyn Fn(&str) -> bool| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| keep(&e.file_name().to_string_lossy()))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
    };
    hidden.extend(matching("/etc/ssh", &|n| {
        n.starts_with("ssh_host_") && n.ends_with("_key")
    }));
    hidden.extend(matching("/tmp", &|n| n.starts_with("ssh-")));
    for home in home_dirs(&homes) {
        hidden.extend(HOME_SECRETS.iter().map(|rel| home.join(rel)));
    }
    hidden
}

/// Each user's home folder: `/root`, `$HOME`, and the folders in `/home`.
fn home_dirs(homes: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for home in homes {
        if home == Path::new("/home") {
            if let Ok(entries) = std::fs::read_dir(home) {
                dirs.extend(entries.flatten().map(|e| e.path()));
            }
        } else {
            dirs.push(home.clone());
        }
    }
    dirs
}

/// The toolchains inside the homes that commands need: for each `PATH` entry in a home,
/// the home's top folder it lies in (`~/.cargo/bin` exposes `~/.cargo`, `~/.pyenv/shims`
/// `~/.pyenv`), `PYENV_ROOT`, and `~/.rustup` next to an exposed `~/.cargo`. Their
/// credential files stay hidden ([`HOME_SECRETS`]).
pub fn default_exposed() -> Vec<PathBuf> {
    let homes = home_dirs(&homes());
    let mut exposed: Vec<PathBuf> = Vec::new();
    let mut add = |p: PathBuf| {
        if !exposed.contains(&p) {
            exposed.push(p);
        }
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut entries: Vec<PathBuf> = std::env::split_paths(&path).collect();
    entries.extend(std::env::var_os("PYENV_ROOT").map(PathBuf::from));
    for entry in entries.into_iter().filter(|p| p.is_absolute()) {
        for home in &homes {
            if let Ok(rest) = entry.strip_prefix(home)
                && let Some(top) = rest.components().next()
            {
                let top = home.join(top);
                if top.file_name().is_some_and(|n| n == ".cargo") {
                    add(home.join(".rustup"));
                }
                add(top);
            }
        }
    }
    for home in &homes {
        // pyenv's default root, which the executor hands to commands when it exists.
        add(home.join(".pyenv"));
    }
    exposed
}
