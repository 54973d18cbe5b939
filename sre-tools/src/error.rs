//! The crate's error type.

use std::path::PathBuf;

use sre_core::ToolError;

/// Everything that can go wrong in `sre-tools`. Each variant says what failed and where;
/// [`From<Error> for ToolError`](sre_core::ToolError) turns it into a model-visible message.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The path contains a NUL byte.
    #[error("path `{path}` contains a NUL byte")]
    NulByte {
        /// The path as given (NUL shown as `\0`).
        path: String,
    },
    /// The path (or one of its components) is longer than allowed.
    #[error(
        "path is too long ({len} bytes; the limit is {max} bytes per path and 255 per component)"
    )]
    PathTooLong {
        /// Length of the offending path or component.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An absolute path was given while the workspace takes relative paths only.
    #[error(
        "absolute path `{path}` refused: paths are relative to the workspace root (e.g. `scratch/notes.txt`)"
    )]
    AbsolutePath {
        /// The path as given.
        path: String,
    },
    /// The path contains a `..` component.
    #[error(
        "path `{path}` refused: `..` components are not allowed; paths are relative to the workspace root"
    )]
    ParentComponent {
        /// The path as given.
        path: String,
    },
    /// The path resolves (through symlinks) to a location outside the workspace.
    #[error(
        "path `{path}` refused: it resolves (through a symlink) to a location outside the workspace"
    )]
    OutsideWorkspace {
        /// The path as given.
        path: String,
    },
    /// A symlink on the path is dangling or loops.
    #[error(
        "path `{path}` refused: it goes through a symlink that cannot be resolved (dangling or a loop)"
    )]
    UnresolvableSymlink {
        /// The path as given.
        path: String,
    },
    /// A component of the path became a symlink after the path was checked: something is
    /// changing the workspace while the tool runs. Nothing was opened.
    #[error(
        "path `{path}` refused: it changed while it was being opened (a component is now a symlink)"
    )]
    PathChanged {
        /// Workspace-relative path.
        path: String,
    },
    /// The path is a FIFO, socket or device: reading it could block forever or read a
    /// device.
    #[error("`{path}` is a {kind}, not a regular file; refused")]
    NotRegularFile {
        /// Workspace-relative path.
        path: String,
        /// What it is (`FIFO (named pipe)`, `socket`...).
        kind: &'static str,
    },
    /// The workspace quota ([`crate::Quota`]) would be, or was, crossed.
    #[error(
        "workspace quota exceeded: {what} would leave the writable mounts holding {bytes} in {files} files and folders (quota: {max_bytes}, {max_files} files and folders); remove files you no longer need to go on"
    )]
    QuotaExceeded {
        /// What was about to happen (or happened).
        what: String,
        /// The bytes it would come to.
        bytes: String,
        /// The files it would come to.
        files: u64,
        /// The byte quota.
        max_bytes: String,
        /// The file quota.
        max_files: u64,
    },
    /// A write was asked for inside a read-only mount.
    #[error("cannot write `{path}`: mount `{mount}` is read-only (writable: {writable})")]
    ReadOnlyMount {
        /// Workspace-relative path.
        path: String,
        /// The read-only mount it falls in.
        mount: String,
        /// The writable mounts, comma separated.
        writable: String,
    },
    /// A write was asked for outside every writable mount.
    #[error("cannot write `{path}`: it is not inside a writable mount (writable: {writable})")]
    NotWritable {
        /// Workspace-relative path.
        path: String,
        /// The writable mounts, comma separated.
        writable: String,
    },
    /// The path does not exist.
    #[error("`{path}` does not exist")]
    NotFound {
        /// Workspace-relative path.
        path: String,
    },
    /// A filesystem operation failed.
    #[error("{op} `{path}`: {source}")]
    Io {
        /// What was being done (e.g. "reading").
        op: &'static str,
        /// Workspace-relative (or host, for configuration) path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A mount or workspace configuration is invalid.
    #[error("invalid workspace configuration for `{}`: {reason}", path.display())]
    Config {
        /// The root or mount concerned.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A tool argument is invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// A process could not be started.
    #[error("could not start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A git command failed.
    #[error("git {command} failed in `{repo}`: {message}")]
    Git {
        /// The git subcommand.
        command: String,
        /// Workspace-relative repository path.
        repo: String,
        /// git's stderr (trimmed).
        message: String,
    },
    /// A Python tool's specification is invalid.
    #[error("Python tool `{tool}`: {message}")]
    PythonSpec {
        /// The tool's name.
        tool: String,
        /// What is wrong (naming the parameter or field).
        message: String,
    },
    /// A Python tool's dependencies could not be installed.
    #[error("installing the Python dependencies [{dependencies}] failed ({step}): {message}")]
    DependencyInstall {
        /// The dependencies, comma separated.
        dependencies: String,
        /// The step that failed (`probing the interpreter`, `python -m venv`, `pip install`,
        /// `locking the cache`...).
        step: String,
        /// The tail of the tool's output, or the OS error.
        message: String,
    },
    /// The call was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// The error of opening workspace path `rel` for `op` relative to its root handle.
    pub(crate) fn open(e: crate::beneath::OpenError, op: &'static str, rel: &str) -> Self {
        use crate::beneath::OpenError;
        match e {
            OpenError::Changed => Error::PathChanged {
                path: rel.to_string(),
            },
            OpenError::NotRegular(rustix::fs::FileType::Directory) => {
                Error::InvalidArgument(format!("`{rel}` is a directory"))
            }
            OpenError::NotRegular(kind) => Error::NotRegularFile {
                path: rel.to_string(),
                kind: crate::beneath::kind_name(kind),
            },
            OpenError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => Error::NotFound {
                path: rel.to_string(),
            },
            OpenError::Io(e) => Error::io(op, rel, e),
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

impl From<Error> for ToolError {
    fn from(e: Error) -> Self {
        match e {
            Error::Cancelled => ToolError::Cancelled,
            other => ToolError::Invalid(other.to_string()),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
