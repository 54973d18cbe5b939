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
        self.with(|c| {
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
            )?;
            Ok(())
        })
    }

    /// Every task's state (read only: tasks not ticked yet have none).
    pub fn schedule_states(&self) -> Result<Vec<ScheduleState>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM schedules ORDER BY name"))?;
            let rows = stmt.query_map([], row)?;
            rows.collect()
        })
    }

    /// A thread for one run of scheduled task `task`, queued (`true` when created now).
    pub fn open_scheduled(
        &self,
        id: &str,
        task: &str,
        agent: &str,
        mode: &str,
        prompt: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.with(|c| {
            let n = c.execute(
                "INSERT INTO threads (id, incident, agent, mode, status, attempts, max_attempts, \
                 task, updated_at) VALUES (?1, ?2, ?3, ?4, 'queued', 0, 1, ?5, ?6) \
                 ON CONFLICT (id) DO NOTHING",
                params![id, format!("task:{task}"), agent, mode, prompt, stamp(at)],
            )?;
            Ok(n == 1)
        })
    }
}
