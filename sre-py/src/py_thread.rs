//! Python callbacks (tools, hooks, approvers) run on Python's own daemon threads, never on
//! tokio's: a call the harness stopped waiting for (a timeout, a cancelled run) may still be
//! running when the interpreter exits, and CPython stops its own daemon threads cleanly
//! there, where a foreign thread taking the GIL back during finalization aborts the process.

use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyTuple};

/// Run `f` with the GIL on a new Python daemon thread; its result, or why there is none.
pub(crate) async fn call<T: Send + 'static>(
    f: impl FnOnce(Python<'_>) -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = std::sync::Mutex::new(Some((f, tx)));
    // Starting the thread needs the GIL: not on an async worker.
    let started = tokio::task::spawn_blocking(move || {
        Python::attach(|py| -> PyResult<()> {
            let target = PyCFunction::new_closure(
                py,
                None,
                None,
                move |args: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| -> PyResult<()> {
                    let job = job.lock().unwrap_or_else(|p| p.into_inner()).take();
                    if let Some((f, tx)) = job {
                        // Nobody waiting any more is not an error.
                        let _ = tx.send(f(args.py()));
                    }
                    Ok(())
                },
            )?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("target", target)?;
            kwargs.set_item("daemon", true)?;
            kwargs.set_item("name", "sre-harness-call")?;
            py.import("threading")?
                .getattr("Thread")?
                .call((), Some(&kwargs))?
                .call_method0("start")?;
            Ok(())
        })
    })
    .await
    .map_err(|e| format!("internal: {e}"))?;
    started.map_err(|e| format!("cannot start a Python thread: {e}"))?;
    rx.await
        .map_err(|_| "the Python call ended without an answer".to_string())
}
