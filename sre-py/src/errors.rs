//! Python exception classes and the mapping of [`sre_core::Error`] onto them.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    sre_harness,
    SreHarnessError,
    PyException,
    "Base class of every error raised by sre_harness."
);
create_exception!(
    sre_harness,
    ConfigError,
    SreHarnessError,
    "Invalid configuration: agent, model script, workspace, tool or hook definition."
);
create_exception!(
    sre_harness,
    ModelError,
    SreHarnessError,
    "The model call failed (provider error, exhausted or failed script)."
);
create_exception!(
    sre_harness,
    ToolError,
    SreHarnessError,
    "A tool failed fatally (errors the model can react to are tool results, not exceptions)."
);
create_exception!(
    sre_harness,
    SessionError,
    SreHarnessError,
    "The session transcript could not be read or written, or the session has an unfinished run."
);
create_exception!(
    sre_harness,
    HookError,
    SreHarnessError,
    "A hook failed in a way that stopped the run."
);
create_exception!(
    sre_harness,
    Cancelled,
    SreHarnessError,
    "The run was cancelled."
);

/// Add the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SreHarnessError", py.get_type::<SreHarnessError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("ToolError", py.get_type::<ToolError>())?;
    m.add("SessionError", py.get_type::<SessionError>())?;
    m.add("HookError", py.get_type::<HookError>())?;
    m.add("Cancelled", py.get_type::<Cancelled>())?;
    Ok(())
}

/// Which Python class an error becomes; kept as data so it can cross threads without the GIL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// `SreHarnessError`.
    Other,
    /// `ConfigError`.
    Config,
    /// `ModelError`.
    Model,
    /// `ToolError`.
    Tool,
    /// `SessionError`.
    Session,
    /// `HookError`.
    Hook,
    /// `Cancelled`.
    Cancelled,
}

/// An error with its Python class, produced without the GIL.
#[derive(Clone, Debug)]
pub struct PyErrData {
    /// The class.
    pub kind: ErrorKind,
    /// The message.
    pub message: String,
}

impl PyErrData {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PyErrData {
            kind,
            message: message.into(),
        }
    }

    /// The Python exception.
    pub fn to_pyerr(&self) -> PyErr {
        let m = self.message.clone();
        match self.kind {
            ErrorKind::Other => SreHarnessError::new_err(m),
            ErrorKind::Config => ConfigError::new_err(m),
            ErrorKind::Model => ModelError::new_err(m),
            ErrorKind::Tool => ToolError::new_err(m),
            ErrorKind::Session => SessionError::new_err(m),
            ErrorKind::Hook => HookError::new_err(m),
            ErrorKind::Cancelled => Cancelled::new_err(m),
        }
    }
}

impl From<sre_core::Error> for PyErrData {
    fn from(e: sre_core::Error) -> Self {
        use sre_core::Error as E;
        let kind = match &e {
            E::Cancelled => ErrorKind::Cancelled,
            E::Model(_) => ErrorKind::Model,
            E::ToolFatal { .. } => ErrorKind::Tool,
            E::Config(_) | E::Parse { .. } => ErrorKind::Config,
            E::Session { .. } | E::UnfinishedRun { .. } | E::SessionBusy { .. } | E::Io { .. } => {
                ErrorKind::Session
            }
            E::Hook { .. } => ErrorKind::Hook,
            _ => ErrorKind::Other,
        };
        PyErrData::new(kind, e.to_string())
    }
}

/// `sre_core::Error` -> Python exception.
pub(crate) fn core_err(e: sre_core::Error) -> PyErr {
    PyErrData::from(e).to_pyerr()
}

/// `sre_tools::Error` -> `ConfigError` (workspace and tool construction).
pub(crate) fn tools_err(e: sre_tools::Error) -> PyErr {
    ConfigError::new_err(format!("workspace: {e}"))
}
