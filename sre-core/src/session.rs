//! The `SessionStore` contract (a persisted, append-only transcript) and its two
//! implementations: JSONL files on disk (the embedded default) and memory (tests, benches).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::agent::StopCause;
use crate::budget::BudgetVerdict;
use crate::error::{Error, Result};
use crate::message::Message;
use crate::model::SystemBlock;
use crate::usage::Usage;

/// One line of a transcript. Every step of the loop is exactly one record, written with one
/// `write(2)`, so a crash loses at most the step in flight, which `resume` redoes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum SessionRecord {
    /// The session's fixed prompt: system prompt and rendered layers.
    Start {
        /// Agent name.
        agent: String,
        /// System blocks as sent.
        system: Vec<SystemBlock>,
    },
    /// A user task entered the transcript as `message` (the task plus any hook context).
    Task {
        /// The task text as the user gave it.
        text: String,
        /// The user message appended to the transcript.
        message: Message,
    },
    /// A message appended to the transcript.
    Message {
        /// The message.
        message: Message,
        /// Turn that produced it (assistant messages) or answers (tool results).
        turn: u32,
        /// Provider usage, for assistant messages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
    },
    /// The transcript was replaced (prune or compaction): what follows builds on `messages`.
    Rewrite {
        /// Prune or compact.
        verdict: BudgetVerdict,
        /// The new transcript.
        messages: Vec<Message>,
    },
    /// A Stop hook rejected an answer; `feedback` (if any) was appended for the agent.
    StopRejected {
        /// The reason.
        reason: String,
        /// The message that fed the reason back (absent when the limit was reached).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        feedback: Option<Message>,
    },
    /// The run ended.
    Finished {
        /// How.
        cause: StopCause,
        /// The final answer, if any.
        answer: Option<String>,
    },
}

/// What [`SessionStore::load`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadedSession {
    /// Records in order.
    pub records: Vec<SessionRecord>,
    /// Problems that were repaired (e.g. a torn last line discarded).
    pub warnings: Vec<String>,
}

/// A persisted, append-only transcript store.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// All records of `session_id` (empty for a new session). A torn last record (crash
    /// mid-write) is discarded with a warning; any other damage is an error.
    async fn load(&self, session_id: &str) -> Result<LoadedSession>;

    /// Append records durably, all or nothing as far as the medium allows.
    async fn append(&self, session_id: &str, records: &[SessionRecord]) -> Result<()>;

    /// Where the transcript lives, for hooks (`transcript_path`).
    fn transcript_path(&self, _session_id: &str) -> Option<PathBuf> {
        None
    }
}

/// Transcripts in memory.
#[derive(Debug, Default)]
pub struct InMemorySessionStore {
    sessions: Mutex<HashMap<String, Vec<SessionRecord>>>,
}

impl InMemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replace a session's records (e.g. to preload a long transcript in a benchmark).
    pub fn insert(&self, session_id: &str, records: Vec<SessionRecord>) {
        self.lock().insert(session_id.to_string(), records);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<SessionRecord>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SessionStore for InMemorySessionStore {
    async fn load(&self, session_id: &str) -> Result<LoadedSession> {
        Ok(LoadedSession {
            records: self.lock().get(session_id).cloned().unwrap_or_default(),
            warnings: vec![],
        })
    }

    async fn append(&self, session_id: &str, records: &[SessionRecord]) -> Result<()> {
        self.lock()
            .entry(session_id.to_string())
            .or_default()
            .extend_from_slice(records);
        Ok(())
    }
}

/// How hard [`JsonlSessionStore`] pushes each append to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `fsync` after every append: survives power loss.
    Fsync,
    /// Write through to the OS only: survives a process crash, not power loss.
    Flush,
}

/// One JSONL file per session under a directory: `<dir>/<session_id>.jsonl`.
#[derive(Debug, Clone)]
pub struct JsonlSessionStore {
    dir: PathBuf,
    durability: Durability,
}

impl JsonlSessionStore {
    /// A store under `dir` (created if missing), fsyncing every append.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(JsonlSessionStore {
            dir,
            durability: Durability::Fsync,
        })
    }

    /// Choose durability.
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The file of `session_id`; ids must be non-empty and made of `[A-Za-z0-9._-]`
    /// (subagent ids use `--` as separator), never `.` or `..`.
    pub fn path_of(&self, session_id: &str) -> Result<PathBuf> {
        let ok = !session_id.is_empty()
            && session_id.len() <= 200
            && session_id != "."
            && session_id != ".."
            && session_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
        if !ok {
            return Err(Error::Session {
                session: session_id.to_string(),
                message: "session ids must be 1-200 characters of [A-Za-z0-9._-]".into(),
            });
        }
        Ok(self.dir.join(format!("{session_id}.jsonl")))
    }
}

/// Parse JSONL transcript bytes. Returns the records, the byte length of the valid prefix
/// and warnings. A last line that is unterminated or unparsable is a torn write: it is
/// dropped with a warning. An unparsable line followed by more lines is an error naming it.
pub fn parse_jsonl(path: &Path, bytes: &[u8]) -> Result<(Vec<SessionRecord>, usize, Vec<String>)> {
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let mut pos = 0usize;
    let mut line_no = 0usize;
    while pos < bytes.len() {
        line_no += 1;
        let rest = &bytes[pos..];
        let (line, terminated) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], true),
            None => (rest, false),
        };
        let next = pos + line.len() + usize::from(terminated);
        let is_last = next >= bytes.len();
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            pos = next;
            continue;
        }
        match serde_json::from_slice::<SessionRecord>(line) {
            Ok(record) if terminated => records.push(record),
            result => {
                if is_last {
                    let why = match result {
                        Ok(_) => "no trailing newline".to_string(),
                        Err(e) => e.to_string(),
                    };
                    warnings.push(format!(
                        "{}:{line_no}: discarded a torn last record ({} bytes, {why})",
                        path.display(),
                        line.len()
                    ));
                    return Ok((records, pos, warnings));
                }
                let e = result.err().map(|e| e.to_string()).unwrap_or_default();
                return Err(Error::Session {
                    session: path.display().to_string(),
                    message: format!(
                        "line {line_no} is not a valid record ({e}); later lines exist, so this is not a torn write"
                    ),
                });
            }
        }
        pos = next;
    }
    Ok((records, pos, warnings))
}

#[async_trait]
impl SessionStore for JsonlSessionStore {
    async fn load(&self, session_id: &str) -> Result<LoadedSession> {
        let path = self.path_of(session_id)?;
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(LoadedSession::default());
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        let (records, valid_len, warnings) = parse_jsonl(&path, &bytes)?;
        if valid_len < bytes.len() {
            // Cut the torn tail so the next append starts on a clean line.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            file.set_len(valid_len as u64)
                .map_err(|e| Error::io(&path, e))?;
            file.sync_all().map_err(|e| Error::io(&path, e))?;
        }
        Ok(LoadedSession { records, warnings })
    }

    async fn append(&self, session_id: &str, records: &[SessionRecord]) -> Result<()> {
        let path = self.path_of(session_id)?;
        let mut buf = Vec::with_capacity(256 * records.len());
        for r in records {
            serde_json::to_writer(&mut buf, r).map_err(|e| Error::Session {
                session: session_id.to_string(),
                message: format!("cannot serialize record: {e}"),
            })?;
            buf.push(b'\n');
        }
        let durability = self.durability;
        // One write(2) of whole lines: a crash leaves at most one torn last line.
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.write_all(&buf).map_err(|e| Error::io(&path, e))?;
        if durability == Durability::Fsync {
            file.sync_data().map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    fn transcript_path(&self, session_id: &str) -> Option<PathBuf> {
        self.path_of(session_id).ok()
    }
}
