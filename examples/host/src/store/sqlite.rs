//! The embedded incident store: one SQLite file (WAL), schema migrations by `user_version`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::{
    DeliveryRecord, IncidentRecord, IncidentStore, Intake, PlanSnapshot, Routing, StoreError,
};
use crate::incident::{Alert, AlertStatus, Priority, Source};

/// The schema, one migration per entry; `user_version` is how many have run.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    received_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'received',
    error TEXT,
    body BLOB NOT NULL
);
CREATE TABLE incidents (
    seq INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    title TEXT NOT NULL,
    severity TEXT,
    priority INTEGER,
    service TEXT,
    description TEXT,
    incident_type TEXT,
    status TEXT NOT NULL,
    resolved_at TEXT,
    labels TEXT NOT NULL,
    links TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    count INTEGER NOT NULL,
    plan TEXT,
    not_investigated TEXT,
    thread TEXT,
    raw TEXT NOT NULL
);
CREATE INDEX incidents_by_rule ON incidents (source, rule, status, last_seen);
CREATE TABLE series (
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    incident INTEGER NOT NULL REFERENCES incidents (seq),
    open INTEGER NOT NULL,
    PRIMARY KEY (source, external_id, incident)
);
CREATE TABLE events (
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    incident INTEGER NOT NULL REFERENCES incidents (seq),
    delivery INTEGER NOT NULL REFERENCES deliveries (id),
    PRIMARY KEY (source, event_id)
);
"#,
    r#"
CREATE TABLE approvals (
    seq INTEGER PRIMARY KEY,
    thread TEXT NOT NULL,
    session TEXT NOT NULL,
    tool_use_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    tool TEXT NOT NULL,
    input TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    approved_input TEXT,
    note TEXT,
    created_at TEXT NOT NULL,
    decided_at TEXT,
    UNIQUE (session, tool_use_id)
);
CREATE INDEX approvals_by_status ON approvals (status, seq);
CREATE INDEX approvals_by_thread ON approvals (thread, status);
CREATE TABLE policies (
    id INTEGER PRIMARY KEY,
    thread TEXT,
    tool TEXT NOT NULL,
    prefix TEXT,
    exact INTEGER NOT NULL DEFAULT 0,
    effect TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE threads (
    id TEXT PRIMARY KEY,
    incident TEXT NOT NULL,
    agent TEXT NOT NULL,
    mode TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    task TEXT NOT NULL,
    answer TEXT,
    error TEXT,
    updated_at TEXT NOT NULL,
    runs INTEGER NOT NULL DEFAULT 0,
    pending_task TEXT,
    hooks TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX threads_by_status ON threads (status, updated_at);
"#,
    r#"
CREATE TABLE schedules (
    name TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL,
    last_slot TEXT,
    runs INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'active',
    last_error TEXT,
    last_thread TEXT,
    counted INTEGER NOT NULL DEFAULT 1
);
"#,
    r#"
CREATE TABLE thread_events (
    thread TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (thread, seq)
) WITHOUT ROWID;
CREATE TABLE thread_sessions (
    thread TEXT NOT NULL,
    session TEXT NOT NULL,
    agent TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    PRIMARY KEY (thread, session)
) WITHOUT ROWID;
"#,
    r#"
ALTER TABLE threads ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
UPDATE threads SET cost_usd = (
    SELECT COALESCE(SUM(
        CASE WHEN json_valid(event) THEN
            CASE WHEN json_extract(event, '$.kind.type') IN ('model_response', 'auxiliary_model_call')
                  AND json_type(event, '$.kind.cost_usd') IN ('real', 'integer')
                  AND json_extract(event, '$.kind.cost_usd') > 0
            THEN json_extract(event, '$.kind.cost_usd') END
        END), 0)
    FROM thread_events WHERE thread = threads.id
);
ALTER TABLE approvals ADD COLUMN decided_by TEXT;
"#,
];

/// Incidents in one SQLite database file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// Times are stored in one fixed format, so that text order is time order.
pub(super) fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl SqliteStore {
    /// Open (creating it and its folder if needed) the database at `path`, and bring its
    /// schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let err = |e: &dyn std::fmt::Display| StoreError::Database {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        }
        let conn = Connection::open(&path).map_err(|e| err(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| err(&e))?;
        // FULL: a delivery acknowledged is on disk, power loss included.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| err(&e))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| err(&e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| err(&e))?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| err(&e))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(err(&format!(
                "the database has schema version {version}, newer than this program's {known}"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.unchecked_transaction().map_err(|e| err(&e))?;
            tx.execute_batch(sql).map_err(|e| err(&e))?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(|e| err(&e))?;
            tx.commit().map_err(|e| err(&e))?;
        }
        Ok(SqliteStore {
            path,
            conn: Mutex::new(conn),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Database {
            path: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|e| self.err(e))
    }
}

const INCIDENT_COLUMNS: &str = "seq, source, external_id, rule, title, severity, priority, \
     service, description, incident_type, status, resolved_at, labels, links, first_seen, \
     last_seen, count, plan, not_investigated, thread, raw";

pub(super) fn bad_column(
    i: usize,
    e: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

pub(super) fn time_column(r: &Row<'_>, i: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = r.get(i)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| bad_column(i, e))
}

/// A nullable time column.
pub(super) fn opt_time_column(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match r.get::<_, Option<String>>(i)? {
        Some(_) => time_column(r, i).map(Some),
        None => Ok(None),
    }
}

pub(super) fn json_column<T: serde::de::DeserializeOwned>(
    r: &Row<'_>,
    i: usize,
) -> rusqlite::Result<T> {
    let text: String = r.get(i)?;
    serde_json::from_str(&text).map_err(|e| bad_column(i, e))
}

fn incident_row(r: &Row<'_>) -> rusqlite::Result<IncidentRecord> {
    let seq: i64 = r.get(0)?;
    let source: String = r.get(1)?;
    let status: String = r.get(10)?;
    let priority: Option<u8> = r.get(6)?;
    let plan: Option<String> = r.get(17)?;
    let plan: Option<PlanSnapshot> = match plan {
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| bad_column(17, e))?),
        None => None,
    };
    Ok(IncidentRecord {
        id: format!("inc-{seq}"),
        source: Source::parse(&source).unwrap_or(Source::Manual),
        external_id: r.get(2)?,
        rule: r.get(3)?,
        title: r.get(4)?,
        severity: r.get(5)?,
        priority: priority.map(Priority),
        service: r.get(7)?,
        description: r.get(8)?,
        incident_type: r.get(9)?,
        status: status_of(&status),
        resolved_at: opt_time_column(r, 11)?,
        labels: json_column(r, 12)?,
        links: json_column(r, 13)?,
        first_seen: time_column(r, 14)?,
        last_seen: time_column(r, 15)?,
        count: r.get(16)?,
        agent: plan.as_ref().map(|p| p.agent.clone()),
        plan,
        not_investigated: r.get(18)?,
        thread: r.get(19)?,
        raw: json_column(r, 20)?,
    })
}

fn status_of(s: &str) -> AlertStatus {
    match s {
        "resolved" => AlertStatus::Resolved,
        "acknowledged" => AlertStatus::Acknowledged,
        _ => AlertStatus::Firing,
    }
}

fn load(conn: &Connection, seq: i64) -> rusqlite::Result<IncidentRecord> {
    conn.query_row(
        &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE seq = ?1"),
        [seq],
        incident_row,
    )
}

/// The incident id `inc-<n>` as its row number.
fn seq_of(id: &str) -> Option<i64> {
    id.strip_prefix("inc-")?.parse().ok()
}

/// An incident an alert may belong to.
struct Candidate {
    seq: i64,
    status: AlertStatus,
    last_seen: String,
    resolved_at: Option<String>,
    routed: bool,
    /// Found through the alert's own series (not only its rule).
    same_series: bool,
}

fn candidate(r: &Row<'_>) -> rusqlite::Result<Candidate> {
    let status: String = r.get(1)?;
    Ok(Candidate {
        seq: r.get(0)?,
        status: status_of(&status),
        last_seen: r.get(2)?,
        resolved_at: r.get(3)?,
        routed: r.get::<_, Option<String>>(4)?.is_some(),
        same_series: false,
    })
}

/// The incident `alert` belongs to, if any (see [`IncidentStore::accept`]).
fn find(tx: &Connection, alert: &Alert, cutoff: &str) -> rusqlite::Result<Option<Candidate>> {
    let source = alert.source.as_str();
    let by_series = tx
        .query_row(
            "SELECT i.seq, i.status, i.last_seen, i.resolved_at, i.plan FROM series s \
             JOIN incidents i ON i.seq = s.incident \
             WHERE s.source = ?1 AND s.external_id = ?2 ORDER BY i.seq DESC LIMIT 1",
            params![source, alert.external_id],
            |r| {
                candidate(r).map(|c| Candidate {
                    same_series: true,
                    ..c
                })
            },
        )
        .optional()?;
    let current =
        |c: &Candidate| c.status != AlertStatus::Resolved || c.last_seen.as_str() >= cutoff;
    match by_series {
        // A resolution is about its series' incident, however old.
        Some(c) if alert.status == AlertStatus::Resolved || current(&c) => return Ok(Some(c)),
        _ => {}
    }
    let open = tx
        .query_row(
            "SELECT seq, status, last_seen, resolved_at, plan FROM incidents \
             WHERE source = ?1 AND rule = ?2 AND status != 'resolved' ORDER BY seq DESC LIMIT 1",
            params![source, alert.rule],
            candidate,
        )
        .optional()?;
    if open.is_some() || alert.status == AlertStatus::Resolved {
        return Ok(open);
    }
    tx.query_row(
        "SELECT seq, status, last_seen, resolved_at, plan FROM incidents \
         WHERE source = ?1 AND rule = ?2 AND status = 'resolved' AND last_seen >= ?3 \
         ORDER BY seq DESC LIMIT 1",
        params![source, alert.rule, cutoff],
        candidate,
    )
    .optional()
}

fn set_series(tx: &Connection, alert: &Alert, seq: i64, open: bool) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO series (source, external_id, incident, open) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (source, external_id, incident) DO UPDATE SET open = excluded.open",
        params![alert.source.as_str(), alert.external_id, seq, open],
    )?;
    Ok(())
}

/// Route an incident no plan has taken yet; `Some(reason)` when none takes it.
fn set_routing(tx: &Connection, seq: i64, routing: Routing) -> rusqlite::Result<()> {
    match routing {
        Routing::Plan(plan) => {
            tx.execute(
                "UPDATE incidents SET plan = ?2, not_investigated = NULL, \
                 thread = 'thread-' || seq WHERE seq = ?1",
                params![seq, serde_json::to_string(&plan).unwrap_or_default()],
            )?;
        }
        Routing::Unrouted { reason } => {
            tx.execute(
                "UPDATE incidents SET not_investigated = ?2 WHERE seq = ?1",
                params![seq, reason],
            )?;
        }
    }
    Ok(())
}

fn create(tx: &Connection, alert: &Alert, now: &str, at: DateTime<Utc>) -> rusqlite::Result<i64> {
    let resolved_at =
        (alert.status == AlertStatus::Resolved).then(|| stamp(alert.ended_at.unwrap_or(at)));
    tx.execute(
        "INSERT INTO incidents (source, external_id, rule, title, severity, priority, service, \
         description, incident_type, status, resolved_at, labels, links, first_seen, last_seen, \
         count, raw) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            alert.source.as_str(),
            alert.external_id,
            alert.rule,
            alert.title,
            alert.severity,
            alert.priority.map(|p| p.0),
            alert.service,
            alert.description,
            alert.incident_type,
            alert.status.as_str(),
            resolved_at,
            serde_json::to_string(&alert.labels).unwrap_or_default(),
            serde_json::to_string(&alert.links).unwrap_or_default(),
            stamp(alert.started_at.min(at)),
            now,
            i64::from(alert.status != AlertStatus::Resolved),
            alert.raw.to_string(),
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Apply one alert (inside the delivery's transaction).
fn apply(
    tx: &Connection,
    delivery: i64,
    alert: &Alert,
    at: DateTime<Utc>,
    cutoff: &str,
    route: &dyn Fn(&Alert) -> Routing,
) -> rusqlite::Result<Intake> {
    let source = alert.source.as_str();
    let now = stamp(at);
    let seen: Option<i64> = tx
        .query_row(
            "SELECT incident FROM events WHERE source = ?1 AND event_id = ?2",
            params![source, alert.event_id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(seq) = seen {
        // A repeat notification of a firing alert: it is still firing.
        if alert.status == AlertStatus::Firing {
            tx.execute(
                "UPDATE incidents SET last_seen = max(last_seen, ?2) WHERE seq = ?1 \
                 AND status != 'resolved'",
                params![seq, now],
            )?;
        }
        return Ok(Intake::Duplicate {
            incident: load(tx, seq)?,
        });
    }
    let found = find(tx, alert, cutoff)?;
    let (seq, kind) = match (found, alert.status) {
        (None, status) => {
            let seq = create(tx, alert, &now, at)?;
            set_series(tx, alert, seq, status != AlertStatus::Resolved)?;
            let routing = if status == AlertStatus::Resolved {
                Routing::Unrouted {
                    reason: "resolved before it was seen firing".into(),
                }
            } else {
                route(alert)
            };
            set_routing(tx, seq, routing)?;
            (seq, "new")
        }
        (Some(c), AlertStatus::Resolved) => {
            set_series(tx, alert, c.seq, false)?;
            let open: i64 = tx.query_row(
                "SELECT count(*) FROM series WHERE incident = ?1 AND open = 1",
                [c.seq],
                |r| r.get(0),
            )?;
            if c.status != AlertStatus::Resolved && open == 0 {
                let ended = stamp(alert.ended_at.unwrap_or(at));
                tx.execute(
                    "UPDATE incidents SET status = 'resolved', resolved_at = ?2, last_seen = ?3 \
                     WHERE seq = ?1",
                    params![c.seq, ended, now],
                )?;
                (c.seq, "resolved")
            } else if c.status == AlertStatus::Resolved {
                (c.seq, "resolved")
            } else {
                // Other series of the incident still fire.
                tx.execute(
                    "UPDATE incidents SET last_seen = ?2 WHERE seq = ?1",
                    params![c.seq, now],
                )?;
                (c.seq, "joined")
            }
        }
        (Some(c), AlertStatus::Acknowledged) => {
            if c.status != AlertStatus::Resolved {
                tx.execute(
                    "UPDATE incidents SET status = 'acknowledged', last_seen = ?2 WHERE seq = ?1",
                    params![c.seq, now],
                )?;
                set_series(tx, alert, c.seq, true)?;
            }
            (c.seq, "joined")
        }
        (Some(c), AlertStatus::Firing) => {
            // Its own series ended after it started: a firing delivered late.
            let late = c.status == AlertStatus::Resolved
                && c.same_series
                && c.resolved_at
                    .as_deref()
                    .is_some_and(|r| stamp(alert.started_at).as_str() <= r);
            if late {
                // It started before the resolution and arrived after it: nothing to reopen.
                set_series(tx, alert, c.seq, false)?;
                (c.seq, "joined")
            } else {
                let reopened = c.status == AlertStatus::Resolved;
                tx.execute(
                    "UPDATE incidents SET count = count + 1, last_seen = ?2, \
                     status = CASE WHEN status = 'acknowledged' THEN status ELSE 'firing' END, \
                     resolved_at = NULL, \
                     priority = CASE WHEN ?3 IS NULL THEN priority WHEN priority IS NULL \
                                THEN ?3 ELSE min(priority, ?3) END \
                     WHERE seq = ?1",
                    params![c.seq, now, alert.priority.map(|p| p.0)],
                )?;
                set_series(tx, alert, c.seq, true)?;
                if !c.routed {
                    // A plan may take it now (a warning that became critical).
                    set_routing(tx, c.seq, route(alert))?;
                }
                (c.seq, if reopened { "reopened" } else { "joined" })
            }
        }
    };
    tx.execute(
        "INSERT INTO events (source, event_id, incident, delivery) VALUES (?1, ?2, ?3, ?4)",
        params![source, alert.event_id, seq, delivery],
    )?;
    let incident = load(tx, seq)?;
    Ok(match kind {
        "new" => Intake::New { incident },
        "resolved" => Intake::Resolved { incident },
        "reopened" => Intake::Reopened { incident },
        _ => Intake::Joined { incident },
    })
}

impl IncidentStore for SqliteStore {
    fn record_delivery(
        &self,
        source: Source,
        body: &[u8],
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO deliveries (source, received_at, body) VALUES (?1, ?2, ?3)",
                params![source.as_str(), stamp(at), body],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn reject_delivery(&self, delivery: i64, reason: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE deliveries SET state = 'rejected', error = ?2 WHERE id = ?1",
                params![delivery, reason],
            )?;
            Ok(())
        })
    }

    fn accept(
        &self,
        delivery: i64,
        alerts: &[Alert],
        at: DateTime<Utc>,
        window: std::time::Duration,
        route: &dyn Fn(&Alert) -> Routing,
    ) -> Result<Vec<Intake>, StoreError> {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        let cutoff = stamp(
            at.checked_sub_signed(window)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        );
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut out = Vec::with_capacity(alerts.len());
            for alert in alerts {
                out.push(apply(&tx, delivery, alert, at, &cutoff, route)?);
            }
            tx.execute(
                "UPDATE deliveries SET state = 'accepted' WHERE id = ?1",
                [delivery],
            )?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn incident(&self, id: &str) -> Result<Option<IncidentRecord>, StoreError> {
        let Some(seq) = seq_of(id) else {
            return Ok(None);
        };
        self.with(|c| load(c, seq).optional())
    }

    fn unopened(&self) -> Result<Vec<IncidentRecord>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE thread IS NOT NULL \
                 AND thread NOT IN (SELECT id FROM threads) ORDER BY seq"
            ))?;
            let rows = stmt.query_map([], incident_row)?;
            rows.collect()
        })
    }

    fn incidents(&self, limit: usize) -> Result<Vec<IncidentRecord>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY seq DESC LIMIT ?1"
            ))?;
            let rows = stmt.query_map([limit as i64], incident_row)?;
            rows.collect()
        })
    }

    fn deliveries(&self, limit: usize) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, source, received_at, state, error, length(body) FROM deliveries \
                 ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit as i64], |r| {
                let source: String = r.get(1)?;
                let size: i64 = r.get(5)?;
                Ok(DeliveryRecord {
                    id: r.get(0)?,
                    source: Source::parse(&source).unwrap_or(Source::Manual),
                    received_at: time_column(r, 2)?,
                    state: r.get(3)?,
                    error: r.get(4)?,
                    size: usize::try_from(size).unwrap_or(0),
                })
            })?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventLog, ThreadStore};

    /// A database from before threads kept their cost: the migration sums the costs its
    /// logged events report, passing over a damaged row, which the output query skips too.
    #[test]
    fn the_cost_migration_sums_logged_costs_and_skips_damaged_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            let before = MIGRATIONS.len() - 1;
            for sql in &MIGRATIONS[..before] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", before as i64)
                .unwrap();
            conn.execute(
                "INSERT INTO threads (id, incident, agent, mode, status, attempts, max_attempts, \
                 task, updated_at) VALUES ('thread-1', 'inc-1', 'a', 'Review', 'completed', 0, 1, \
                 't', '2026-11-30T00:00:00.000000Z')",
                [],
            )
            .unwrap();
            let rows = [
                r#"{"session_id":"s","agent":"a","kind":{"type":"model_response","cost_usd":0.5}}"#,
                r#"{"session_id":"s","agent":"a","kind":{"type":"auxiliary_model_call","cost_usd":0.25}}"#,
                "not json {",
                r#"{"session_id":"s","agent":"a","kind":{"type":"tool_finished","id":"c1","output":"whole","recorded":"w"}}"#,
                r#"{"thread":"thread-1","status":"completed"}"#,
            ];
            for (i, row) in rows.iter().enumerate() {
                conn.execute(
                    "INSERT INTO thread_events (thread, seq, event) VALUES ('thread-1', ?1, ?2)",
                    rusqlite::params![i as i64 + 1, row],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        let thread = store.thread("thread-1").unwrap().unwrap();
        assert!(
            (thread.cost_usd - 0.75).abs() < 1e-12,
            "{}",
            thread.cost_usd
        );
        assert_eq!(
            store.tool_output("thread-1", "s", "c1").unwrap().as_deref(),
            Some("whole")
        );
        assert_eq!(store.tool_output("thread-1", "s", "c2").unwrap(), None);
        assert_eq!(store.tool_output("thread-1", "other", "c1").unwrap(), None);
    }
}
