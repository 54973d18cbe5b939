//! [`PyTool`]: an [`sre_core::Tool`] backed by a Python callable.
//!
//! The Python side (`sre_harness.Tool`) gives a name, a description, a JSON schema, an
//! optional timeout and `_invoke(args_json, session_id, timeout) -> (is_error, content)`,
//! which converts the arguments, calls the function (sync or async), and turns the return
//! value or exception into text. This side runs `_invoke` on a tokio blocking thread, the
//! GIL taken only there, so a slow or sleeping function never stalls the runtime and
//! several calls of one turn overlap whenever the functions release the GIL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pyo3::prelude::*;
use serde_json::Value;
use sre_core::{Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput, ToolSpec};

use crate::errors::ConfigError;

/// A tool whose body is a Python callable.
pub struct PyTool {
    spec: ToolSpec,
    invoke: Arc<Py<PyAny>>,
    timeout: Option<Duration>,
    annotations: ToolAnnotations,
}

impl std::fmt::Debug for PyTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyTool")
            .field("name", &self.spec.name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Read an optional timeout in seconds; `None`, or `<= 0`, means none.
pub(crate) fn timeout_from(secs: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    match secs {
        None => Ok(None),
        Some(s) if s.is_nan() => Err(ConfigError::new_err(format!("{what}: timeout is NaN"))),
        Some(s) if s <= 0.0 => Ok(None),
        Some(s) => Duration::try_from_secs_f64(s)
            .map(Some)
            .map_err(|e| ConfigError::new_err(format!("{what}: timeout {s}: {e}"))),
    }
}

impl PyTool {
    /// Build from an `sre_harness.Tool` (any object with `name`, `description`,
    /// `schema_json`, `timeout`, `read_only`, `destructive`, `idempotent`, `open_world` and
    /// `_invoke`).
    pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let name: String = obj.getattr("name")?.extract()?;
        let description: String = obj.getattr("description")?.extract()?;
        let schema: String = obj.getattr("schema_json")?.extract()?;
        let input_schema: Value = serde_json::from_str(&schema)
            .map_err(|e| ConfigError::new_err(format!("tool `{name}`: schema: {e}")))?;
        if !input_schema.is_object() {
            return Err(ConfigError::new_err(format!(
                "tool `{name}`: the input schema must be a JSON object"
            )));
        }
        let timeout = timeout_from(
            obj.getattr("timeout")?.extract()?,
            &format!("tool `{name}`"),
        )?;
        let annotations = ToolAnnotations {
            read_only: obj.getattr("read_only")?.extract()?,
            destructive: obj.getattr("destructive")?.extract()?,
            idempotent: obj.getattr("idempotent")?.extract()?,
            open_world: obj.getattr("open_world")?.extract()?,
        };
        let invoke = obj.getattr("_invoke")?.unbind();
        Ok(PyTool {
            spec: ToolSpec {
                name,
                description,
                input_schema,
            },
            invoke: Arc::new(invoke),
            timeout,
            annotations,
        })
    }

    async fn call_python(&self, input: Value, session_id: String) -> ToolOutput {
        let args = input.to_string();
        let invoke = self.invoke.clone();
        let timeout = self.timeout.map(|d| d.as_secs_f64());
        let call = crate::py_thread::call(move |py| -> Result<(bool, String), String> {
            let result = invoke
                .bind(py)
                .call1((args, session_id, timeout))
                .map_err(|e| e.to_string())?;
            result
                .extract::<(bool, String)>()
                .map_err(|e| format!("internal: the tool wrapper returned a bad value: {e}"))
        });
        match call.await {
            Ok(Ok((is_error, content))) => ToolOutput { content, is_error },
            Ok(Err(message)) => ToolOutput::error(message),
            Err(e) => ToolOutput::error(format!("internal: the tool call: {e}")),
        }
    }
}

#[async_trait]
impl Tool for PyTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn annotations(&self) -> ToolAnnotations {
        self.annotations
    }

    /// The tool's own timeout and a grace for the call to come back; a tool without one
    /// has none from the loop either (the Python author decides).
    fn deadline(&self) -> Option<Duration> {
        Some(
            self.timeout
                .map_or(Duration::MAX, |t| t.saturating_add(Duration::from_secs(5))),
        )
    }

    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let call = self.call_python(input, ctx.session_id.clone());
        let timed = async {
            match self.timeout {
                None => call.await,
                // The Python wrapper applies the same limit to coroutines and cancels them;
                // this is the backstop for sync functions, whose thread cannot be stopped
                // and finishes in the background.
                Some(limit) => match tokio::time::timeout(limit, call).await {
                    Ok(out) => out,
                    Err(_) => ToolOutput::error(format!(
                        "TimeoutError: tool `{}` did not finish within {:.3} s",
                        self.spec.name,
                        limit.as_secs_f64()
                    )),
                },
            }
        };
        tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => Err(ToolError::Cancelled),
            out = timed => Ok(out),
        }
    }
}

fn parse_args(args_json: &str) -> PyResult<Value> {
    serde_json::from_str(args_json)
        .map_err(|e| ConfigError::new_err(format!("arguments are not valid JSON: {e}")))
}

/// Call `tool` once through the harness's `Tool` path (blocking thread, GIL, timeout), outside
/// any agent. Returns `(is_error, content)`.
#[pyfunction]
pub fn call_tool(
    py: Python<'_>,
    tool: &Bound<'_, PyAny>,
    args_json: &str,
) -> PyResult<(bool, String)> {
    let tool = PyTool::from_py(tool)?;
    let input = parse_args(args_json)?;
    let rt = crate::runtime()?;
    let result = py.detach(|| {
        rt.block_on(async {
            let ctx = ToolContext::detached("direct");
            tool.call(input, &ctx).await
        })
    });
    match result {
        Ok(out) => Ok((out.is_error, out.content)),
        Err(e) => Err(crate::errors::ToolError::new_err(e.to_string())),
    }
}

/// Call `tool` `n` times in sequence through the harness's `Tool` path and return the wall
/// time in seconds. Internal (for `bench/overhead.py`): not part of the package's API.
#[pyfunction]
#[pyo3(name = "_bench_tool")]
pub fn bench_tool(
    py: Python<'_>,
    tool: &Bound<'_, PyAny>,
    args_json: &str,
    n: u32,
) -> PyResult<f64> {
    let tool = PyTool::from_py(tool)?;
    let input = parse_args(args_json)?;
    let rt = crate::runtime()?;
    py.detach(|| {
        rt.block_on(async {
            let ctx = ToolContext::detached("bench");
            let start = Instant::now();
            for _ in 0..n {
                let out = tool
                    .call(input.clone(), &ctx)
                    .await
                    .map_err(|e| crate::errors::ToolError::new_err(e.to_string()))?;
                if out.is_error {
                    return Err(crate::errors::ToolError::new_err(out.content));
                }
            }
            Ok(start.elapsed().as_secs_f64())
        })
    })
}
