//! A thread's event log: the agent events of its runs, its status changes and the decisions
//! on its requests, numbered from 1 per thread, so that a reader replays the past and then
//! follows on (`GET /api/threads/{id}/events`), across restarts.

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, StoreError};

/// One logged event.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadEvent {
    /// The thread.
    pub thread: String,
    /// Its number in the thread (from 1).
    pub seq: u64,
    /// The event (the JSON of `sre run --json`, or `{thread, status}`, or a decision).
    pub event: serde_json::Value,
}

/// Where threads' events are kept.
pub trait EventLog: Send + Sync {
    /// Append events (any threads) in one write; a number already taken is an error (and
    /// nothing of the batch is written).
    fn append_events(&self, events: &[ThreadEvent]) -> Result<(), StoreError>;
    /// Thread `thread`'s events numbered after `after`, oldest first, at most `limit`.
    fn events_after(
        &self,
        thread: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ThreadEvent>, StoreError>;
    /// The number of thread `thread`'s last event (0 when none).
    fn last_event(&self, thread: &str) -> Result<u64, StoreError>;
    /// The sessions thread `thread`'s events came from (its hops, subagents and handoffs),
    /// each with its agent, in the order they first appeared.
    fn thread_sessions(&self, thread: &str) -> Result<Vec<(String, String)>, StoreError>;
    /// The full output of tool call `call` of session `session` in thread `thread` (as it
    /// was before offloading), if it finished.
    fn tool_output(
        &self,
        thread: &str,
        session: &str,
        call: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Lessons begun and not finished (a `learning` event without a `learned` one after it,
    /// the server stopped between): `(thread, session)`.
    fn unfinished_lessons(&self) -> Result<Vec<(String, String)>, StoreError>;
}

/// The cost a model call event reports (the agent's own calls and auxiliary ones).
fn cost_of(event: &serde_json::Value) -> Option<f64> {
    let kind = &event["kind"];
    match kind["type"].as_str() {
        Some("model_response" | "auxiliary_model_call") => kind["cost_usd"]
            .as_f64()
            .filter(|usd| usd.is_finite() && *usd > 0.0),
        _ => None,
    }
}

impl EventLog for SqliteStore {
    fn append_events(&self, events: &[ThreadEvent]) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO thread_events (thread, seq, event) VALUES (?1, ?2, ?3)",
                )?;
                let mut session = tx.prepare_cached(
                    "INSERT OR IGNORE INTO thread_sessions (thread, session, agent, first_seq) \
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                let mut cost =
                    tx.prepare_cached("UPDATE threads SET cost_usd = cost_usd + ?2 WHERE id = ?1")?;
                for e in events {
                    insert.execute(params![e.thread, e.seq as i64, e.event.to_string()])?;
                    // A thread's cost counts with the event that reports it, once.
                    if let Some(usd) = cost_of(&e.event) {
                        cost.execute(params![e.thread, usd])?;
                    }
                    if let Some(id) = e.event["session_id"].as_str() {
                        let agent = e.event["agent"].as_str().unwrap_or_default();
                        session.execute(params![e.thread, id, agent, e.seq as i64])?;
                    }
                }
            }
            tx.commit()
        })
    }

    fn events_after(
        &self,
        thread: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ThreadEvent>, StoreError> {
        self.with(|c| {
            let mut q = c.prepare_cached(
                "SELECT seq, event FROM thread_events WHERE thread = ?1 AND seq > ?2 \
                 ORDER BY seq LIMIT ?3",
            )?;
            let rows = q.query_map(
                params![thread, after.min(i64::MAX as u64) as i64, limit as i64],
                |r| {
                    let seq: i64 = r.get(0)?;
                    let text: String = r.get(1)?;
                    Ok((seq, text))
                },
            )?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, text) = row?;
                out.push(ThreadEvent {
                    thread: thread.to_string(),
                    seq: seq as u64,
                    // Written by us as JSON; a damaged row still says what it held.
                    event: serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
                });
            }
            Ok(out)
        })
    }

    fn thread_sessions(&self, thread: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.with(|c| {
            let mut q = c.prepare_cached(
                "SELECT session, agent FROM thread_sessions WHERE thread = ?1 ORDER BY first_seq",
            )?;
            let rows = q.query_map([thread], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn tool_output(
        &self,
        thread: &str,
        session: &str,
        call: &str,
    ) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            c.query_row(
                // A damaged row (not JSON) is passed over, not an error for the others.
                "SELECT json_extract(event, '$.kind.output') FROM thread_events \
                 WHERE thread = ?1 AND CASE WHEN json_valid(event) THEN \
                 json_extract(event, '$.kind.type') = 'tool_finished' \
                 AND json_extract(event, '$.session_id') = ?2 \
                 AND json_extract(event, '$.kind.id') = ?3 ELSE 0 END \
                 ORDER BY seq DESC LIMIT 1",
                params![thread, session, call],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
        })
    }

    fn unfinished_lessons(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.with(|c| {
            // Damaged rows (not JSON) are passed over.
            let mut q = c.prepare_cached(
                "SELECT b.thread, json_extract(b.event, '$.learning.session') FROM thread_events b \
                 WHERE CASE WHEN json_valid(b.event) \
                   THEN json_type(b.event, '$.learning.session') = 'text' ELSE 0 END \
                 AND NOT EXISTS (SELECT 1 FROM thread_events d WHERE d.thread = b.thread \
                   AND d.seq > b.seq AND CASE WHEN json_valid(d.event) \
                   THEN json_type(d.event, '$.learned') IS NOT NULL ELSE 0 END) \
                 ORDER BY b.thread, b.seq",
            )?;
            let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn last_event(&self, thread: &str) -> Result<u64, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM thread_events WHERE thread = ?1",
                [thread],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n as u64)
    }
}
