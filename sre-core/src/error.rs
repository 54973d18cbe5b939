//! The crate's error type: one enum, typed variants for what callers branch on.

use std::path::PathBuf;

/// Result alias used across sre-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors that stop a run (as opposed to tool errors the model sees and reacts to).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The run was cancelled through its [`CancellationToken`](tokio_util::sync::CancellationToken).
    #[error("the run was cancelled")]
    Cancelled,
    /// The model call failed (after any retry layer gave up).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A tool reported a fatal error (not one the model can react to).
    #[error("tool `{tool}` failed fatally: {message}")]
    ToolFatal {
        /// Tool name.
        tool: String,
        /// What went wrong.
        message: String,
    },
    /// The transcript could not be read or written.
    #[error("session `{session}`: {message}")]
    Session {
        /// Session id.
        session: String,
        /// What went wrong, with file and line where known.
        message: String,
    },
    /// `run` was called on a session whose previous run did not finish; call `resume`.
    #[error("session `{session}` has an unfinished run; resume it before starting a new task")]
    UnfinishedRun {
        /// Session id.
        session: String,
    },
    /// Another run (in this process or another) is writing this session.
    #[error("session `{session}` is busy: another run is writing it")]
    SessionBusy {
        /// Session id.
        session: String,
    },
    /// Invalid configuration or builder input.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A script (ScriptedModel, YAML/JSON config) could not be parsed.
    #[error("{location}: {message}")]
    Parse {
        /// File, and position inside it where known.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A memory store failed.
    #[error("memory: {0}")]
    Memory(String),
    /// A context layer or budget failed.
    #[error("context: {0}")]
    Context(String),
    /// A hook failed in a way its fail mode could not absorb.
    #[error("hook `{hook}`: {message}")]
    Hook {
        /// Hook name.
        hook: String,
        /// What went wrong.
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
}

impl Error {
    /// Its variant's name (`Model`, `ToolFatal`...), without what it carries: an
    /// `error.type` for telemetry.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Cancelled => "Cancelled",
            Error::Model(_) => "Model",
            Error::ToolFatal { .. } => "ToolFatal",
            Error::Session { .. } => "Session",
            Error::UnfinishedRun { .. } => "UnfinishedRun",
            Error::SessionBusy { .. } => "SessionBusy",
            Error::Config(_) => "Config",
            Error::Parse { .. } => "Parse",
            Error::Memory(_) => "Memory",
            Error::Context(_) => "Context",
            Error::Hook { .. } => "Hook",
            Error::Io { .. } => "Io",
        }
    }
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Why a model call failed. Retry layers branch on [`ModelError::is_retryable`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The provider answered with an HTTP error status.
    #[error("provider returned HTTP {status}: {message}{}", request_id.as_ref().map(|r| format!(" (request id {r})")).unwrap_or_default())]
    Status {
        /// HTTP status code.
        status: u16,
        /// The provider's error message.
        message: String,
        /// The provider's request id, if it sent one.
        request_id: Option<String>,
        /// Seconds the provider asked us to wait (`retry-after`).
        retry_after_ms: Option<u64>,
    },
    /// The connection failed, timed out or broke mid-stream.
    #[error("transport error: {message}")]
    Transport {
        /// What happened.
        message: String,
    },
    /// The provider's answer could not be understood.
    #[error("invalid model response: {message}")]
    InvalidResponse {
        /// What is wrong with it.
        message: String,
    },
    /// The request was rejected locally before sending (a harness bug surfaced early).
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// What is wrong with it.
        message: String,
    },
    /// The prompt does not fit the model's context window.
    #[error("context overflow: {message}")]
    ContextOverflow {
        /// Provider or local message.
        message: String,
    },
    /// A ScriptedModel script was exhausted or one of its assertions failed.
    #[error("scripted model: {message}")]
    Script {
        /// What happened.
        message: String,
    },
}

impl ModelError {
    /// Whether retrying the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ModelError::Status { status, .. } => {
                matches!(status, 408 | 409 | 429 | 529) || (500..600).contains(status)
            }
            ModelError::Transport { .. } => true,
            _ => false,
        }
    }
}
