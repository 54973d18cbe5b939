//! Verifying a log against its key and anchor.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::{AuditKey, AuditRecord, GENESIS_MAC, RECORD_DOMAIN, read_anchor, split_line};
use crate::error::HookError;

/// The result of [`verify_audit_log`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Valid records read before the first problem.
    pub records: usize,
    /// `seq` of the last valid record (0: none).
    pub last_seq: u64,
    /// `mac` of the last valid record ([`GENESIS_MAC`] for none).
    pub last_mac: String,
    /// The `seq` the anchor vouches for (`None`: no valid anchor).
    pub anchor_seq: Option<u64>,
    /// The first problem found, if any.
    pub problem: Option<AuditProblem>,
}

impl AuditReport {
    /// Whether the log and its anchor are intact.
    pub fn is_valid(&self) -> bool {
        self.problem.is_none()
    }

    /// Records written after the anchor was last moved (a crash between the two writes).
    /// They are MAC'd and chained, but a cut of them alone would not be detected.
    pub fn unanchored(&self) -> u64 {
        self.last_seq.saturating_sub(self.anchor_seq.unwrap_or(0))
    }
}

/// What [`verify_audit_log`] found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditProblem {
    /// A line is edited, inserted, missing (a gap in `seq`), reordered, torn, or not MAC'd
    /// with this key (e.g. the log was rewritten whole without it).
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The log ends before the record the anchor vouches for: its tail was cut.
    Truncated {
        /// The last record in the log.
        last_seq: u64,
        /// The record the anchor vouches for.
        anchor_seq: u64,
    },
    /// The anchor is missing, unreadable, not MAC'd with this key (replaced or forged), or
    /// names a record the log has with another MAC.
    Anchor {
        /// What is wrong.
        reason: String,
    },
}

impl std::fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditProblem::Line { line, reason } => write!(f, "line {line}: {reason}"),
            AuditProblem::Truncated {
                last_seq,
                anchor_seq,
            } => write!(
                f,
                "truncated: the log ends at record {last_seq} but the anchor vouches for {anchor_seq} record(s)"
            ),
            AuditProblem::Anchor { reason } => write!(f, "anchor: {reason}"),
        }
    }
}

/// Check a log against `key` and its `anchor` file; report the first problem. A missing log
/// is an error; an empty log without an anchor is a valid, empty log.
pub fn verify_audit_log(
    log: impl AsRef<Path>,
    key: &AuditKey,
    anchor: impl AsRef<Path>,
) -> Result<AuditReport, HookError> {
    let (path, anchor_path) = (log.as_ref(), anchor.as_ref());
    let mut file = File::open(path).map_err(|e| HookError::io(path, e))?;
    // A shared lock: no writer is between its line and its anchor while we read. Read the
    // anchor first: it never runs ahead of the log.
    let _ = file.lock_shared();
    let anchor = read_anchor(anchor_path, key);
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .map_err(|e| HookError::io(path, e))?;
    drop(file);

    let anchor_seq = anchor.as_ref().ok().and_then(|a| a.as_ref().map(|a| a.seq));
    let mut report = AuditReport {
        records: 0,
        last_seq: 0,
        last_mac: GENESIS_MAC.to_string(),
        anchor_seq,
        problem: None,
    };
    // The MAC of the record the anchor names, once seen.
    let mut at_anchor: Option<String> = None;
    let mut rest: &[u8] = &data;
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        let line_problem = |reason: String| Some(AuditProblem::Line { line: n, reason });
        let Some(i) = rest.iter().position(|&b| b == b'\n') else {
            report.problem = line_problem("incomplete last line (no newline)".into());
            return Ok(report);
        };
        let line = &rest[..i];
        rest = &rest[i + 1..];
        let Some((body, mac)) = split_line(line) else {
            report.problem = line_problem("not an audit line (no trailing \"mac\" field)".into());
            return Ok(report);
        };
        if key.mac(RECORD_DOMAIN, body.as_bytes()) != mac {
            report.problem = line_problem(
                "MAC does not match: the record was edited, or written without this key".into(),
            );
            return Ok(report);
        }
        let record: AuditRecord = match serde_json::from_str(&body) {
            Ok(r) => r,
            Err(e) => {
                report.problem = line_problem(format!("not a valid audit record: {e}"));
                return Ok(report);
            }
        };
        let expected = report.last_seq + 1;
        if record.seq != expected {
            report.problem = line_problem(if record.seq > expected {
                format!(
                    "sequence jumps from {} to {}: {} record(s) missing",
                    report.last_seq,
                    record.seq,
                    record.seq - expected
                )
            } else {
                format!(
                    "sequence number {} repeats or goes back (expected {expected}): records inserted or reordered",
                    record.seq
                )
            });
            return Ok(report);
        }
        if record.prev != report.last_mac {
            report.problem =
                line_problem("`prev` is not the previous record's MAC: the chain is broken".into());
            return Ok(report);
        }
        if anchor_seq == Some(record.seq) {
            at_anchor = Some(mac.to_string());
        }
        report.records += 1;
        report.last_seq = record.seq;
        report.last_mac = mac.to_string();
    }

    report.problem = match anchor {
        Err(reason) => Some(AuditProblem::Anchor { reason }),
        Ok(None) if report.records == 0 => None,
        Ok(None) => Some(AuditProblem::Anchor {
            reason: format!(
                "{} is missing: nothing vouches for the log's length",
                anchor_path.display()
            ),
        }),
        Ok(Some(a)) if a.seq > report.last_seq => Some(AuditProblem::Truncated {
            last_seq: report.last_seq,
            anchor_seq: a.seq,
        }),
        Ok(Some(a)) if a.seq > 0 && at_anchor.as_deref() != Some(a.mac.as_str()) => {
            Some(AuditProblem::Anchor {
                reason: format!(
                    "it vouches for record {} with another MAC than the log's (the log was rewritten, or the anchor belongs to another log)",
                    a.seq
                ),
            })
        }
        Ok(Some(_)) => None,
    };
    Ok(report)
}
