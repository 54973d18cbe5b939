//! The host's error type.

use std::path::PathBuf;

/// What can go wrong assembling or running a team.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// I/O on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Preparing the agents' world failed (a repository, the knowledge folder...).
    #[error("{what}: {message}")]
    World {
        /// What was being prepared.
        what: String,
        /// What went wrong.
        message: String,
    },
    /// The team could not be assembled from the home.
    #[error("{0}")]
    Assembly(String),
    /// A run failed.
    #[error(transparent)]
    Core(#[from] sre_core::Error),
    /// The memory store failed.
    #[error(transparent)]
    Memory(#[from] sre_memory::MemoryError),
    /// The workspace or its tools failed.
    #[error(transparent)]
    Tools(#[from] sre_tools::Error),
    /// A context layer or the budget failed.
    #[error(transparent)]
    Context(#[from] sre_context::ContextError),
    /// Hooks could not be built.
    #[error(transparent)]
    Hooks(#[from] sre_hooks::HookError),
    /// MCP connectors failed.
    #[error(transparent)]
    Mcp(#[from] sre_mcp::McpError),
}

impl HostError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HostError::Io {
            path: path.into(),
            source,
        }
    }
}
