//! [`PyHook`]: an [`sre_core::Hook`] backed by a Python callable.
//!
//! The callable receives the same JSON context command hooks get on stdin
//! (`HookInput::to_json()`, as a dict) and returns the same decision shape command hooks
//! print (a dict, or `None` to allow). The Python wrapper (`sre_harness.Hook._invoke`)
//! does the dict <-> JSON conversion; this side parses the decision with
//! [`sre_hooks::decision_from_json`], exactly as for command hooks.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pyo3::prelude::*;
use sre_core::{Hook, HookContext, HookDecision, HookEvent, HookInput};
use sre_hooks::{FailMode, HookError, HookFilter, ToolMatcher, decision_from_json};

use crate::errors::ConfigError;
use crate::tool::timeout_from;

/// A hook whose body is a Python callable.
pub struct PyHook {
    filter: HookFilter,
    invoke: Arc<Py<PyAny>>,
    timeout: Option<Duration>,
    fail_mode: FailMode,
}

impl std::fmt::Debug for PyHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyHook")
            .field("filter", &self.filter)
            .field("timeout", &self.timeout)
            .field("fail_mode", &self.fail_mode)
            .finish_non_exhaustive()
    }
}

impl PyHook {
    /// Build from an `sre_harness.Hook` (any object with `name`, `events`, `matcher`,
    /// `timeout`, `fail_closed` and `_invoke`).
    pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let name: String = obj.getattr("name")?.extract()?;
        let event_names: Vec<String> = obj.getattr("events")?.extract()?;
        if event_names.is_empty() {
            return Err(ConfigError::new_err(format!("hook `{name}`: no event")));
        }
        let mut events = Vec::new();
        for e in &event_names {
            let event = HookEvent::parse(e).ok_or_else(|| {
                ConfigError::new_err(format!(
                    "hook `{name}`: unknown event `{e}` (PreToolUse, PostToolUse, \
                     PostToolUseFailure, UserPromptSubmit, Stop, SubagentStop, SessionStart, PreCompact)"
                ))
            })?;
            events.push(event);
        }
        let matcher: Option<String> = obj.getattr("matcher")?.extract()?;
        let matcher = ToolMatcher::new(matcher.as_deref()).map_err(|e| {
            ConfigError::new_err(format!("hook `{name}`: matcher is not a valid regex: {e}"))
        })?;
        let timeout = timeout_from(
            obj.getattr("timeout")?.extract()?,
            &format!("hook `{name}`"),
        )?;
        let fail_closed: bool = obj.getattr("fail_closed")?.extract()?;
        let invoke = obj.getattr("_invoke")?.unbind();
        Ok(PyHook {
            filter: HookFilter::new(name, events, matcher),
            invoke: Arc::new(invoke),
            timeout,
            fail_mode: if fail_closed {
                FailMode::Block
            } else {
                FailMode::Allow
            },
        })
    }

    async fn decide(&self, input: &HookInput) -> Result<HookDecision, String> {
        let context = input.to_json().to_string();
        let invoke = self.invoke.clone();
        let timeout = self.timeout.map(|d| d.as_secs_f64());
        let task = crate::py_thread::call(move |py| -> Result<Option<String>, String> {
            let out = invoke
                .bind(py)
                .call1((context, timeout))
                .map_err(|e| e.to_string())?;
            out.extract::<Option<String>>()
                .map_err(|e| format!("internal: the hook wrapper returned a bad value: {e}"))
        });
        let joined = match self.timeout {
            None => task.await,
            Some(limit) => match tokio::time::timeout(limit, task).await {
                Ok(joined) => joined,
                Err(_) => {
                    return Err(format!(
                        "did not decide within {:.3} s",
                        limit.as_secs_f64()
                    ));
                }
            },
        };
        let printed = joined.map_err(|e| format!("internal: the hook call: {e}"))??;
        match printed {
            None => Ok(HookDecision::allow()),
            Some(text) => {
                let value: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| format!("the decision is not JSON: {e}"))?;
                decision_from_json(input.event(), &value)
            }
        }
    }
}

#[async_trait]
impl Hook for PyHook {
    fn name(&self) -> &str {
        &self.filter.name
    }

    fn handles(&self, input: &HookInput) -> bool {
        self.filter.handles(input)
    }

    fn fail_mode(&self) -> FailMode {
        self.fail_mode
    }

    async fn run(
        &self,
        input: &HookInput,
        _ctx: &HookContext,
    ) -> Result<HookDecision, sre_core::Error> {
        // The same fail modes as command and prompt hooks: the loop reports the failure
        // and applies `fail_mode` (open = reported only, closed = a block naming it).
        self.decide(input).await.map_err(|message| {
            HookError::Output {
                hook: self.filter.name.clone(),
                message,
            }
            .into()
        })
    }
}

/// An [`sre_core::Approver`] backed by a Python callable: `_invoke(context_json, reason) ->
/// bool`. It decides on tool calls a hook marked `ask`; an error or a non-bool is a denial.
pub struct PyApprover {
    invoke: Arc<Py<PyAny>>,
}

impl std::fmt::Debug for PyApprover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyApprover").finish_non_exhaustive()
    }
}

impl PyApprover {
    /// Build from an object with `_invoke`.
    pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PyApprover {
            invoke: Arc::new(obj.getattr("_invoke")?.unbind()),
        })
    }
}

#[async_trait]
impl sre_core::Approver for PyApprover {
    async fn approve(&self, input: &HookInput, reason: &str) -> bool {
        let context = input.to_json().to_string();
        let reason = reason.to_string();
        let invoke = self.invoke.clone();
        let task = crate::py_thread::call(move |py| {
            invoke
                .bind(py)
                .call1((context, reason))
                .and_then(|v| v.extract::<bool>())
                .unwrap_or(false)
        });
        task.await.unwrap_or(false)
    }
}
