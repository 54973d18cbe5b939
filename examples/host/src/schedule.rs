//! The scheduler: which scheduled tasks are due at a given time (the clock is the
//! caller's, so tests control it), and a queued thread for each. A task never overlaps
//! itself (a run still queued, running or parked holds the next); missed occurrences after
//! downtime run once (or are skipped, `catchUp: false`); three failed runs in a row fail the
//! task, with the reason; a run limit or an end date finishes it.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};

use crate::home::ScheduledTaskDef;
use crate::store::schedules::{ScheduleState, ScheduledRun};
use crate::store::{SqliteStore, StoreError, ThreadStatus, ThreadStore};

/// Failed runs in a row after which a task is failed.
pub const MAX_FAILURES: u32 = 3;

/// How late a run may start when missed occurrences are skipped (`catchUp: false`).
pub const ON_TIME: chrono::Duration = chrono::Duration::minutes(2);

/// Starts the runs of scheduled tasks.
pub struct Scheduler {
    tasks: Vec<ScheduledTaskDef>,
    store: Arc<SqliteStore>,
}

/// A scheduler clock given by hand (`sre serve --clock`): an RFC 3339 time between the
/// years 1970 and 9999.
pub fn parse_clock(s: &str) -> Result<DateTime<Utc>, String> {
    use chrono::Datelike;
    let t = DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("{e}: give an RFC 3339 time such as 2026-11-16T05:59:50Z"))?
        .with_timezone(&Utc);
    if (1970..=9999).contains(&t.year()) {
        Ok(t)
    } else {
        Err("the year must be between 1970 and 9999".into())
    }
}

/// A name safe in a thread id (and so a session file name).
pub fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

impl Scheduler {
    /// A scheduler of `tasks`, its state in `store`.
    pub fn new(tasks: Vec<ScheduledTaskDef>, store: Arc<SqliteStore>) -> Self {
        Scheduler { tasks, store }
    }

    /// Open a thread for each task due at `now`; their ids. One task's failure does not
    /// stop the others (the first error is returned once all were ticked; threads opened
    /// meanwhile are queued, and the dispatcher takes up queued threads anyway).
    pub fn tick(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        // Whole seconds: an occurrence found from a fractional time keeps the fraction,
        // which would make the same occurrence look new on the next tick.
        let now = now.trunc_subsecs(0);
        let mut opened = Vec::new();
        let mut first_error = None;
        for task in &self.tasks {
            let ticked = if task.enabled {
                self.tick_one(task, now)
            } else {
                self.skip_while_disabled(task, now).map(|()| None)
            };
            match ticked {
                Ok(Some(id)) => opened.push(id),
                Ok(None) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(opened),
        }
    }

    /// A disabled task's occurrences pass: enabled again, it does not catch them up.
    fn skip_while_disabled(
        &self,
        t: &ScheduledTaskDef,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut st = self.store.schedule_state(&t.name, now)?;
        let latest = t
            .pattern
            .find_previous_occurrence(&now.with_timezone(&t.time_zone), true)
            .map(|l| l.with_timezone(&Utc))
            .unwrap_or(now);
        // Written once per passing occurrence, not every tick.
        if st.last_slot.is_some_and(|s| s >= latest) {
            return Ok(());
        }
        st.last_slot = Some(latest);
        self.store.save_schedule(&st)
    }

    fn tick_one(
        &self,
        t: &ScheduledTaskDef,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let mut st = self.store.schedule_state(&t.name, now)?;
        if st.status != "active" {
            return Ok(None);
        }
        // Ticked every second: written only when something changed.
        let loaded = st.clone();
        let save = |st: &ScheduleState| {
            if *st == loaded {
                Ok(())
            } else {
                self.store.save_schedule(st)
            }
        };
        if let Some(thread) = st
            .last_thread
            .clone()
            .and_then(|id| self.store.thread(&id).transpose())
        {
            let thread = thread?;
            match thread.status {
                // No overlap: the next run waits for this one.
                ThreadStatus::Queued | ThreadStatus::Running | ThreadStatus::Parked => {
                    return Ok(None);
                }
                ThreadStatus::Completed if !st.counted => {
                    st.failures = 0;
                    st.counted = true;
                }
                ThreadStatus::Failed if !st.counted => {
                    st.failures += 1;
                    st.counted = true;
                    st.last_error = thread.error.clone();
                }
                _ => {}
            }
        }
        if st.failures >= MAX_FAILURES {
            st.status = "failed".into();
            st.last_error = Some(format!(
                "{MAX_FAILURES} runs failed in a row; the last: {}",
                st.last_error.as_deref().unwrap_or("(no reason recorded)")
            ));
            save(&st)?;
            return Ok(None);
        }
        // The latest occurrence at or before now, in the task's time zone.
        let local = now.with_timezone(&t.time_zone);
        let latest = match t.pattern.find_previous_occurrence(&local, true) {
            Ok(l) => l.with_timezone(&Utc),
            Err(e) => {
                st.last_error = Some(format!("no occurrence of `{}` found: {e}", t.cron));
                save(&st)?;
                return Ok(None);
            }
        };
        let base = st.last_slot.unwrap_or(st.first_seen);
        let limit_reached = t.run_limit.is_some_and(|l| st.runs >= l);
        // An occurrence before the end date still runs (even if caught up after it).
        let ended = t
            .end_date
            .is_some_and(|e| now > e && (latest <= base || latest > e));
        if limit_reached || ended {
            st.status = "finished".into();
            st.last_error = Some(if limit_reached {
                format!("ran {} times, its limit", st.runs)
            } else {
                "past its end date".into()
            });
            save(&st)?;
            return Ok(None);
        }
        if latest <= base {
            save(&st)?;
            return Ok(None);
        }
        if !t.catch_up && now - latest > ON_TIME {
            // Missed while down: skipped; the task waits for its next occurrence.
            st.last_slot = Some(latest);
            save(&st)?;
            return Ok(None);
        }
        let n = st.runs + 1;
        let id = if t.same_thread {
            format!("task-{}", slug(&t.name))
        } else {
            format!("task-{}-{n}", slug(&t.name))
        };
        let prompt = format!(
            "Scheduled task {} (`{}`, {}), run {n} for {}:\n{}",
            t.name,
            t.cron,
            t.time_zone,
            latest.to_rfc3339(),
            t.prompt
        );
        st.runs = n;
        st.last_slot = Some(latest);
        st.last_thread = Some(id.clone());
        st.counted = false;
        // The thread (or, same-thread, the run's message) and the state, in one transaction.
        let run = ScheduledRun {
            thread: &id,
            agent: &t.agent,
            mode: t.mode.as_str(),
            prompt: &prompt,
            same_thread: t.same_thread,
        };
        self.store.start_run(&st, &run, now)?;
        Ok(Some(id))
    }
}
