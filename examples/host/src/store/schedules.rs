//! Where each scheduled task stands: its last occurrence run, runs, consecutive failures,
//! and whether it is active, failed (3 failures in a row) or finished (limit, end date).

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::sqlite::{opt_time_column, stamp, time_column};
use super::{SqliteStore, StoreError};

/// A scheduled task's state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScheduleState {
    /// The task's name.
    pub name: String,
    /// When the server first saw it (occurrences before are not run).
    pub first_seen: DateTime<Utc>,
    /// The last occurrence a run was started for.
    pub last_slot: Option<DateTime<Utc>>,
    /// Runs started.
    pub runs: u32,
    /// Failed runs in a row.
    pub failures: u32,
    /// `active`, `failed` or `finished`.
    pub status: String,
    /// Why it failed or finished, or the last run's error.
    pub last_error: Option<String>,
    /// The thread of the last run.
    pub last_thread: Option<String>,
    /// Whether the last run's outcome was counted already.
    pub counted: bool,
}

const COLUMNS: &str =
    "name, first_seen, last_slot, runs, failures, status, last_error, last_thread, counted";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScheduleState> {
    Ok(ScheduleState {
        name: r.get(0)?,
        first_seen: time_column(r, 1)?,
        last_slot: opt_time_column(r, 2)?,
        runs: r.get(3)?,
        failures: r.get(4)?,
        status: r.get(5)?,
        last_error: r.get(6)?,
        last_thread: r.get(7)?,
        counted: r.get(8)?,
    })
}

impl SqliteStore {
    /// The state of task `name`, created (active, first seen `now`) when new.
    pub fn schedule_state(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<ScheduleState, StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO schedules (name, first_seen) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, stamp(now)],
            )?;
            c.query_row(&format!("SELECT {COLUMNS} FROM schedules WHERE name = ?1"), [name], row)
        })
    }

    /// Save a task's state.
    pub fn save_schedule(&self, s: &ScheduleState) -> Result<(), StoreError> {
        self.with(|c| save(c, s).map(|_| ()))
    }

    /// Every task's state (read only: tasks not ticked yet have none).
    pub fn schedule_states(&self) -> Result<Vec<ScheduleState>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM schedules ORDER BY name"))?;
            let rows = stmt.query_map([], row)?;
            rows.collect()
        })
    }

    /// Start one run of a scheduled task and save the task's state `st`, in one
    /// transaction (a crash leaves both or neither): a new thread, queued, or for a
    /// same-thread task whose thread exists, the run's prompt as that thread's next message.
    /// A thread of that id that is another task's, or still busy, is a conflict.
    pub fn start_run(
        &self,
        st: &ScheduleState,
        run: &ScheduledRun<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let owner = format!("task:{}", st.name);
        let conflict =
            self.with(|c| {
                let tx = c.transaction()?;
                let inserted = tx.execute(
                "INSERT INTO threads (id, incident, agent, mode, status, attempts, max_attempts, \
                 task, updated_at) VALUES (?1, ?2, ?3, ?4, 'queued', 0, 1, ?5, ?6) \
                 ON CONFLICT (id) DO NOTHING",
                params![run.thread, owner, run.agent, run.mode, run.prompt, stamp(at)],
            )? == 1;
                if !inserted {
                    if !run.same_thread {
                        return Ok(Some(format!("thread {} exists already", run.thread)));
                    }
                    let posted = tx.execute(
                        "UPDATE threads SET pending_task = ?3, status = 'queued', attempts = 0, \
                     error = NULL, updated_at = ?4 \
                     WHERE id = ?1 AND incident = ?2 AND status IN ('completed', 'failed')",
                        params![run.thread, owner, run.prompt, stamp(at)],
                    )?;
                    if posted == 0 {
                        return Ok(Some(format!(
                            "thread {} is another task's, or has not finished",
                            run.thread
                        )));
                    }
                }
                save(&tx, st)?;
                tx.commit()?;
                Ok(None)
            })?;
        match conflict {
            Some(why) => Err(StoreError::Conflict(format!(
                "scheduled task `{}`: {why}",
                st.name
            ))),
            None => Ok(()),
        }
    }
}

/// Write `s` (the task's row exists).
fn save(c: &rusqlite::Connection, s: &ScheduleState) -> rusqlite::Result<usize> {
    c.execute(
        "UPDATE schedules SET last_slot = ?2, runs = ?3, failures = ?4, status = ?5, \
         last_error = ?6, last_thread = ?7, counted = ?8 WHERE name = ?1",
        params![
            s.name,
            s.last_slot.map(stamp),
            s.runs,
            s.failures,
            s.status,
            s.last_error,
            s.last_thread,
            s.counted
        ],
    )
}

/// One run of a scheduled task, as [`SqliteStore::start_run`] starts it.
#[derive(Clone, Copy, Debug)]
pub struct ScheduledRun<'a> {
    /// Its thread.
    pub thread: &'a str,
    /// The agent.
    pub agent: &'a str,
    /// Its mode.
    pub mode: &'a str,
    /// The run's prompt.
    pub prompt: &'a str,
    /// Whether the task continues one thread.
    pub same_thread: bool,
}
