//! One JSONL file per session: the embedded default store.
//!
//! Every append is whole lines written together (fsync by default), done on tokio's
//! blocking pool so a slow disk never stalls the runtime threads that drive other
//! sessions. The writer of a session holds an advisory lock (`flock`) on its file for the
//! whole run: a second writer, in this process or another, gets `SessionBusy`; readers
//! never modify the file, so a torn tail is only ever cut by the one who holds the lock.
//! A run dropped while one of its appends is still on the blocking pool keeps the file
//! (and its lock) until that append ends: the next holder in this process waits for it
//! (bounded) instead of getting a spurious `SessionBusy`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;

use super::{LoadedSession, SessionLock, SessionRecord, SessionStore};
use crate::error::{Error, Result};

/// How hard [`JsonlSessionStore`] pushes each append to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `fsync` after every append: survives power loss.
    Fsync,
    /// Write through to the OS only: survives a process crash, not power loss.
    Flush,
}

type Held = Arc<Mutex<HashMap<String, Slot>>>;

/// A session's file in this store's table.
#[derive(Debug)]
enum Slot {
    /// A holder writes it.
    Held(Arc<File>),
    /// Its holder let go while an append of its run was still on the blocking pool (a run
    /// dropped mid-write): the file, and so its `flock`, lives until that append ends.
    Releasing(Weak<File>),
}

/// Longest a new holder waits for the appends of a released holder to end.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// One JSONL file per session under a directory: `<dir>/<session_id>.jsonl`.
///
/// ```
/// use sre_core::{JsonlSessionStore, SessionStore};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let store = JsonlSessionStore::new(dir.path()).unwrap();
/// let lock = store.lock("incident-1").await.unwrap();
/// assert!(store.lock("incident-1").await.is_err()); // one writer per session
/// drop(lock);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct JsonlSessionStore {
    dir: PathBuf,
    durability: Durability,
    /// Files of the sessions this store's holders write (clones share it).
    held: Held,
}

impl JsonlSessionStore {
    /// A store under `dir` (created if missing), fsyncing every append.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(JsonlSessionStore {
            dir,
            durability: Durability::Fsync,
            held: Held::default(),
        })
    }

    /// Choose durability.
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The directory holding the transcripts.
    pub fn dir(&self) -> &Path {
        &self.dir
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

    fn held_file(&self, session_id: &str) -> Option<Arc<File>> {
        match self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(session_id)
        {
            Some(Slot::Held(file)) => Some(file.clone()),
            _ => None,
        }
    }

    /// Wait (bounded) until the appends a released holder of `session_id` left on the
    /// blocking pool have ended, so its `flock` is gone.
    async fn drained(&self, session_id: &str) {
        let releasing = |held: &Held| match held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(session_id)
        {
            Some(Slot::Releasing(w)) => w.strong_count() > 0,
            _ => false,
        };
        let deadline = tokio::time::Instant::now() + RELEASE_WAIT;
        while releasing(&self.held) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
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

/// Run blocking file work off the runtime threads.
async fn blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        Error::io(
            path,
            std::io::Error::other(format!("blocking task failed: {e}")),
        )
    })?
}

/// Releases a session: forgets its file (closing it drops the `flock`).
struct HeldSession {
    held: Held,
    id: String,
}

impl Drop for HeldSession {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        // Forget released files whose last append ended.
        held.retain(|_, slot| !matches!(slot, Slot::Releasing(w) if w.strong_count() == 0));
        if let Some(Slot::Held(file)) = held.remove(&self.id)
            && Arc::strong_count(&file) > 1
        {
            // An append still runs with it: the next holder waits for it.
            held.insert(self.id.clone(), Slot::Releasing(Arc::downgrade(&file)));
        }
    }
}

#[async_trait]
impl SessionStore for JsonlSessionStore {
    async fn load(&self, session_id: &str) -> Result<LoadedSession> {
        let path = self.path_of(session_id)?;
        blocking(&path.clone(), move || {
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(LoadedSession::default());
                }
                Err(e) => return Err(Error::io(&path, e)),
            };
            let (records, _, warnings) = parse_jsonl(&path, &bytes)?;
            Ok(LoadedSession { records, warnings })
        })
        .await
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
        let held = self.held_file(session_id);
        blocking(&path.clone(), move || {
            // Whole lines in one buffer: a crash leaves at most one torn last line.
            let opened;
            let file: &File = match &held {
                Some(f) => f,
                None => {
                    opened = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .map_err(|e| Error::io(&path, e))?;
                    &opened
                }
            };
            let mut writer = file;
            writer.write_all(&buf).map_err(|e| Error::io(&path, e))?;
            if durability == Durability::Fsync {
                file.sync_data().map_err(|e| Error::io(&path, e))?;
            }
            Ok(())
        })
        .await
    }

    async fn lock(&self, session_id: &str) -> Result<SessionLock> {
        let path = self.path_of(session_id)?;
        let busy = || Error::SessionBusy {
            session: session_id.to_string(),
        };
        if self.held_file(session_id).is_some() {
            return Err(busy());
        }
        self.drained(session_id).await;
        let opened = blocking(&path.clone(), move || {
            let mut file = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
            // We are the writer: cut a torn tail so the next append starts a clean line.
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)
                .map_err(|e| Error::io(&path, e))?;
            let (_, valid_len, warnings) = parse_jsonl(&path, &bytes)?;
            if valid_len < bytes.len() {
                file.set_len(valid_len as u64)
                    .map_err(|e| Error::io(&path, e))?;
                file.sync_all().map_err(|e| Error::io(&path, e))?;
            }
            Ok(Some((file, warnings)))
        })
        .await?;
        let Some((file, warnings)) = opened else {
            return Err(busy());
        };
        {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(Slot::Held(_)) = held.get(session_id) {
                return Err(busy());
            }
            held.insert(session_id.to_string(), Slot::Held(Arc::new(file)));
        }
        Ok(SessionLock::new(HeldSession {
            held: self.held.clone(),
            id: session_id.to_string(),
        })
        .with_warnings(warnings))
    }

    fn transcript_path(&self, session_id: &str) -> Option<PathBuf> {
        self.path_of(session_id).ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_released_while_an_append_is_in_flight_can_be_locked_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = JsonlSessionStore::new(dir.path()).unwrap();
        let lock = store.lock("s").await.unwrap();
        // What an append on the blocking pool holds when its run is dropped mid-write.
        let in_flight = store.held_file("s").unwrap();
        drop(lock);
        let append = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            drop(in_flight);
        });
        // Before: `SessionBusy`, the file's flock still held by the append.
        let again = store.lock("s").await;
        assert!(again.is_ok(), "{:?}", again.err());
        append.join().unwrap();
        // And a live holder still refuses a second one.
        assert!(matches!(
            store.lock("s").await,
            Err(Error::SessionBusy { .. })
        ));
    }
}
