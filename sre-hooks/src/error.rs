//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading, building or running hooks.
///
/// Runtime variants ([`HookError::Spawn`], [`HookError::Timeout`], [`HookError::Exit`],
/// [`HookError::Output`], [`HookError::Model`]) are what a hook's `failMode` is applied to;
/// [`HookError::Config`] is a load-time error that names the file, the path inside it and
/// the field.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// Invalid configuration: `location` is `file: path.inside[2].field`.
    #[error("{location}: {message}")]
    Config {
        /// File and path inside it (e.g. `agent.yaml: spec.hooks[2].timeout`).
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The hook's process could not be started (missing file, not executable...).
    #[error("hook `{hook}`: could not start `{program}`: {message}")]
    Spawn {
        /// Hook name.
        hook: String,
        /// What was started.
        program: String,
        /// Why it failed.
        message: String,
    },
    /// The hook did not answer in time; its whole process group was killed.
    #[error("hook `{hook}`: timed out after {timeout_ms} ms (process group killed)")]
    Timeout {
        /// Hook name.
        hook: String,
        /// The limit.
        timeout_ms: u64,
    },
    /// The hook's process exited with a status other than 0 and 2, or was killed.
    #[error("hook `{hook}`: {status}{}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    Exit {
        /// Hook name.
        hook: String,
        /// `exit status 1`, `killed by signal 9`...
        status: String,
        /// Its stderr (capped).
        stderr: String,
    },
    /// The hook answered something that cannot be understood (invalid JSON, wrong types,
    /// output over the cap).
    #[error("hook `{hook}`: {message}")]
    Output {
        /// Hook name.
        hook: String,
        /// What is wrong with the output.
        message: String,
    },
    /// A prompt hook's model call failed.
    #[error("hook `{hook}`: model call failed: {message}")]
    Model {
        /// Hook name.
        hook: String,
        /// The model error.
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

impl HookError {
    pub(crate) fn config(location: impl Into<String>, message: impl Into<String>) -> Self {
        HookError::Config {
            location: location.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HookError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<HookError> for sre_core::Error {
    fn from(e: HookError) -> Self {
        match e {
            HookError::Config { .. } => sre_core::Error::Config(e.to_string()),
            HookError::Io { path, source } => sre_core::Error::Io { path, source },
            HookError::Spawn { ref hook, .. }
            | HookError::Timeout { ref hook, .. }
            | HookError::Exit { ref hook, .. }
            | HookError::Output { ref hook, .. }
            | HookError::Model { ref hook, .. } => {
                let hook = hook.clone();
                let full = e.to_string();
                let prefix = format!("hook `{hook}`: ");
                let message = full
                    .strip_prefix(&prefix)
                    .map(str::to_string)
                    .unwrap_or(full);
                sre_core::Error::Hook { hook, message }
            }
        }
    }
}
