//! The crate's error type.

use std::path::PathBuf;

/// Errors of sre-context: bad host input (topology, skills), I/O, and budget failures.
///
/// Converted into [`sre_core::Error`] when returned through a core contract: parse errors
/// keep their location (`file:line:column`), everything else becomes
/// [`sre_core::Error::Context`] or [`sre_core::Error::Io`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A file (topology, SKILL.md front matter) could not be parsed.
    #[error("{}: {message}", location(file, *line, *column))]
    Parse {
        /// The file (or `<inline>` for text given directly).
        file: String,
        /// 1-based line, where known.
        line: Option<usize>,
        /// 1-based column, where known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A file parsed but its content is inconsistent (e.g. a relation to an unknown service).
    #[error("{file}: {path}: {message}")]
    Invalid {
        /// The file (or `<inline>`).
        file: String,
        /// Where inside the document (e.g. `services[2].depends_on[0]`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// I/O failure on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Walking a repository failed.
    #[error("walking {path}: {message}")]
    Walk {
        /// The repository root.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The compaction model call gave nothing usable.
    #[error("compaction: {0}")]
    Compaction(String),
    /// Invalid configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
}

fn location(file: &str, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file.to_string(),
    }
}

impl ContextError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ContextError::Io {
            path: path.into(),
            source,
        }
    }

    /// A YAML parse error of `file`, with its location.
    pub(crate) fn yaml(file: &str, e: &serde_yaml_ng::Error, line_offset: usize) -> Self {
        let (line, column) = match e.location() {
            Some(l) => (Some(l.line() + line_offset), Some(l.column())),
            None => (None, None),
        };
        ContextError::Parse {
            file: file.to_string(),
            line,
            column,
            message: strip_location(&e.to_string()),
        }
    }

    /// A JSON parse error of `file`, with its location.
    pub(crate) fn json(file: &str, e: &serde_json::Error) -> Self {
        ContextError::Parse {
            file: file.to_string(),
            line: (e.line() > 0).then_some(e.line()),
            column: (e.column() > 0).then_some(e.column()),
            message: strip_location(&e.to_string()),
        }
    }
}

/// serde error messages end with ` at line L column C`; the location is shown separately.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

impl From<ContextError> for sre_core::Error {
    fn from(e: ContextError) -> Self {
        match e {
            ContextError::Parse {
                file,
                line,
                column,
                message,
            } => sre_core::Error::Parse {
                location: location(&file, line, column),
                message,
            },
            ContextError::Io { path, source } => sre_core::Error::Io { path, source },
            ContextError::Config(m) => sre_core::Error::Config(m),
            other => sre_core::Error::Context(other.to_string()),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = ContextError> = std::result::Result<T, E>;
