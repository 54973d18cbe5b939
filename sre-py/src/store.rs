//! [`PySessionStore`]: an [`sre_core::SessionStore`] whose transcripts live wherever a
//! Python object keeps them (`sre_harness.SessionStore`: `load` and `append`, sync or
//! async). Records cross as the serde JSON of [`SessionRecord`]; one writer per session
//! of a store in this process is enforced here, across every agent given that store (a
//! store shared by processes keeps their writers apart in its own way).

use std::sync::Arc;

use async_trait::async_trait;
use pyo3::prelude::*;
use sre_core::session::LoadedSession;
use sre_core::session::LocalLocks;
use sre_core::{Error, Result, SessionLock, SessionRecord, SessionStore};

/// Transcripts kept by a Python object.
pub struct PySessionStore {
    invoke: Arc<Py<PyAny>>,
    locks: LocalLocks,
}

/// The lock table of each Python store object (held, so that its identity is never
/// reused), shared by every agent given that store.
static LOCKS: std::sync::Mutex<Vec<(Py<PyAny>, LocalLocks)>> = std::sync::Mutex::new(Vec::new());

impl PySessionStore {
    /// From an `sre_harness.SessionStore` (its `_invoke(op, session_id, records_json)`).
    pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mut table = LOCKS.lock().unwrap_or_else(|p| p.into_inner());
        let locks = match table.iter().find(|(o, _)| o.is(obj)) {
            Some((_, l)) => l.clone(),
            None => {
                let l = LocalLocks::default();
                table.push((obj.clone().unbind(), l.clone()));
                l
            }
        };
        Ok(PySessionStore {
            invoke: Arc::new(obj.getattr("_invoke")?.unbind()),
            locks,
        })
    }

    /// Call `_invoke(op, session_id, records_json)`; its JSON answer, or the error it names.
    async fn call(
        &self,
        op: &'static str,
        session: &str,
        records: Option<String>,
    ) -> Result<serde_json::Value> {
        let invoke = self.invoke.clone();
        let id = session.to_string();
        let err = |message: String| Error::Session {
            session: session.to_string(),
            message,
        };
        let text = crate::py_thread::call(move |py| -> std::result::Result<String, String> {
            invoke
                .bind(py)
                .call1((op, id, records))
                .and_then(|r| r.extract::<String>())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| err(format!("the Python store ({op}): {e}")))?
        .map_err(|e| err(format!("the Python store ({op}): {e}")))?;
        let answer: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            err(format!(
                "the Python store ({op}) answered something that is not JSON: {e}"
            ))
        })?;
        if let Some(message) = answer["error"].as_str() {
            return Err(err(format!("the Python store ({op}): {message}")));
        }
        Ok(answer)
    }
}

#[async_trait]
impl SessionStore for PySessionStore {
    async fn load(&self, session_id: &str) -> Result<LoadedSession> {
        let answer = self.call("load", session_id, None).await?;
        let mut records = Vec::new();
        for (i, r) in answer["records"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let record: SessionRecord =
                serde_json::from_value(r.clone()).map_err(|e| Error::Session {
                    session: session_id.to_string(),
                    message: format!("the Python store's record {i} is not a session record: {e}"),
                })?;
            records.push(record);
        }
        Ok(LoadedSession {
            records,
            warnings: Vec::new(),
        })
    }

    async fn append(&self, session_id: &str, records: &[SessionRecord]) -> Result<()> {
        let json = serde_json::to_string(records).map_err(|e| Error::Session {
            session: session_id.to_string(),
            message: format!("records not serialisable: {e}"),
        })?;
        self.call("append", session_id, Some(json))
            .await
            .map(|_| ())
    }

    async fn lock(&self, session_id: &str) -> Result<SessionLock> {
        Ok(SessionLock::new(self.locks.try_lock(session_id)?))
    }
}
