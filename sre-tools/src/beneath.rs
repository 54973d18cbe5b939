//! Workspace files opened relative to a directory handle, so that no component of a path can
//! be swapped for a symlink between the check and the open.
//!
//! [`Workspace::resolve`](crate::Workspace::resolve) decides where a model-supplied path
//! leads and whether it may be written; the host path it returns is canonical (no symlinks).
//! The tools then open that path relative to the workspace root's directory handle, taken
//! when the workspace was built, with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)`. A process that replaced a directory of the path with a symlink
//! in the meantime (a background job the agent left running, say) makes the open fail
//! (`ELOOP`) instead of leading it outside. Kernels without `openat2` (before 5.6) get the
//! same walk one component at a time with `O_NOFOLLOW`.
//!
//! Opening for reading is non-blocking and checks the file type on the open handle: a FIFO,
//! socket or device is refused instead of hanging the call or reading a device.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// The workspace root's directory handle.
#[derive(Debug)]
pub struct Anchor {
    root: OwnedFd,
    /// Walk component by component even where `openat2` exists (tests of the fallback).
    force_walk: bool,
}

const DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// What a path that is not a regular file is, for error messages.
pub fn kind_name(t: FileType) -> &'static str {
    match t {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symlink",
        FileType::Fifo => "FIFO (named pipe)",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Unknown => "file of unknown type",
    }
}

/// Why a path was not opened.
#[derive(Debug)]
pub enum OpenError {
    /// A component of the path is (now) a symlink: the path changed after it was resolved.
    Changed,
    /// The path is not a regular file (a FIFO, socket, device...; or a directory).
    NotRegular(FileType),
    /// Any other failure (not found, permission...).
    Io(io::Error),
}

impl From<Errno> for OpenError {
    fn from(e: Errno) -> Self {
        if e == Errno::LOOP || e == Errno::XDEV {
            OpenError::Changed
        } else {
            OpenError::Io(e.into())
        }
    }
}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> Self {
        OpenError::Io(e)
    }
}

impl Anchor {
    /// Take a handle on the directory `root`.
    pub fn open(root: &Path) -> io::Result<Self> {
        let root = rfs::open(root, DIR, Mode::empty())?;
        Ok(Anchor {
            root,
            force_walk: false,
        })
    }

    /// The same anchor, walking component by component (as on kernels without `openat2`).
    #[doc(hidden)]
    pub fn walking(root: &Path) -> io::Result<Self> {
        Ok(Anchor {
            force_walk: true,
            ..Anchor::open(root)?
        })
    }

    /// Open `rel` (relative to the root: normal components only) with `flags`; no
    /// component, the last included, may be a symlink.
    fn open_at(&self, rel: &Path, flags: OFlags, mode: Mode) -> Result<OwnedFd, OpenError> {
        let parts = components(rel)?;
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if !self.force_walk {
            let path: &Path = if parts.is_empty() {
                Path::new(".")
            } else {
                rel
            };
            let resolve =
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
            match rfs::openat2(&self.root, path, flags, mode, resolve) {
                Err(Errno::NOSYS) => {}
                other => return Ok(other?),
            }
        }
        let Some((last, dirs)) = parts.split_last() else {
            return Ok(rfs::openat(&self.root, ".", flags, mode)?);
        };
        let mut dir: Option<OwnedFd> = None;
        for part in dirs {
            let base = dir.as_ref().map_or(self.root.as_fd(), |d| d.as_fd());
            dir = Some(open_dir(base, part)?);
        }
        let base = dir.as_ref().map_or(self.root.as_fd(), |d| d.as_fd());
        Ok(rfs::openat(base, *last, flags, mode)?)
    }

    /// Open the regular file `rel` for reading. The open does not block (a FIFO without a
    /// writer cannot hang it), and anything but a regular file is refused.
    pub fn read(&self, rel: &Path) -> Result<File, OpenError> {
        // The type is checked before opening too, so a device is never opened at all (and
        // never becomes a controlling terminal: O_NOCTTY besides), and on the handle after.
        let (parent, name) = self.parent_of(rel, false)?;
        match rfs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                FileType::RegularFile => {}
                FileType::Symlink => return Err(OpenError::Changed),
                kind => return Err(OpenError::NotRegular(kind)),
            },
            Err(e) => return Err(e.into()),
        }
        let flags =
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rfs::openat(&parent, name, flags, Mode::empty())?;
        let kind = FileType::from_raw_mode(rfs::fstat(&fd)?.st_mode);
        if kind != FileType::RegularFile {
            return Err(OpenError::NotRegular(kind));
        }
        Ok(File::from(fd))
    }

    /// Open the directory `rel` (for listing).
    pub fn dir(&self, rel: &Path) -> Result<OwnedFd, OpenError> {
        match self.open_at(rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()) {
            // With O_DIRECTORY a symlink at the end is reported as ENOTDIR: say "changed".
            Err(OpenError::Io(e)) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                match self.kind(rel)? {
                    Some(FileType::Symlink) => Err(OpenError::Changed),
                    _ => Err(OpenError::Io(e)),
                }
            }
            other => other,
        }
    }

    /// The type of `rel` without following a symlink at its end, or `None` if it does not
    /// exist.
    pub fn kind(&self, rel: &Path) -> Result<Option<FileType>, OpenError> {
        let (parent, name) = self.parent_of(rel, false)?;
        match rfs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Replace the file `rel` with `bytes`: missing parent directories are created (each
    /// relative to its parent's handle), a temporary file is created exclusively beside it,
    /// written, given the old file's permissions (0644 for a new one, less the umask), and
    /// renamed over it; a symlink or FIFO at `rel` is replaced, never followed or written
    /// through. No fsync (see the write tools). Returns whether `rel` existed.
    pub fn replace(&self, rel: &Path, bytes: &[u8]) -> Result<bool, OpenError> {
        let (parent, name) = self.parent_of(rel, true)?;
        replace_in(&parent, name, bytes)
    }

    /// The handle of `rel`'s parent directory (created when `create`) and `rel`'s last name.
    fn parent_of<'a>(
        &self,
        rel: &'a Path,
        create: bool,
    ) -> Result<(OwnedFd, &'a OsStr), OpenError> {
        let parts = components(rel)?;
        let Some((name, dirs)) = parts.split_last() else {
            return Err(OpenError::NotRegular(FileType::Directory));
        };
        if !create {
            let parent: std::path::PathBuf = dirs.iter().collect();
            return Ok((self.dir(&parent)?, name));
        }
        let mut dir = rfs::openat(&self.root, ".", DIR, Mode::empty())?;
        for part in dirs {
            match rfs::mkdirat(&dir, *part, Mode::from_raw_mode(0o777)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            dir = open_dir(dir.as_fd(), part)?;
        }
        Ok((dir, name))
    }

    /// The root handle, for operations relative to it.
    pub fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }
}

/// [`Anchor::replace`] for the entry `name` of the directory `dir`.
pub fn replace_in(dir: &OwnedFd, name: &OsStr, bytes: &[u8]) -> Result<bool, OpenError> {
    let old = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Some(st),
        Err(Errno::NOENT) => None,
        Err(e) => return Err(e.into()),
    };
    let mut mode = Mode::from_raw_mode(0o644);
    if let Some(st) = &old {
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind == FileType::Directory {
            return Err(OpenError::NotRegular(kind));
        }
        if kind == FileType::RegularFile {
            // Never setuid/setgid/sticky: the content is the model's.
            mode = Mode::from_raw_mode(st.st_mode & 0o777);
        }
    }
    let tmp = sre_core::fs::temp_name(&name.to_string_lossy());
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut file = File::from(rfs::openat(dir, &tmp, flags, mode)?);
    let written = file.write_all(bytes).map_err(OpenError::Io).and_then(|()| {
        if old.is_some() {
            rfs::fchmod(&file, mode)?;
        }
        Ok(rfs::renameat(dir, &tmp, dir, name)?)
    });
    if written.is_err() {
        let _ = rfs::unlinkat(dir, &tmp, AtFlags::empty());
    }
    written.map(|()| old.is_some())
}

/// The names in the directory `dir` (without `.` and `..`).
pub fn entries(dir: &OwnedFd) -> io::Result<Vec<std::ffi::OsString>> {
    use std::os::unix::ffi::OsStringExt;
    let mut names = Vec::new();
    for entry in rfs::Dir::read_from(dir)? {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(std::ffi::OsString::from_vec(name));
        }
    }
    Ok(names)
}

/// Open the directory `name` in `base`, never through a symlink (with `O_DIRECTORY`, Linux
/// reports a symlink as `ENOTDIR`: told apart from a file here).
pub fn open_dir(base: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd, OpenError> {
    match rfs::openat(base, name, DIR, Mode::empty()) {
        Err(Errno::NOTDIR)
            if rfs::statat(base, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink) =>
        {
            Err(OpenError::Changed)
        }
        other => Ok(other?),
    }
}

/// The normal components of `rel`; anything else (`..`, `/`) is refused.
fn components(rel: &Path) -> Result<Vec<&OsStr>, OpenError> {
    rel.components()
        .filter(|c| *c != Component::CurDir)
        .map(|c| match c {
            Component::Normal(s) => Ok(s),
            _ => Err(OpenError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a plain relative path",
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(root: &Path) -> [Anchor; 2] {
        [
            Anchor::open(root).unwrap_or_else(|e| panic!("{e}")),
            Anchor::walking(root).unwrap_or_else(|e| panic!("{e}")),
        ]
    }

    #[test]
    fn symlinks_anywhere_in_the_path_are_refused_by_both_walks() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(root.join("scratch/sub")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(&outside).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(outside.join("secret"), "s").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.join("scratch/sub/ok"), "ok").unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(&outside, root.join("scratch/link"))
            .unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink("sub/ok", root.join("scratch/file-link"))
            .unwrap_or_else(|e| panic!("{e}"));
        for a in both(&root) {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut a
                    .read(Path::new("scratch/sub/ok"))
                    .unwrap_or_else(|e| panic!("{e:?}")),
                &mut text,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(text, "ok");
            for p in ["scratch/link/secret", "scratch/file-link"] {
                assert!(
                    matches!(a.read(Path::new(p)), Err(OpenError::Changed)),
                    "{p}"
                );
            }
            assert!(matches!(
                a.replace(Path::new("scratch/link/new"), b"x"),
                Err(OpenError::Changed)
            ));
            assert!(!outside.join("new").exists());
            // Writing at a symlink replaces the link, never the file it points at.
            assert!(
                a.replace(Path::new("scratch/file-link"), b"new")
                    .unwrap_or_else(|e| panic!("{e:?}"))
            );
            assert_eq!(
                std::fs::read_to_string(root.join("scratch/sub/ok"))
                    .ok()
                    .as_deref(),
                Some("ok")
            );
            std::fs::remove_file(root.join("scratch/file-link")).unwrap_or_else(|e| panic!("{e}"));
            std::os::unix::fs::symlink("sub/ok", root.join("scratch/file-link"))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(
                a.read(Path::new("../outside/secret")),
                Err(OpenError::Io(_))
            ));
        }
    }

    #[test]
    fn fifos_are_refused_without_blocking_and_writes_keep_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = tmp.path();
        rfs::mknodat(
            rfs::CWD,
            root.join("fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for a in both(root) {
            assert!(matches!(
                a.read(Path::new("fifo")),
                Err(OpenError::NotRegular(FileType::Fifo))
            ));
            assert!(
                !a.replace(Path::new("new/dir/f.sh"), b"#!/bin/sh\n")
                    .unwrap_or_else(|e| panic!("{e:?}"))
            );
            std::fs::set_permissions(
                root.join("new/dir/f.sh"),
                std::fs::Permissions::from_mode(0o750),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                a.replace(Path::new("new/dir/f.sh"), b"#!/bin/sh\ntrue\n")
                    .unwrap_or_else(|e| panic!("{e:?}"))
            );
            let mode = std::fs::metadata(root.join("new/dir/f.sh"))
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            assert_eq!(mode, 0o750);
            std::fs::remove_dir_all(root.join("new")).unwrap_or_else(|e| panic!("{e}"));
        }
        let leftovers: Vec<_> = std::fs::read_dir(root)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(leftovers, [std::ffi::OsString::from("fifo")]);
    }
}
