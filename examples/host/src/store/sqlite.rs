//! The embedded incident store: one SQLite file (WAL), schema migrations by `user_version`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::{DeliveryRecord, IncidentRecord, IncidentStore, Intake, Routing, StoreError};
use crate::incident::{Alert, AlertStatus, Priority, Source};

/// The schema, one migration per entry; `user_version` is how many have run.
const MIGRATIONS: &[&str] = &[r#"
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
    status TEXT NOT NULL,
    labels TEXT NOT NULL,
    links TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    count INTEGER NOT NULL,
    plan TEXT,
    agent TEXT,
    not_investigated TEXT,
    thread TEXT,
    raw TEXT NOT NULL
);
CREATE INDEX incidents_by_rule ON incidents (source, rule, last_seen);
CREATE TABLE events (
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    incident INTEGER NOT NULL REFERENCES incidents (seq),
    delivery INTEGER NOT NULL REFERENCES deliveries (id),
    PRIMARY KEY (source, event_id)
);
"#];

/// Incidents in one SQLite database file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// Times are stored in one fixed format, so that text order is time order.
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_stamp(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
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
        conn.pragma_update(None, "synchronous", "NORMAL")
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

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|e| self.err(e))
    }
}

const INCIDENT_COLUMNS: &str = "seq, source, external_id, rule, title, severity, priority, \
     service, status, labels, links, first_seen, last_seen, count, plan, agent, \
     not_investigated, thread, raw";

fn incident_row(r: &Row<'_>) -> rusqlite::Result<IncidentRecord> {
    let seq: i64 = r.get(0)?;
    let source: String = r.get(1)?;
    let status: String = r.get(8)?;
    let labels: String = r.get(9)?;
    let links: String = r.get(10)?;
    let raw: String = r.get(18)?;
    let priority: Option<u8> = r.get(6)?;
    Ok(IncidentRecord {
        id: format!("inc-{seq}"),
        source: Source::parse(&source).unwrap_or(Source::Manual),
        external_id: r.get(2)?,
        rule: r.get(3)?,
        title: r.get(4)?,
        severity: r.get(5)?,
        priority: priority.map(Priority),
        service: r.get(7)?,
        status: match status.as_str() {
            "resolved" => AlertStatus::Resolved,
            "acknowledged" => AlertStatus::Acknowledged,
            _ => AlertStatus::Firing,
        },
        labels: serde_json::from_str(&labels).unwrap_or_default(),
        links: serde_json::from_str(&links).unwrap_or_default(),
        first_seen: parse_stamp(&r.get::<_, String>(11)?),
        last_seen: parse_stamp(&r.get::<_, String>(12)?),
        count: r.get(13)?,
        plan: r.get(14)?,
        agent: r.get(15)?,
        not_investigated: r.get(16)?,
        thread: r.get(17)?,
        raw: serde_json::from_str(&raw).unwrap_or_default(),
    })
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
        alert: &Alert,
        at: DateTime<Utc>,
        window: std::time::Duration,
        route: &dyn Fn(&Alert) -> Routing,
    ) -> Result<Intake, StoreError> {
        let source = alert.source.as_str();
        let cutoff = at - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::zero());
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let seen: Option<i64> = tx
                .query_row(
                    "SELECT incident FROM events WHERE source = ?1 AND event_id = ?2",
                    params![source, alert.event_id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(seq) = seen {
                tx.execute(
                    "UPDATE deliveries SET state = 'accepted' WHERE id = ?1",
                    [delivery],
                )?;
                tx.commit()?;
                return Ok(Intake::Duplicate {
                    incident_id: format!("inc-{seq}"),
                });
            }
            // A resolution closes the rule's latest open incident, however old; a firing
            // joins (or reopens) one seen within the window.
            let candidate: Option<(i64, String)> = if alert.status == AlertStatus::Resolved {
                tx.query_row(
                    "SELECT seq, status FROM incidents WHERE source = ?1 AND rule = ?2 \
                     AND status != 'resolved' ORDER BY seq DESC LIMIT 1",
                    params![source, alert.rule],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
            } else {
                tx.query_row(
                    "SELECT seq, status FROM incidents WHERE source = ?1 AND rule = ?2 \
                     AND last_seen >= ?3 ORDER BY seq DESC LIMIT 1",
                    params![source, alert.rule, stamp(cutoff)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
            };
            let now = stamp(at);
            let (seq, kind) = match (candidate, alert.status) {
                (Some((seq, _)), AlertStatus::Resolved) => {
                    tx.execute(
                        "UPDATE incidents SET status = 'resolved', last_seen = ?2 WHERE seq = ?1",
                        params![seq, now],
                    )?;
                    (seq, "resolved")
                }
                (Some((seq, _)), AlertStatus::Acknowledged) => {
                    tx.execute(
                        "UPDATE incidents SET status = 'acknowledged', last_seen = ?2 WHERE seq = ?1",
                        params![seq, now],
                    )?;
                    (seq, "joined")
                }
                (Some((seq, status)), AlertStatus::Firing) => {
                    tx.execute(
                        "UPDATE incidents SET status = 'firing', count = count + 1, last_seen = ?2 \
                         WHERE seq = ?1",
                        params![seq, now],
                    )?;
                    (seq, if status == "resolved" { "reopened" } else { "joined" })
                }
                (None, status) => {
                    let routing = if status == AlertStatus::Resolved {
                        Routing::Unrouted {
                            reason: "resolved before it was seen firing".into(),
                        }
                    } else {
                        route(alert)
                    };
                    let (plan, agent, not_investigated) = match routing {
                        Routing::Plan { plan, agent } => (Some(plan), Some(agent), None),
                        Routing::Unrouted { reason } => (None, None, Some(reason)),
                    };
                    tx.execute(
                        "INSERT INTO incidents (source, external_id, rule, title, severity, priority, \
                         service, status, labels, links, first_seen, last_seen, count, plan, agent, \
                         not_investigated, raw) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13, ?14, ?15, ?16)",
                        params![
                            source,
                            alert.external_id,
                            alert.rule,
                            alert.title,
                            alert.severity,
                            alert.priority.map(|p| p.0),
                            alert.service,
                            status.as_str(),
                            serde_json::to_string(&alert.labels).unwrap_or_default(),
                            serde_json::to_string(&alert.links).unwrap_or_default(),
                            stamp(alert.started_at.min(at)),
                            now,
                            plan,
                            agent,
                            not_investigated,
                            alert.raw.to_string(),
                        ],
                    )?;
                    let seq = tx.last_insert_rowid();
                    if plan.is_some() {
                        tx.execute(
                            "UPDATE incidents SET thread = 'thread-' || seq WHERE seq = ?1",
                            [seq],
                        )?;
                    }
                    (seq, "new")
                }
            };
            tx.execute(
                "INSERT INTO events (source, event_id, incident, delivery) VALUES (?1, ?2, ?3, ?4)",
                params![source, alert.event_id, seq, delivery],
            )?;
            tx.execute(
                "UPDATE deliveries SET state = 'accepted' WHERE id = ?1",
                [delivery],
            )?;
            let incident = load(&tx, seq)?;
            tx.commit()?;
            Ok(match kind {
                "new" => Intake::New { incident },
                "resolved" => Intake::Resolved { incident },
                "reopened" => Intake::Reopened { incident },
                _ => Intake::Joined { incident },
            })
        })
    }

    fn incident(&self, id: &str) -> Result<Option<IncidentRecord>, StoreError> {
        let Some(seq) = seq_of(id) else {
            return Ok(None);
        };
        self.with(|c| load(c, seq).optional())
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
                    received_at: parse_stamp(&r.get::<_, String>(2)?),
                    state: r.get(3)?,
                    error: r.get(4)?,
                    size: usize::try_from(size).unwrap_or(0),
                })
            })?;
            rows.collect()
        })
    }
}
