//! # sre-py
//!
//! The native half of the `sre_harness` Python package (import name `sre_harness`, native
//! module `sre_harness._native`). The pure-Python half (`python/sre_harness/`) does what is
//! easier in Python: signature introspection, argument conversion, JSON (de)serialisation
//! and the asyncio glue. This crate does the rest:
//!
//! * [`tool::PyTool`]: an [`sre_core::Tool`] calling a Python callable on a tokio blocking
//!   thread, with the GIL taken only there, under a per-tool timeout;
//! * [`hook::PyHook`]: an [`sre_core::Hook`] calling a Python callable with
//!   `HookInput::to_json()` and reading back the command-hook decision JSON
//!   ([`sre_hooks::decision_from_json`]);
//! * [`agent::Agent`] and [`agent::RunHandle`]: an [`sre_core::AgentLoop`] run on a
//!   Rust-owned tokio runtime, its events queued for Python, its cancellation token
//!   reachable from Python;
//! * [`home::load_home`]: an agent home loaded by the reference host's loader
//!   (`sre_host`, under `examples/host`), its agents returned as [`agent::Agent`]s.
//!
//! The Python side never blocks the runtime and the runtime never blocks on the GIL except
//! on blocking threads.

// PyO3's `#[pymodule]`, `#[pyclass]` and `#[pymethods]` macros expand to `unsafe` FFI
// glue; this crate writes no `unsafe` of its own.
#![allow(unsafe_code)]

use std::sync::OnceLock;

use pyo3::prelude::*;
use sre_core::telemetry::GenAiTelemetry;

pub mod agent;
pub mod errors;
pub mod home;
pub mod hook;
pub mod model;
pub mod parts;
mod py_thread;
pub mod quality;
pub mod store;
pub mod tool;

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The process-wide tokio runtime every run and tool call of the package uses.
pub(crate) fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sre-harness")
        .enable_all()
        .build()
        .map_err(|e| errors::SreHarnessError::new_err(format!("cannot start tokio: {e}")))?;
    // Another thread may have won the race; either runtime is fine, the loser is dropped.
    let _ = RUNTIME.set(rt);
    RUNTIME
        .get()
        .ok_or_else(|| errors::SreHarnessError::new_err("tokio runtime missing"))
}

/// The process's OpenTelemetry export and its GenAI sink, set up from the standard `OTEL_*`
/// variables at the first run (none when they ask for nothing).
type Exporting = Option<(
    sre_host::telemetry::Telemetry,
    std::sync::Arc<GenAiTelemetry>,
)>;
static TELEMETRY: OnceLock<Exporting> = OnceLock::new();

/// The GenAI sink every run tees its events to, when the environment asks for telemetry.
pub(crate) fn telemetry() -> Option<std::sync::Arc<GenAiTelemetry>> {
    TELEMETRY
        .get_or_init(|| {
            let rt = runtime().ok()?;
            let _guard = rt.enter();
            match sre_host::telemetry::Telemetry::from_env() {
                Ok(Some(t)) => {
                    let sink = std::sync::Arc::new(t.sink());
                    Some((t, sink))
                }
                Ok(None) => None,
                Err(e) => {
                    eprintln!("sre_harness: telemetry is off: {e}");
                    None
                }
            }
        })
        .as_ref()
        .map(|(_, sink)| sink.clone())
}

/// Export the spans and metrics recorded so far (the package calls it at exit).
#[pyfunction]
fn flush_telemetry(py: Python<'_>) {
    if let Some(Some((t, _))) = TELEMETRY.get() {
        py.detach(|| t.flush());
    }
}

/// The native module `sre_harness._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<agent::Agent>()?;
    m.add_class::<agent::RunHandle>()?;
    m.add_class::<parts::Memory>()?;
    m.add_function(wrap_pyfunction!(home::load_home, m)?)?;
    m.add_class::<home::TeamHandle>()?;
    m.add_function(wrap_pyfunction!(tool::call_tool, m)?)?;
    m.add_function(wrap_pyfunction!(tool::bench_tool, m)?)?;
    m.add_function(wrap_pyfunction!(flush_telemetry, m)?)?;
    m.add_function(wrap_pyfunction!(quality::record, m)?)?;
    m.add_function(wrap_pyfunction!(quality::replay, m)?)?;
    m.add_function(wrap_pyfunction!(quality::evaluate, m)?)?;
    Ok(())
}
