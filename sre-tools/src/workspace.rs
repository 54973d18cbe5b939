//! The workspace: a root directory with named mounts, and the one function every tool uses
//! to turn a model-supplied path into a host path ([`Workspace::resolve`]).
//!
//! Rules:
//! - Paths are relative to the workspace root. An absolute path is refused, unless
//!   [`WorkspaceBuilder::rooted_paths`] is on, in which case a leading `/` means the root.
//! - `..` components, NUL bytes, paths over 4096 bytes (or a component over 255) are refused.
//! - Symlinks are followed, and the *resolved* location must stay inside the root; a dangling
//!   or looping symlink is refused (writing through one could create a file anywhere).
//! - The mount a path belongs to is decided on the resolved location (longest mount prefix),
//!   so a symlink in a writable mount cannot be used to write into a read-only one.
//! - Paths under no mount are readable, never writable.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::beneath::Anchor;
use crate::error::{Error, Result};
use crate::quota::Quota;

/// Longest accepted path, in bytes.
pub const MAX_PATH_BYTES: usize = 4096;
/// Longest accepted path component, in bytes.
pub const MAX_COMPONENT_BYTES: usize = 255;

/// Whether a mount may be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountMode {
    /// Tools may read, never write (the shell is denied writes by Landlock when available).
    ReadOnly,
    /// Tools may read and write.
    Writable,
}

/// What a tool wants to do with a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read (or list, search).
    Read,
    /// Create, modify or delete.
    Write,
}

/// A named subdirectory of the workspace root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Path relative to the root (`""` is the root itself), `/`-separated.
    pub name: String,
    /// Read-only or writable.
    pub mode: MountMode,
    /// Canonical host path.
    pub host: PathBuf,
}

/// A resolved path: where it is on the host and how the model should see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Canonical host path (the final component may not exist yet).
    pub host: PathBuf,
    /// Workspace-relative path of the resolved location (`.` for the root).
    pub rel: String,
    /// The mount it falls in, if any.
    pub mount: Option<Mount>,
}

/// Builds a [`Workspace`].
#[derive(Clone, Debug)]
pub struct WorkspaceBuilder {
    root: PathBuf,
    mounts: Vec<(String, MountMode)>,
    rooted_paths: bool,
    create_writable: bool,
    quota: Option<Quota>,
}

impl WorkspaceBuilder {
    /// Add a mount: a path relative to the root (`repos/api`, `scratch`, or `.` for the root).
    /// Writable mounts are created if missing; read-only mounts must exist.
    pub fn mount(mut self, name: impl Into<String>, mode: MountMode) -> Self {
        self.mounts.push((name.into(), mode));
        self
    }

    /// When on, a leading `/` means the workspace root (`/logs/app.log` is
    /// `<root>/logs/app.log`) instead of being refused. Off by default.
    pub fn rooted_paths(mut self, on: bool) -> Self {
        self.rooted_paths = on;
        self
    }

    /// Cap what the writable mounts may hold (see [`crate::quota`]). Default: none.
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota = Some(quota);
        self
    }

    /// Whether missing writable mounts are created by [`build`](Self::build) (default true).
    pub fn create_writable_mounts(mut self, on: bool) -> Self {
        self.create_writable = on;
        self
    }

    /// Validate the root and the mounts.
    pub fn build(self) -> Result<Workspace> {
        let root = std::fs::canonicalize(&self.root).map_err(|e| Error::Config {
            path: self.root.clone(),
            reason: format!("workspace root cannot be opened: {e}"),
        })?;
        if !root.is_dir() {
            return Err(Error::Config {
                path: self.root,
                reason: "workspace root is not a directory".into(),
            });
        }
        let mut mounts = Vec::new();
        for (name, mode) in self.mounts {
            let rel = normalize_mount_name(&name).ok_or_else(|| Error::Config {
                path: PathBuf::from(&name),
                reason: "a mount is a relative path inside the root without `..`".into(),
            })?;
            let host = root.join(&rel);
            if !host.exists() && mode == MountMode::Writable && self.create_writable {
                std::fs::create_dir_all(&host).map_err(|e| Error::Config {
                    path: host.clone(),
                    reason: format!("cannot create writable mount: {e}"),
                })?;
            }
            let canon = std::fs::canonicalize(&host).map_err(|e| Error::Config {
                path: host.clone(),
                reason: format!("mount does not exist: {e}"),
            })?;
            if !canon.starts_with(&root) {
                return Err(Error::Config {
                    path: host,
                    reason: "mount resolves outside the workspace root".into(),
                });
            }
            if !canon.is_dir() {
                return Err(Error::Config {
                    path: host,
                    reason: "mount is not a directory".into(),
                });
            }
            if mounts.iter().any(|m: &Mount| m.host == canon) {
                return Err(Error::Config {
                    path: host,
                    reason: "mounted twice".into(),
                });
            }
            let name = rel_string(&root, &canon);
            mounts.push(Mount {
                name,
                mode,
                host: canon,
            });
        }
        let anchor = Anchor::open(&root).map_err(|e| Error::Config {
            path: root.clone(),
            reason: format!("workspace root cannot be opened: {e}"),
        })?;
        Ok(Workspace {
            inner: Arc::new(Inner {
                root,
                anchor,
                mounts,
                rooted_paths: self.rooted_paths,
                quota: self.quota,
            }),
        })
    }
}

fn normalize_mount_name(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    /// The root's directory handle, taken at build time: every file tool opens relative to
    /// it (see [`crate::beneath`]).
    anchor: Anchor,
    mounts: Vec<Mount>,
    rooted_paths: bool,
    quota: Option<Quota>,
}

/// A root directory with read-only and writable mounts. Cheap to clone.
///
/// ```
/// use sre_tools::{Access, MountMode, Workspace};
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::create_dir(dir.path().join("logs")).unwrap();
/// let ws = Workspace::builder(dir.path())
///     .mount("logs", MountMode::ReadOnly)
///     .mount("scratch", MountMode::Writable)
///     .build()
///     .unwrap();
/// assert!(ws.resolve("scratch/out.txt", Access::Write).is_ok());
/// let err = ws.resolve("logs/app.log", Access::Write).unwrap_err();
/// assert!(err.to_string().contains("read-only"));
/// assert!(ws.resolve("../etc/passwd", Access::Read).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Workspace {
    inner: Arc<Inner>,
}

impl Workspace {
    /// Start building a workspace rooted at `root` (which must exist).
    pub fn builder(root: impl Into<PathBuf>) -> WorkspaceBuilder {
        WorkspaceBuilder {
            root: root.into(),
            mounts: Vec::new(),
            rooted_paths: false,
            create_writable: true,
            quota: None,
        }
    }

    /// The canonical root.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The root's directory handle: the file tools open paths relative to it, never
    /// following a symlink ([`crate::beneath`]).
    pub fn anchor(&self) -> &Anchor {
        &self.inner.anchor
    }

    /// `host` (a canonical path inside the root, as [`Resolved::host`]) relative to the root,
    /// for [`Anchor`] operations; the root itself is the empty path.
    pub fn rel_path<'a>(&self, host: &'a Path) -> Result<&'a Path> {
        host.strip_prefix(&self.inner.root)
            .map_err(|_| Error::OutsideWorkspace {
                path: host.display().to_string(),
            })
    }

    /// The mounts, in the order they were declared.
    pub fn mounts(&self) -> &[Mount] {
        &self.inner.mounts
    }

    /// The quota on the writable mounts, if any.
    pub fn quota(&self) -> Option<Quota> {
        self.inner.quota
    }

    /// Whether a leading `/` means the workspace root.
    pub fn rooted_paths(&self) -> bool {
        self.inner.rooted_paths
    }

    /// The writable mounts, in declaration order (the first one holds `TMPDIR` and default
    /// checkouts).
    pub fn writable_mounts(&self) -> impl Iterator<Item = &Mount> {
        self.inner
            .mounts
            .iter()
            .filter(|m| m.mode == MountMode::Writable)
    }

    fn writable_list(&self) -> String {
        let names: Vec<String> = self
            .writable_mounts()
            .map(|m| display_mount(&m.name))
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    /// The mount containing a canonical host path.
    pub fn mount_of(&self, host: &Path) -> Option<&Mount> {
        // The innermost (longest) mount containing the path.
        self.inner
            .mounts
            .iter()
            .filter(|m| host.starts_with(&m.host))
            .max_by_key(|m| m.host.as_os_str().len())
    }

    /// Workspace-relative display form of a host path inside the root (`.` for the root).
    pub fn rel(&self, host: &Path) -> String {
        rel_string(&self.inner.root, host)
    }

    /// Resolve a model-supplied path for `access`. See the module docs for the rules.
    pub fn resolve(&self, path: &str, access: Access) -> Result<Resolved> {
        let parts = self.lexical(path)?;
        let root = &self.inner.root;
        // Walk the existing prefix; everything after the first missing component is new.
        let mut existing = root.clone();
        let mut split = parts.len();
        for (i, part) in parts.iter().enumerate() {
            let next = existing.join(part);
            match std::fs::symlink_metadata(&next) {
                Ok(_) => existing = next,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    split = i;
                    break;
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                    return Err(Error::InvalidArgument(format!(
                        "path `{path}` goes through a file as if it were a directory"
                    )));
                }
                Err(e) => return Err(Error::io("resolving", path, e)),
            }
        }
        let canon = match std::fs::canonicalize(&existing) {
            Ok(c) => c,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ELOOP) =>
            {
                return Err(Error::UnresolvableSymlink {
                    path: path.to_string(),
                });
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                return Err(Error::InvalidArgument(format!(
                    "path `{path}` goes through a file as if it were a directory"
                )));
            }
            Err(e) => return Err(Error::io("resolving", path, e)),
        };
        if !canon.starts_with(root) {
            return Err(Error::OutsideWorkspace {
                path: path.to_string(),
            });
        }
        let mut host = canon;
        for part in &parts[split..] {
            host.push(part);
        }
        if host.as_os_str().len() > MAX_PATH_BYTES {
            return Err(Error::PathTooLong {
                len: host.as_os_str().len(),
                max: MAX_PATH_BYTES,
            });
        }
        let rel = self.rel(&host);
        let mount = self.mount_of(&host).cloned();
        if access == Access::Write {
            match &mount {
                Some(m) if m.mode == MountMode::Writable => {}
                Some(m) => {
                    return Err(Error::ReadOnlyMount {
                        path: rel,
                        mount: display_mount(&m.name),
                        writable: self.writable_list(),
                    });
                }
                None => {
                    return Err(Error::NotWritable {
                        path: rel,
                        writable: self.writable_list(),
                    });
                }
            }
        }
        Ok(Resolved { host, rel, mount })
    }

    /// Check the syntax of `path` and split it into normal components.
    fn lexical<'a>(&self, path: &'a str) -> Result<Vec<&'a OsStr>> {
        if path.as_bytes().contains(&0) {
            return Err(Error::NulByte {
                path: path.replace('\0', "\\0"),
            });
        }
        if path.len() > MAX_PATH_BYTES {
            return Err(Error::PathTooLong {
                len: path.len(),
                max: MAX_PATH_BYTES,
            });
        }
        let mut rest = path.trim();
        if rest.starts_with('/') {
            if !self.inner.rooted_paths {
                return Err(Error::AbsolutePath {
                    path: path.to_string(),
                });
            }
            rest = rest.trim_start_matches('/');
        }
        if rest.starts_with('~') {
            return Err(Error::AbsolutePath {
                path: path.to_string(),
            });
        }
        let mut parts = Vec::new();
        for c in Path::new(rest).components() {
            match c {
                Component::Normal(s) => {
                    if s.len() > MAX_COMPONENT_BYTES {
                        return Err(Error::PathTooLong {
                            len: s.len(),
                            max: MAX_COMPONENT_BYTES,
                        });
                    }
                    parts.push(s);
                }
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(Error::ParentComponent {
                        path: path.to_string(),
                    });
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(Error::AbsolutePath {
                        path: path.to_string(),
                    });
                }
            }
        }
        Ok(parts)
    }
}

fn display_mount(name: &str) -> String {
    if name == "." {
        "./".into()
    } else {
        format!("{name}/")
    }
}

fn rel_string(root: &Path, host: &Path) -> String {
    match host.strip_prefix(root) {
        Ok(r) if r.as_os_str().is_empty() => ".".into(),
        Ok(r) => r.to_string_lossy().into_owned(),
        Err(_) => host.to_string_lossy().into_owned(),
    }
}
