//! The crate's error type.

use std::path::PathBuf;

/// Result alias used across sre-memory.
pub type Result<T, E = MemoryError> = std::result::Result<T, E>;

/// What can go wrong in the memory store.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// A write stated a version that is no longer current (someone else wrote in between).
    #[error("{path}: version conflict: expected {expected}, found {found}")]
    Conflict {
        /// File, relative to the memory root.
        path: String,
        /// The version the writer read.
        expected: String,
        /// The version on disk now.
        found: String,
    },
    /// A file could not be parsed (strict checks, snapshot manifests, model answers on disk).
    #[error("{path}:{line}: {message}")]
    Parse {
        /// File, relative to the memory root where possible.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// I/O failure on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No entry, topic or snapshot has this id or name.
    #[error("not found: {0}")]
    NotFound(String),
    /// A topic or document name that cannot be used (path traversal, reserved name, empty).
    #[error("invalid name `{name}`: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// The model call of a learning step failed.
    #[error("model call failed: {0}")]
    Model(#[from] sre_core::ModelError),
    /// The model answered, but not with what was asked for.
    #[error("unusable model answer: {message}")]
    BadAnswer {
        /// What is wrong with it.
        message: String,
        /// The start of the answer, for the log.
        excerpt: String,
    },
    /// A background task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
}

impl MemoryError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MemoryError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<MemoryError> for sre_core::Error {
    fn from(e: MemoryError) -> Self {
        sre_core::Error::Memory(e.to_string())
    }
}
