//! The built-in audit trail: one JSON line per tool call, hash-chained.
//!
//! Each line is a JSON object whose last field is `hash`: the SHA-256 (hex) of the line's
//! own text without that field (`{...,"prev":"<hex>"}`), and whose `prev` is the previous
//! line's `hash` (64 zeros for the first line). Editing, inserting, deleting or reordering
//! lines breaks the chain; [`verify_audit_log`] reports the first broken line.
//!
//! Appends are safe from concurrent tasks and processes: each append opens the file with
//! `O_APPEND`, takes an exclusive `flock`, reads the last line's hash, and writes the new
//! line with one `write`. (The lock is advisory: a writer that bypasses it can still
//! corrupt the file, which verification then reports.)

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
use crate::sys;

/// `prev` of the first line.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit line (without its `hash`), in field order.
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
    /// Hash of the previous line.
    pub prev: String,
}

/// A hook that appends an [`AuditRecord`] for every tool call. It never changes the
/// decision; a write failure follows its [`FailMode`] (default: reported, not blocking).
///
/// By default it records finished calls (`PostToolUse`, `PostToolUseFailure`). With
/// [`AuditHook::with_requests`] it also records every requested call at `PreToolUse`, so
/// calls blocked or denied by other hooks show up as a `requested` line without a result
/// line (hooks run concurrently, so one hook cannot see the others' decisions).
#[derive(Clone, Debug)]
pub struct AuditHook {
    filter: HookFilter,
    path: PathBuf,
    fail_mode: FailMode,
    durable: bool,
}

impl AuditHook {
    /// Audit every tool call into `path` (created if missing).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        AuditHook {
            filter: HookFilter::new(
                "audit",
                [HookEvent::PostToolUse, HookEvent::PostToolUseFailure],
                ToolMatcher::all(),
            ),
            path: path.into(),
            fail_mode: FailMode::Allow,
            durable: false,
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

    /// `fdatasync` every line before the hook returns (survives a power loss, costs a
    /// disk flush per tool call). Default off: lines survive a crash of the process.
    pub fn durable(mut self, on: bool) -> Self {
        self.durable = on;
        self
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append the line for `input` (a tool event); returns its hash.
    pub async fn record(&self, input: &HookInput) -> Result<String, HookError> {
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
            _ => {
                return Err(HookError::Output {
                    hook: self.filter.name.clone(),
                    message: format!("not a tool event: {}", input.event()),
                });
            }
        };
        let decision = match success {
            None => "requested",
            Some(true) => "completed",
            Some(false) => "failed",
        };
        let record = AuditRecord {
            time: now_rfc3339(),
            session: input.session_id.clone(),
            agent: input.agent_name.clone(),
            turn: input.current_turn,
            event: input.event().as_str().to_string(),
            tool: tool.clone(),
            tool_use_id: tool_use_id.clone(),
            input_sha256: sha256_hex(
                serde_json::to_string(tool_input)
                    .unwrap_or_default()
                    .as_bytes(),
            ),
            success,
            decision: decision.into(),
            duration_ms,
            pid: std::process::id(),
            prev: String::new(),
        };
        let path = self.path.clone();
        let durable = self.durable;
        tokio::task::spawn_blocking(move || append_record(&path, record, durable))
            .await
            .map_err(|e| HookError::Output {
                hook: self.filter.name.clone(),
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

/// Append `record` to the chain in `path` (blocking; takes the file lock; `durable` syncs
/// the data before returning). Returns the new line's hash.
pub fn append_record(
    path: &Path,
    mut record: AuditRecord,
    durable: bool,
) -> Result<String, HookError> {
    let io = |e| HookError::io(path, e);
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io)?;
    sys::lock_exclusive(&file).map_err(io)?;
    record.prev = last_hash(&mut file).map_err(io)?;
    let body = serde_json::to_string(&record).map_err(|e| HookError::Output {
        hook: "audit".into(),
        message: e.to_string(),
    })?;
    let hash = sha256_hex(body.as_bytes());
    let line = format!(
        "{},\"hash\":\"{hash}\"}}\n",
        &body[..body.len().saturating_sub(1)]
    );
    file.write_all(line.as_bytes()).map_err(io)?;
    if durable {
        file.sync_data().map_err(io)?;
    }
    // Closing the file releases the lock.
    Ok(hash)
}

/// The hash the next line must carry as `prev`.
fn last_hash(file: &mut File) -> std::io::Result<String> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(GENESIS_HASH.to_string());
    }
    let mut window: u64 = 4096;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::with_capacity((len - start) as usize);
        file.take(len - start).read_to_end(&mut tail)?;
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        match body.iter().rposition(|&b| b == b'\n') {
            Some(i) => return Ok(line_hash(&body[i + 1..])),
            None if start == 0 => return Ok(line_hash(body)),
            None => window *= 2,
        }
    }
}

/// The `hash` a line declares, or (for a damaged line) the hash of its bytes, so the chain
/// continues and verification reports the damage.
fn line_hash(line: &[u8]) -> String {
    match split_line(line) {
        Some((_, hash)) => hash.to_string(),
        None => sha256_hex(line),
    }
}

/// Split a line into its hashed body (`{...}` without `hash`) and its declared hash.
fn split_line(line: &[u8]) -> Option<(String, &str)> {
    let text = std::str::from_utf8(line).ok()?;
    const KEY: &str = ",\"hash\":\"";
    let rest = text.strip_suffix("\"}")?;
    let at = rest.rfind(KEY)?;
    let hash = &rest[at + KEY.len()..];
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((format!("{}}}", &rest[..at]), hash))
}

/// The result of [`verify_audit_log`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Lines read.
    pub lines: usize,
    /// Hash of the last valid line ([`GENESIS_HASH`] for an empty log).
    pub last_hash: String,
    /// The first line that breaks the chain, if any.
    pub first_broken: Option<BrokenLine>,
}

impl AuditReport {
    /// Whether the whole chain is intact.
    pub fn is_valid(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// Where and why the chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenLine {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Check the chain of an audit log; report the first broken line. A missing file is an
/// error; an empty file is a valid, empty log.
pub fn verify_audit_log(path: impl AsRef<Path>) -> Result<AuditReport, HookError> {
    let path = path.as_ref();
    let data = std::fs::read(path).map_err(|e| HookError::io(path, e))?;
    let mut report = AuditReport {
        lines: 0,
        last_hash: GENESIS_HASH.to_string(),
        first_broken: None,
    };
    let mut rest: &[u8] = &data;
    while !rest.is_empty() {
        report.lines += 1;
        let n = report.lines;
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => {
                report.first_broken = Some(BrokenLine {
                    line: n,
                    reason: "incomplete last line (no newline)".into(),
                });
                return Ok(report);
            }
        };
        rest = next;
        let broken = |reason: String| Some(BrokenLine { line: n, reason });
        let Some((body, hash)) = split_line(line) else {
            report.first_broken = broken("not an audit line (no trailing \"hash\" field)".into());
            return Ok(report);
        };
        let record: AuditRecord = match serde_json::from_str(&body) {
            Ok(r) => r,
            Err(e) => {
                report.first_broken = broken(format!("not a valid audit record: {e}"));
                return Ok(report);
            }
        };
        if record.prev != report.last_hash {
            report.first_broken = broken(format!(
                "`prev` is {} but the previous line's hash is {}",
                record.prev, report.last_hash
            ));
            return Ok(report);
        }
        let actual = sha256_hex(body.as_bytes());
        if actual != hash {
            report.first_broken = broken(format!(
                "content does not match its hash (declared {hash}, actual {actual})"
            ));
            return Ok(report);
        }
        report.last_hash = hash.to_string();
    }
    Ok(report)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
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
            br#"{"a":1,"hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
        let (body, hash) = split_line(line).unwrap();
        assert_eq!(body, r#"{"a":1}"#);
        assert_eq!(hash, GENESIS_HASH);
        assert!(split_line(br#"{"a":1}"#).is_none());
    }
}
