//! [`ApprovalStore`] on the SQLite store (tables `approvals` and `policies`).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::approvals::{ApprovalRecord, ApprovalStore, Decision, Effect, PolicyRecord};
use super::sqlite::{bad_column, json_column, opt_time_column, stamp, time_column};
use super::{SqliteStore, StoreError};

const COLUMNS: &str = "seq, thread, session, tool_use_id, agent, tool, input, reason, status, \
     approved_input, note, created_at, decided_at, decided_by";

fn row(r: &Row<'_>) -> rusqlite::Result<ApprovalRecord> {
    let seq: i64 = r.get(0)?;
    let approved: Option<String> = r.get(9)?;
    Ok(ApprovalRecord {
        id: format!("apr-{seq}"),
        thread: r.get(1)?,
        session: r.get(2)?,
        tool_use_id: r.get(3)?,
        agent: r.get(4)?,
        tool: r.get(5)?,
        input: json_column(r, 6)?,
        reason: r.get(7)?,
        status: r.get(8)?,
        approved_input: match approved {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| bad_column(9, e))?),
            None => None,
        },
        note: r.get(10)?,
        created_at: time_column(r, 11)?,
        decided_at: opt_time_column(r, 12)?,
        decided_by: r.get(13)?,
    })
}

fn seq_of(id: &str) -> Option<i64> {
    id.strip_prefix("apr-")?.parse().ok()
}

impl ApprovalStore for SqliteStore {
    fn request(&self, new: &ApprovalRecord) -> Result<ApprovalRecord, StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO approvals (thread, session, tool_use_id, agent, tool, input, reason, \
                 created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (session, tool_use_id) DO NOTHING",
                params![
                    new.thread,
                    new.session,
                    new.tool_use_id,
                    new.agent,
                    new.tool,
                    new.input.to_string(),
                    new.reason,
                    stamp(new.created_at),
                ],
            )?;
            c.query_row(
                &format!("SELECT {COLUMNS} FROM approvals WHERE session = ?1 AND tool_use_id = ?2"),
                params![new.session, new.tool_use_id],
                row,
            )
        })
    }

    fn find(&self, session: &str, tool_use_id: &str) -> Result<Option<ApprovalRecord>, StoreError> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM approvals WHERE session = ?1 AND tool_use_id = ?2"),
                params![session, tool_use_id],
                row,
            )
            .optional()
        })
    }

    fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StoreError> {
        let Some(seq) = seq_of(id) else {
            return Ok(None);
        };
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM approvals WHERE seq = ?1"),
                [seq],
                row,
            )
            .optional()
        })
    }

    fn approvals(
        &self,
        pending_only: bool,
        limit: usize,
    ) -> Result<Vec<ApprovalRecord>, StoreError> {
        self.with(|c| {
            let filter = if pending_only {
                "WHERE status = 'pending'"
            } else {
                ""
            };
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM approvals {filter} ORDER BY seq DESC LIMIT ?1"
            ))?;
            let rows = stmt.query_map([limit as i64], row)?;
            rows.collect()
        })
    }

    fn decide(
        &self,
        id: &str,
        decision: &Decision,
        by: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<ApprovalRecord, StoreError> {
        let seq = seq_of(id)
            .ok_or_else(|| StoreError::NotFound(format!("`{id}` is not an approval id (apr-N)")))?;
        let (status, input, note) = match decision {
            Decision::Approve { input } => {
                ("approved", input.as_ref().map(|v| v.to_string()), None)
            }
            Decision::Deny { reason } => ("denied", None, Some(reason.clone())),
        };
        let changed = self.with(|c| {
            c.execute(
                "UPDATE approvals SET status = ?2, approved_input = ?3, note = ?4, decided_at = ?5, \
                 decided_by = ?6 WHERE seq = ?1 AND status = 'pending'",
                params![seq, status, input, note, stamp(at), by],
            )
        })?;
        let record = self
            .approval(id)?
            .ok_or_else(|| StoreError::NotFound(format!("no approval request {id}")))?;
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "{id} was already {} at {}",
                record.status,
                record
                    .decided_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default()
            )));
        }
        Ok(record)
    }

    fn pending(&self, thread: Option<&str>) -> Result<Vec<ApprovalRecord>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM approvals WHERE status = 'pending' \
                 AND (?1 IS NULL OR thread = ?1) ORDER BY seq"
            ))?;
            let rows = stmt.query_map([thread], row)?;
            rows.collect()
        })
    }

    fn thread_approvals(&self, thread: &str) -> Result<Vec<ApprovalRecord>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM approvals WHERE thread = ?1 ORDER BY seq"
            ))?;
            let rows = stmt.query_map([thread], row)?;
            rows.collect()
        })
    }

    fn add_policy(&self, policy: &PolicyRecord) -> Result<i64, StoreError> {
        let effect = match policy.effect {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        };
        self.with(|c| {
            c.execute(
                "INSERT INTO policies (thread, tool, prefix, exact, effect) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    policy.thread,
                    policy.tool,
                    policy.prefix,
                    policy.exact,
                    effect
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn policies(&self, thread: &str, tool: &str) -> Result<Vec<PolicyRecord>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, thread, tool, prefix, effect, exact FROM policies \
                 WHERE tool = ?2 AND (thread IS NULL OR thread = ?1) ORDER BY id",
            )?;
            let rows = stmt.query_map(params![thread, tool], |r| {
                let effect: String = r.get(4)?;
                Ok(PolicyRecord {
                    id: r.get(0)?,
                    thread: r.get(1)?,
                    tool: r.get(2)?,
                    prefix: r.get(3)?,
                    exact: r.get(5)?,
                    effect: if effect == "deny" {
                        Effect::Deny
                    } else {
                        Effect::Allow
                    },
                })
            })?;
            rows.collect()
        })
    }
}
