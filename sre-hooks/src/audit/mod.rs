//! The built-in audit trail: one JSON line per tool call, chained with HMAC-SHA256 under a
//! secret key, and its head anchored in a separate file.
//!
//! Each line is a JSON object whose last field is `mac`: the HMAC-SHA256 (hex), under the
//! [`AuditKey`], of the line's own text without that field (`{...,"seq":7,"prev":"<hex>"}`).
//! `seq` numbers the records from 1 and `prev` is the previous record's `mac` (64 zeros for
//! the first). After every append the writer replaces the **anchor** file (its own path,
//! written atomically with [`sre_core::fs::write_atomic`]) with the sequence number and MAC
//! of the last record, itself MAC'd ([`AuditAnchor`]).
//!
//! [`verify_audit_log`] detects, without trusting anything but the key: an edited record;
//! a deleted, inserted or reordered record; a torn line; a truncated tail (the anchor
//! vouches for more records than the log has); a log rewritten whole without the key; and
//! an anchor replaced or forged without the key. What it cannot detect is in the README
//! ("Audit trail"): mainly a rollback of both files to an older pair someone saved.
//!
//! The key must be one the agent's commands cannot read back: give it from the host's
//! memory ([`AuditKey::from_bytes`], e.g. from a secret manager) or from a file outside the
//! workspace, readable only by the host user ([`AuditKey::from_file`] refuses a file that
//! group or others can read).
//!
//! Appends are safe from concurrent tasks and processes: each append opens the log with
//! `O_APPEND`, takes an exclusive lock (`File::lock`, advisory), reads the last record's
//! `seq` and `mac`, writes the new line with one `write`, then replaces the anchor, all
//! under the lock.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sre_core::{Hook, HookContext, HookDecision, HookEvent, HookInput, HookPayload};

use crate::error::HookError;
use crate::matcher::{HookFilter, ToolMatcher};
use crate::spec::FailMode;

/// `prev` of the first record.
pub const GENESIS_MAC: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const RECORD_DOMAIN: &[u8] = b"sre-audit/record/v1\0";
const ANCHOR_DOMAIN: &[u8] = b"sre-audit/anchor/v1\0";

mod key;
mod verify;

pub use self::key::AuditKey;
use self::key::hex;
pub use self::verify::{AuditProblem, AuditReport, verify_audit_log};

/// One audit line (without its `mac`), in field order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// UTC time, RFC 3339 with milliseconds.
    pub time: String,
    /// Session id.
    pub session: String,
    /// Agent name.
    pub agent: String,
    /// Turn of the call.
    pub turn: u32,
    /// `PreToolUse`, `PostToolUse` or `PostToolUseFailure`.
    pub event: String,
    /// Tool name.
    pub tool: String,
    /// Call id.
    pub tool_use_id: String,
    /// SHA-256 (hex) of the tool input's JSON text.
    pub input_sha256: String,
    /// Whether the call succeeded (`None` for a request line).
    pub success: Option<bool>,
    /// `requested` (PreToolUse), `completed` or `failed`.
    pub decision: String,
    /// Duration of the call in milliseconds (`None` for a request line).
    pub duration_ms: Option<u64>,
    /// Process that wrote the line.
    pub pid: u32,
    /// Position in the log, from 1 (set by the writer).
    pub seq: u64,
    /// MAC of the previous record (set by the writer).
    pub prev: String,
}

impl AuditRecord {
    /// The record of a tool event (`PreToolUse`, `PostToolUse`, `PostToolUseFailure`);
    /// `None` for other events. `seq` and `prev` are left for the writer.
    pub fn from_input(input: &HookInput) -> Option<Self> {
        let (tool, tool_input, tool_use_id, success, duration_ms) = match &input.payload {
            HookPayload::PreToolUse {
                tool_name,
                tool_input,
                tool_use_id,
                ..
            } => (tool_name, tool_input, tool_use_id, None, None),
            HookPayload::PostToolUse {
                tool_name,
                tool_input,
                tool_use_id,
                succeeded,
                duration_ms,
                ..
            } => (
                tool_name,
                tool_input,
                tool_use_id,
                Some(*succeeded),
                Some(*duration_ms),
            ),
            _ => return None,
        };
        let decision = match success {
            None => "requested",
            Some(true) => "completed",
            Some(false) => "failed",
        };
        Some(AuditRecord {
            time: now_rfc3339(),
            session: input.session_id.clone(),
            agent: input.agent_name.clone(),
            turn: input.current_turn,
            event: input.event().as_str().to_string(),
            tool: tool.clone(),
            tool_use_id: tool_use_id.clone(),
            input_sha256: sha256_hex(tool_input.to_string().as_bytes()),
            success,
            decision: decision.into(),
            duration_ms,
            pid: std::process::id(),
            seq: 0,
            prev: String::new(),
        })
    }
}

/// The anchor file's content: the head of the log, MAC'd.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAnchor {
    /// `seq` of the last record written (0: none yet).
    pub seq: u64,
    /// `mac` of that record ([`GENESIS_MAC`] for none).
    pub mac: String,
    /// HMAC of `seq` and `mac` under the key.
    pub anchor_mac: String,
}

/// An audit log: its file, its anchor file and its key. [`AuditLog::append`] and
/// [`AuditLog::verify`] are blocking; [`AuditHook`] calls them off the runtime threads.
#[derive(Clone, Debug)]
pub struct AuditLog {
    path: PathBuf,
    anchor: PathBuf,
    key: AuditKey,
    durable: bool,
}

/// Where an appended record landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Its sequence number.
    pub seq: u64,
    /// Its MAC.
    pub mac: String,
}

impl AuditLog {
    /// The log at `path` (created on first append), anchored in `anchor` (keep it outside
    /// the workspace, like the key).
    pub fn new(path: impl Into<PathBuf>, key: AuditKey, anchor: impl Into<PathBuf>) -> Self {
        AuditLog {
            path: path.into(),
            anchor: anchor.into(),
            key,
            durable: false,
        }
    }

    /// Sync each line and the anchor to disk before returning (survives a power loss,
    /// costs disk flushes per record). Default off: records survive a crash of the process.
    pub fn durable(mut self, on: bool) -> Self {
        self.durable = on;
        self
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The anchor file.
    pub fn anchor_path(&self) -> &Path {
        &self.anchor
    }

    /// Append `record` (its `seq` and `prev` are set here) and move the anchor to it.
    pub fn append(&self, mut record: AuditRecord) -> Result<Appended, HookError> {
        let path = &self.path;
        let io = |e| HookError::io(path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        let (last, complete) = match last_line(&mut file).map_err(io)? {
            Some((line, complete)) => (Some(line), complete),
            None => (None, true),
        };
        let (seq, prev) = match last.as_deref().map(parse_line) {
            None => (1, GENESIS_MAC.to_string()),
            Some(Some((_, mac, record))) => (record.seq.saturating_add(1), mac.to_string()),
            // A torn or damaged last line: continue after what the anchor vouches for;
            // verification reports the damaged line.
            Some(None) => match read_anchor(&self.anchor, &self.key) {
                Ok(Some(a)) => (a.seq.saturating_add(1), a.mac),
                _ => (1, GENESIS_MAC.to_string()),
            },
        };
        record.seq = seq;
        record.prev = prev;
        let body = serde_json::to_string(&record).map_err(|e| HookError::Output {
            hook: "audit".into(),
            message: format!("cannot serialise the record: {e}"),
        })?;
        let mac = self.key.mac(RECORD_DOMAIN, body.as_bytes());
        let open = body.strip_suffix('}').unwrap_or(&body);
        let line = format!(
            "{}{open},\"mac\":\"{mac}\"}}\n",
            if complete { "" } else { "\n" }
        );
        file.write_all(line.as_bytes()).map_err(io)?;
        if self.durable {
            file.sync_data().map_err(io)?;
        }
        let anchor = AuditAnchor {
            seq,
            anchor_mac: self.key.anchor_mac(seq, &mac),
            mac: mac.clone(),
        };
        let text = serde_json::to_vec(&anchor).map_err(|e| HookError::Output {
            hook: "audit".into(),
            message: format!("cannot serialise the anchor: {e}"),
        })?;
        sre_core::fs::write_atomic(&self.anchor, &text, self.durable)
            .map_err(|e| HookError::io(&self.anchor, e))?;
        // Closing the file releases the lock.
        drop(file);
        Ok(Appended { seq, mac })
    }

    /// Append the record of a tool event.
    pub fn append_input(&self, input: &HookInput) -> Result<Appended, HookError> {
        let record = AuditRecord::from_input(input).ok_or_else(|| HookError::Output {
            hook: "audit".into(),
            message: format!("not a tool event: {}", input.event()),
        })?;
        self.append(record)
    }

    /// Check the log against its key and anchor ([`verify_audit_log`]).
    pub fn verify(&self) -> Result<AuditReport, HookError> {
        verify_audit_log(&self.path, &self.key, &self.anchor)
    }
}

/// A hook that appends an [`AuditRecord`] to an [`AuditLog`] for every tool call. It never
/// changes the decision; a write failure follows its [`FailMode`] (default: reported, not
/// blocking).
///
/// By default it records finished calls (`PostToolUse`, `PostToolUseFailure`). With
/// [`AuditHook::with_requests`] it also records every requested call at `PreToolUse`, so
/// calls blocked or denied by other hooks show up as a `requested` line without a result
/// line (hooks run concurrently, so one hook cannot see the others' decisions).
#[derive(Clone, Debug)]
pub struct AuditHook {
    filter: HookFilter,
    log: AuditLog,
    fail_mode: FailMode,
}

impl AuditHook {
    /// Audit every tool call into `path` (created if missing), MAC'd with `key`, its head
    /// anchored in `anchor`.
    pub fn new(path: impl Into<PathBuf>, key: AuditKey, anchor: impl Into<PathBuf>) -> Self {
        Self::from_log(AuditLog::new(path, key, anchor))
    }

    /// Audit into `log`.
    pub fn from_log(log: AuditLog) -> Self {
        AuditHook {
            filter: HookFilter::new(
                "audit",
                [HookEvent::PostToolUse, HookEvent::PostToolUseFailure],
                ToolMatcher::all(),
            ),
            log,
            fail_mode: FailMode::Allow,
        }
    }

    /// Also record requested calls at `PreToolUse`.
    pub fn with_requests(mut self) -> Self {
        if !self.filter.events.contains(&HookEvent::PreToolUse) {
            self.filter.events.insert(0, HookEvent::PreToolUse);
        }
        self
    }

    /// Only audit tools matching `matcher`.
    pub fn matcher(mut self, matcher: ToolMatcher) -> Self {
        self.filter.matcher = matcher;
        self
    }

    /// Rename the hook (default `audit`).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.filter.name = name.into();
        self
    }

    /// What a write failure means. `Block` at `PreToolUse` (with
    /// [`AuditHook::with_requests`]) keeps unaudited calls from running.
    pub fn fail_mode(mut self, mode: FailMode) -> Self {
        self.fail_mode = mode;
        self
    }

    /// See [`AuditLog::durable`].
    pub fn durable(mut self, on: bool) -> Self {
        self.log = self.log.durable(on);
        self
    }

    /// The log.
    pub fn log(&self) -> &AuditLog {
        &self.log
    }

    /// Append the record of `input` (a tool event), off the runtime threads.
    pub async fn record(&self, input: &HookInput) -> Result<Appended, HookError> {
        let name = self.filter.name.clone();
        let record = AuditRecord::from_input(input).ok_or_else(|| HookError::Output {
            hook: name.clone(),
            message: format!("not a tool event: {}", input.event()),
        })?;
        let log = self.log.clone();
        tokio::task::spawn_blocking(move || log.append(record))
            .await
            .map_err(|e| HookError::Output {
                hook: name,
                message: format!("audit writer panicked: {e}"),
            })?
    }
}

#[async_trait]
impl Hook for AuditHook {
    fn name(&self) -> &str {
        &self.filter.name
    }

    fn handles(&self, input: &HookInput) -> bool {
        self.filter.handles(input)
    }

    fn fail_mode(&self) -> FailMode {
        self.fail_mode
    }

    async fn run(
        &self,
        input: &HookInput,
        _ctx: &HookContext,
    ) -> Result<HookDecision, sre_core::Error> {
        self.record(input).await?;
        Ok(HookDecision::allow())
    }
}

/// The last line of the file (without its newline) and whether the file ends with one.
fn last_line(file: &mut File) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    let mut window: u64 = 4096;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        Read::by_ref(file)
            .take(len - start)
            .read_to_end(&mut tail)?;
        let complete = tail.last() == Some(&b'\n');
        let body = if complete {
            &tail[..tail.len() - 1]
        } else {
            &tail[..]
        };
        match body.iter().rposition(|&b| b == b'\n') {
            Some(i) => return Ok(Some((body[i + 1..].to_vec(), complete))),
            None if start == 0 => return Ok(Some((body.to_vec(), complete))),
            None => window = window.saturating_mul(2),
        }
    }
}

/// Split a line into its MAC'd body (`{...}` without `mac`) and its declared MAC.
fn split_line(line: &[u8]) -> Option<(String, &str)> {
    let text = std::str::from_utf8(line).ok()?;
    const KEY: &str = ",\"mac\":\"";
    let rest = text.strip_suffix("\"}")?;
    let at = rest.rfind(KEY)?;
    let mac = &rest[at + KEY.len()..];
    if mac.len() != 64 || !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((format!("{}}}", &rest[..at]), mac))
}

/// Body, declared MAC and record of a well-formed line (the MAC is not checked).
fn parse_line(line: &[u8]) -> Option<(String, &str, AuditRecord)> {
    let (body, mac) = split_line(line)?;
    let record = serde_json::from_str(&body).ok()?;
    Some((body, mac, record))
}

/// The anchor, if the file exists; `Err(reason)` if it is unreadable or not MAC'd with
/// `key`.
fn read_anchor(path: &Path, key: &AuditKey) -> Result<Option<AuditAnchor>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let anchor: AuditAnchor = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not an audit anchor: {e}", path.display()))?;
    if key.anchor_mac(anchor.seq, &anchor.mac) != anchor.anchor_mac {
        return Err(format!(
            "{}: the anchor's MAC does not match (replaced or forged without the key, or another key)",
            path.display()
        ));
    }
    Ok(Some(anchor))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Now, as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn now_rfc3339() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }

    #[test]
    fn split_roundtrip() {
        let line =
            br#"{"a":1,"mac":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
        let (body, mac) = split_line(line).unwrap();
        assert_eq!(body, r#"{"a":1}"#);
        assert_eq!(mac, GENESIS_MAC);
        assert!(split_line(br#"{"a":1}"#).is_none());
    }

    #[test]
    fn record_and_anchor_macs_are_domain_separated() {
        let key = AuditKey::from_bytes(vec![1u8; 32]).unwrap();
        let data = format!("{}:{}", 3, GENESIS_MAC);
        assert_ne!(
            key.mac(RECORD_DOMAIN, data.as_bytes()),
            key.anchor_mac(3, GENESIS_MAC)
        );
    }
}
