//! [`ThreadStore`] on the SQLite store (table `threads`).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::sqlite::{stamp, time_column};
use super::threads::{ThreadRecord, ThreadStatus, ThreadStore};
use super::{IncidentRecord, SqliteStore, StoreError};

const COLUMNS: &str = "id, incident, agent, mode, status, attempts, max_attempts, task, answer, \
     error, updated_at, runs, pending_task, hooks, cost_usd";

fn row(r: &Row<'_>) -> rusqlite::Result<ThreadRecord> {
    let status: String = r.get(4)?;
    Ok(ThreadRecord {
        id: r.get(0)?,
        incident: r.get(1)?,
        agent: r.get(2)?,
        mode: r.get(3)?,
        status: ThreadStatus::parse(&status).unwrap_or(ThreadStatus::Failed),
        attempts: r.get(5)?,
        max_attempts: r.get(6)?,
        task: r.get(7)?,
        answer: r.get(8)?,
        error: r.get(9)?,
        updated_at: time_column(r, 10)?,
        runs: r.get(11)?,
        pending_task: r.get(12)?,
        hooks: super::sqlite::json_column(r, 13)?,
        cost_usd: r.get(14)?,
    })
}

impl ThreadStore for SqliteStore {
    fn post_message(
        &self,
        id: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<ThreadRecord, StoreError> {
        let changed = self.with(|c| {
            c.execute(
                "UPDATE threads SET pending_task = ?2, status = 'queued', attempts = 0, \
                 error = NULL, updated_at = ?3 \
                 WHERE id = ?1 AND status IN ('completed', 'failed')",
                params![id, text, stamp(at)],
            )
        })?;
        let thread = self
            .thread(id)?
            .ok_or_else(|| StoreError::NotFound(format!("no thread {id}")))?;
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "thread {id} is {}: post the message once it has finished",
                thread.status.as_str()
            )));
        }
        Ok(thread)
    }

    fn take_pending(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let text: Option<String> = tx
                .query_row(
                    "SELECT pending_task FROM threads WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            tx.execute("UPDATE threads SET pending_task = NULL WHERE id = ?1", [id])?;
            tx.commit()?;
            Ok(text)
        })
    }

    fn set_hooks(&self, id: &str, hooks: &[String]) -> Result<(), StoreError> {
        let json = serde_json::to_string(hooks).unwrap_or_else(|_| "[]".into());
        self.with(|c| {
            c.execute(
                "UPDATE threads SET hooks = ?2 WHERE id = ?1",
                params![id, json],
            )?;
            Ok(())
        })
    }
    fn open_thread(
        &self,
        incident: &IncidentRecord,
        task: &str,
        at: DateTime<Utc>,
    ) -> Result<(ThreadRecord, bool), StoreError> {
        let (Some(id), Some(plan)) = (&incident.thread, &incident.plan) else {
            return Err(StoreError::Database {
                path: "threads".into(),
                message: format!("{} has no thread: no plan took it", incident.id),
            });
        };
        self.with(|c| {
            let created = c.execute(
                "INSERT INTO threads (id, incident, agent, mode, status, attempts, max_attempts, \
                 task, updated_at) VALUES (?1, ?2, ?3, ?4, 'queued', 0, ?5, ?6, ?7) \
                 ON CONFLICT (id) DO NOTHING",
                params![
                    id,
                    incident.id,
                    plan.agent,
                    plan.mode,
                    plan.max_attempts,
                    task,
                    stamp(at)
                ],
            )? == 1;
            let record = c.query_row(
                &format!("SELECT {COLUMNS} FROM threads WHERE id = ?1"),
                [id],
                row,
            )?;
            Ok((record, created))
        })
    }

    fn thread(&self, id: &str) -> Result<Option<ThreadRecord>, StoreError> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM threads WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
        })
    }

    fn threads_in(&self, status: ThreadStatus) -> Result<Vec<ThreadRecord>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM threads WHERE status = ?1 ORDER BY updated_at, id"
            ))?;
            let rows = stmt.query_map([status.as_str()], row)?;
            rows.collect()
        })
    }

    fn count_threads(&self, status: ThreadStatus) -> Result<usize, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT count(*) FROM threads WHERE status = ?1",
                [status.as_str()],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| usize::try_from(n).unwrap_or(0))
        })
    }

    fn latest_threads(
        &self,
        status: Option<ThreadStatus>,
        limit: usize,
    ) -> Result<Vec<ThreadRecord>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM threads WHERE ?1 IS NULL OR status = ?1 \
                 ORDER BY updated_at DESC, id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![status.map(|s| s.as_str()), limit as i64], row)?;
            rows.collect()
        })
    }

    fn set_thread(
        &self,
        id: &str,
        status: ThreadStatus,
        attempt: bool,
        answer: Option<&str>,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<ThreadRecord, StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE threads SET status = ?2, attempts = attempts + ?3, \
                 runs = runs + (?2 = 'running'), \
                 answer = coalesce(?4, answer), error = ?5, updated_at = ?6 WHERE id = ?1",
                params![
                    id,
                    status.as_str(),
                    i64::from(attempt),
                    answer,
                    error,
                    stamp(at)
                ],
            )?;
            c.query_row(
                &format!("SELECT {COLUMNS} FROM threads WHERE id = ?1"),
                [id],
                row,
            )
        })
    }
}
