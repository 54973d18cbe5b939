//! Scheduled tasks with a clock the test controls: cadence, no overlap, missed runs after
//! downtime (run once, or skipped), three failures in a row, limits, time zones, and the
//! loader's errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sre_host::home::AgentHome;
use sre_host::schedule::Scheduler;
use sre_host::store::{SqliteStore, ThreadStatus, ThreadStore};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn home(task: &str) -> (tempfile::TempDir, AgentHome) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        format!(
            "kind: ExtendedAgent\nspec:\n  name: triage\n  system_prompt: You triage.\n---\nkind: ScheduledTask\nspec:\n{task}"
        ),
    )
    .unwrap();
    let home = AgentHome::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    (dir, home)
}

fn scheduler(task: &str) -> (tempfile::TempDir, Arc<SqliteStore>, Scheduler) {
    let (dir, home) = home(task);
    let store = Arc::new(SqliteStore::open(dir.path().join("db/incidents.db")).unwrap());
    let s = Scheduler::new(home.schedules.clone(), store.clone());
    (dir, store, s)
}

fn finish(store: &SqliteStore, id: &str, status: ThreadStatus, error: Option<&str>) {
    store
        .set_thread(id, status, false, None, error, Utc::now())
        .unwrap();
}

const EVERY_15: &str = "  name: triage-errors\n  agent: triage\n  cron: '*/15 * * * *'\n  agentPrompt: Triage the LLM errors of the last 24 hours.\n";

#[test]
fn runs_on_its_cadence_without_overlapping_itself() {
    let (_dir, store, s) = scheduler(EVERY_15);
    // First seen at 08:05: nothing before then runs.
    assert!(s.tick(at("2026-11-30T08:05:00Z")).unwrap().is_empty());
    assert!(s.tick(at("2026-11-30T08:14:59Z")).unwrap().is_empty());
    assert_eq!(
        s.tick(at("2026-11-30T08:15:01Z")).unwrap(),
        ["task-triage-errors-1"]
    );
    let t = store.thread("task-triage-errors-1").unwrap().unwrap();
    assert_eq!(
        (t.agent.as_str(), t.mode.as_str(), t.status),
        ("triage", "Autonomous", ThreadStatus::Queued)
    );
    assert!(
        t.task.contains("run 1 for 2026-11-30T08:15:00+00:00"),
        "{}",
        t.task
    );
    assert!(t.task.contains("Triage the LLM errors"), "{}", t.task);
    // The same occurrence never runs twice.
    assert!(s.tick(at("2026-11-30T08:16:00Z")).unwrap().is_empty());
    // Still running at the next occurrence: no overlap, the run waits.
    finish(&store, "task-triage-errors-1", ThreadStatus::Running, None);
    assert!(s.tick(at("2026-11-30T08:30:05Z")).unwrap().is_empty());
    // Done: the missed occurrence runs once, then the cadence goes on.
    finish(
        &store,
        "task-triage-errors-1",
        ThreadStatus::Completed,
        None,
    );
    assert_eq!(
        s.tick(at("2026-11-30T08:31:00Z")).unwrap(),
        ["task-triage-errors-2"]
    );
    finish(
        &store,
        "task-triage-errors-2",
        ThreadStatus::Completed,
        None,
    );
    assert!(s.tick(at("2026-11-30T08:40:00Z")).unwrap().is_empty());
    assert_eq!(
        s.tick(at("2026-11-30T08:45:00Z")).unwrap(),
        ["task-triage-errors-3"]
    );
}

#[test]
fn missed_runs_after_downtime_run_once_or_are_skipped() {
    let (_dir, store, s) = scheduler(EVERY_15);
    s.tick(at("2026-11-30T08:00:00Z")).unwrap();
    assert_eq!(s.tick(at("2026-11-30T08:15:00Z")).unwrap().len(), 1);
    finish(
        &store,
        "task-triage-errors-1",
        ThreadStatus::Completed,
        None,
    );
    // Down from 08:20 to 12:07: fifteen occurrences missed, one run.
    assert_eq!(
        s.tick(at("2026-11-30T12:07:00Z")).unwrap(),
        ["task-triage-errors-2"]
    );
    finish(
        &store,
        "task-triage-errors-2",
        ThreadStatus::Completed,
        None,
    );
    assert!(s.tick(at("2026-11-30T12:08:00Z")).unwrap().is_empty());
    assert_eq!(s.tick(at("2026-11-30T12:15:00Z")).unwrap().len(), 1);

    // With catchUp: false the missed ones are skipped.
    let (_dir, store, s) = scheduler(&format!("{EVERY_15}  catchUp: false\n"));
    s.tick(at("2026-11-30T08:00:00Z")).unwrap();
    assert_eq!(
        s.tick(at("2026-11-30T08:15:30Z")).unwrap().len(),
        1,
        "on time runs"
    );
    finish(
        &store,
        "task-triage-errors-1",
        ThreadStatus::Completed,
        None,
    );
    assert!(
        s.tick(at("2026-11-30T12:07:00Z")).unwrap().is_empty(),
        "late: skipped"
    );
    assert_eq!(
        s.tick(at("2026-11-30T12:15:10Z")).unwrap(),
        ["task-triage-errors-2"]
    );
}

#[test]
fn a_fraction_of_a_second_does_not_make_an_occurrence_new() {
    let (_dir, store, s) = scheduler(EVERY_15);
    s.tick(at("2026-11-30T08:00:00.250Z")).unwrap();
    assert_eq!(s.tick(at("2026-11-30T08:15:00.700Z")).unwrap().len(), 1);
    finish(
        &store,
        "task-triage-errors-1",
        ThreadStatus::Completed,
        None,
    );
    // The watcher ticks every second or so, at ever other fractions.
    for t in [
        "2026-11-30T08:15:02.900Z",
        "2026-11-30T08:20:30.999Z",
        "2026-11-30T08:29:59.999Z",
    ] {
        assert!(s.tick(at(t)).unwrap().is_empty(), "{t}");
    }
}

#[test]
fn a_disabled_task_does_not_catch_up_when_enabled_again() {
    let (dir, home) = home(&format!("{EVERY_15}  isEnabled: false\n"));
    let store = Arc::new(SqliteStore::open(dir.path().join("db/incidents.db")).unwrap());
    let off = Scheduler::new(home.schedules.clone(), store.clone());
    off.tick(at("2026-11-30T08:00:00Z")).unwrap();
    assert!(off.tick(at("2026-11-30T09:07:00Z")).unwrap().is_empty());
    let mut on = home.schedules.clone();
    on[0].enabled = true;
    let on = Scheduler::new(on, store);
    assert!(
        on.tick(at("2026-11-30T09:08:00Z")).unwrap().is_empty(),
        "no catch-up"
    );
    assert_eq!(on.tick(at("2026-11-30T09:15:00Z")).unwrap().len(), 1);
}

#[test]
fn three_failures_in_a_row_fail_the_task_and_say_why() {
    let (_dir, store, s) = scheduler(EVERY_15);
    s.tick(at("2026-11-30T08:00:00Z")).unwrap();
    let mut clock = at("2026-11-30T08:15:00Z");
    // A success between failures resets the count.
    for (i, outcome) in [
        ThreadStatus::Failed,
        ThreadStatus::Completed,
        ThreadStatus::Failed,
        ThreadStatus::Failed,
    ]
    .into_iter()
    .enumerate()
    {
        let opened = s.tick(clock).unwrap();
        assert_eq!(opened.len(), 1, "run {}", i + 1);
        finish(
            &store,
            &opened[0],
            outcome,
            Some("the model API answered 503"),
        );
        clock += chrono::Duration::minutes(15);
    }
    assert_eq!(
        s.tick(clock).unwrap().len(),
        1,
        "two failures in a row: still active"
    );
    finish(
        &store,
        "task-triage-errors-5",
        ThreadStatus::Failed,
        Some("the model API answered 503"),
    );
    clock += chrono::Duration::minutes(15);
    assert!(s.tick(clock).unwrap().is_empty());
    let state = store.schedule_state("triage-errors", clock).unwrap();
    assert_eq!(state.status, "failed");
    assert_eq!(
        state.last_error.as_deref(),
        Some("3 runs failed in a row; the last: the model API answered 503")
    );
    assert!(
        s.tick(clock + chrono::Duration::hours(5))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn limits_end_dates_and_time_zones() {
    let (_dir, store, s) = scheduler(&format!("{EVERY_15}  runLimit: 1\n"));
    s.tick(at("2026-11-30T08:00:00Z")).unwrap();
    assert_eq!(s.tick(at("2026-11-30T08:15:00Z")).unwrap().len(), 1);
    finish(
        &store,
        "task-triage-errors-1",
        ThreadStatus::Completed,
        None,
    );
    assert!(s.tick(at("2026-11-30T08:30:00Z")).unwrap().is_empty());
    assert_eq!(
        store
            .schedule_state("triage-errors", Utc::now())
            .unwrap()
            .status,
        "finished"
    );

    let (_dir, store, s) = scheduler(&format!("{EVERY_15}  endDate: '2026-11-30T09:00:00Z'\n"));
    s.tick(at("2026-11-30T08:50:00Z")).unwrap();
    // The 09:00 occurrence is before the end date: it runs, even caught up late.
    assert_eq!(s.tick(at("2026-11-30T09:10:00Z")).unwrap().len(), 1);
    finish(
        &store,
        "task-triage-errors-1",
        ThreadStatus::Completed,
        None,
    );
    assert!(
        s.tick(at("2026-11-30T09:15:00Z")).unwrap().is_empty(),
        "past its end"
    );
    let state = store.schedule_state("triage-errors", Utc::now()).unwrap();
    assert_eq!(
        (state.status.as_str(), state.last_error.as_deref()),
        ("finished", Some("past its end date"))
    );

    // 06:00 in Paris is 05:00 UTC in winter.
    let paris = "  name: morning\n  agent: triage\n  cron: '0 6 * * *'\n  timeZone: Europe/Paris\n  agentPrompt: Morning report.\n";
    let (_dir, _store, s) = scheduler(paris);
    s.tick(at("2026-11-30T04:00:00Z")).unwrap();
    assert!(s.tick(at("2026-11-30T04:59:00Z")).unwrap().is_empty());
    assert_eq!(
        s.tick(at("2026-11-30T05:00:30Z")).unwrap(),
        ["task-morning-1"]
    );
}

#[test]
fn bad_tasks_are_errors_that_say_where() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: triage\n  system_prompt: p\n---\nkind: ScheduledTask\nspec:\n  name: t\n  agent: triag\n  cron: '61 * * * *'\n  timeZone: Mars/Olympus\n  runLimit: 0\n  endDate: someday\n",
    )
    .unwrap();
    let err = AgentHome::load(dir.path()).unwrap_err().to_string();
    for want in [
        "`61 * * * *` is not a cron pattern",
        "unknown time zone `Mars/Olympus`",
        "spec.agent_prompt: missing",
        "spec.runLimit: must be at least 1",
        "`someday` is not a date",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
    std::fs::write(
        dir.path().join("a.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: triage\n  system_prompt: p\n---\nkind: ScheduledTask\nspec:\n  name: t\n  agent: triag\n  cron: '@daily'\n  agentPrompt: p\n",
    )
    .unwrap();
    let err = AgentHome::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("unknown agent `triag`") && err.contains("did you mean `triage`"),
        "{err}"
    );
    // Two names that would give the same thread ids.
    std::fs::write(
        dir.path().join("a.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: triage\n  system_prompt: p\n---\nkind: ScheduledTask\nspec:\n  name: db backup\n  agent: triage\n  cron: '@daily'\n  agentPrompt: p\n---\nkind: ScheduledTask\nspec:\n  name: db-backup\n  agent: triage\n  cron: '@daily'\n  agentPrompt: p\n",
    )
    .unwrap();
    let err = AgentHome::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("`db backup` and `db-backup` would share thread ids"),
        "{err}"
    );
}

#[test]
fn same_thread_tasks_continue_one_thread_run_after_run() {
    let (_dir, store, s) = scheduler(&format!("{EVERY_15}  sameThread: true\n"));
    s.tick(at("2026-11-30T08:05:00Z")).unwrap();
    assert_eq!(
        s.tick(at("2026-11-30T08:15:00Z")).unwrap(),
        ["task-triage-errors"]
    );
    let first = store.thread("task-triage-errors").unwrap().unwrap();
    assert!(first.task.contains("run 1 for"), "{}", first.task);
    assert_eq!(first.pending_task, None);
    // Still running at the next occurrence: no overlap.
    finish(&store, "task-triage-errors", ThreadStatus::Running, None);
    assert!(s.tick(at("2026-11-30T08:30:00Z")).unwrap().is_empty());
    finish(&store, "task-triage-errors", ThreadStatus::Completed, None);
    // The next run is the same thread's next message, in its session.
    assert_eq!(
        s.tick(at("2026-11-30T08:45:00Z")).unwrap(),
        ["task-triage-errors"]
    );
    let t = store.thread("task-triage-errors").unwrap().unwrap();
    assert_eq!(t.status, ThreadStatus::Queued);
    assert_eq!(t.task, first.task, "the thread's first task stays");
    let next = t.pending_task.expect("the run's prompt waits as a message");
    assert!(
        next.contains("run 2 for 2026-11-30T08:45:00+00:00"),
        "{next}"
    );
    // Failures still count run by run: three in a row fail the task.
    for (i, when) in ["09:00", "09:15", "09:30"].iter().enumerate() {
        finish(
            &store,
            "task-triage-errors",
            ThreadStatus::Failed,
            Some("model down"),
        );
        let opened = s.tick(at(&format!("2026-11-30T{when}:00Z"))).unwrap();
        assert_eq!(opened.len(), usize::from(i < 2), "tick at {when}");
    }
    let state = store.schedule_state("triage-errors", Utc::now()).unwrap();
    assert_eq!(state.status, "failed", "{state:?}");
}

#[test]
fn a_same_thread_task_never_posts_into_another_tasks_thread() {
    // Task `x` runs in `task-x-1`, `task-x-2`...; task `x-1` (same thread) would be `task-x-1`.
    let (_dir, store, s) = scheduler(
        "  name: x\n  agent: triage\n  cron: '*/15 * * * *'\n  agentPrompt: X.\n---\nkind: ScheduledTask\nspec:\n  name: x-1\n  agent: triage\n  cron: '*/15 * * * *'\n  agentPrompt: Other.\n  sameThread: true\n",
    );
    s.tick(at("2026-11-30T08:05:00Z")).unwrap();
    // Both due: `x` takes task-x-1; `x-1` finds it is not its own and says so.
    let err = s.tick(at("2026-11-30T08:15:00Z")).unwrap_err().to_string();
    assert!(err.contains("is another task's"), "{err}");
    let t = store.thread("task-x-1").unwrap().unwrap();
    assert_eq!(t.incident, "task:x");
    assert!(t.task.contains("X."), "{}", t.task);
    assert_eq!(t.pending_task, None, "nothing posted into x's thread");
    finish(&store, "task-x-1", ThreadStatus::Completed, None);
    let err = s.tick(at("2026-11-30T08:30:00Z")).unwrap_err().to_string();
    assert!(err.contains("is another task's"), "{err}");
    assert_eq!(
        store.thread("task-x-1").unwrap().unwrap().pending_task,
        None
    );
}

#[test]
fn a_clock_given_by_hand_is_an_rfc3339_time_in_a_sane_year() {
    use sre_host::schedule::parse_clock;
    assert_eq!(
        parse_clock("2026-11-16T07:59:50+02:00").unwrap(),
        at("2026-11-16T05:59:50Z")
    );
    for (bad, says) in [
        ("garbage", "give an RFC 3339 time such as"),
        ("2026-11-16T05:59:50", "give an RFC 3339 time such as"),
        (
            "0001-01-01T00:00:00Z",
            "the year must be between 1970 and 9999",
        ),
        ("+262142-12-31T23:59:58Z", "give an RFC 3339 time such as"),
    ] {
        let e = parse_clock(bad).unwrap_err();
        assert!(e.contains(says), "{bad}: {e}");
    }
}
