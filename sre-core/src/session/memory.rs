//! Transcripts in memory, and the in-process lock table that stores can share.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{LoadedSession, SessionLock, SessionRecord, SessionStore};
use crate::error::{Error, Result};

/// Which sessions of one store are being written in this process.
///
/// ```
/// use sre_core::session::LocalLocks;
/// let locks = LocalLocks::default();
/// let held = locks.try_lock("s1").unwrap();
/// assert!(locks.try_lock("s1").is_err()); // SessionBusy
/// drop(held);
/// assert!(locks.try_lock("s1").is_ok());
/// ```
#[derive(Clone, Debug, Default)]
pub struct LocalLocks(Arc<Mutex<HashSet<String>>>);

/// A held entry of [`LocalLocks`]; released on drop.
#[derive(Debug)]
pub struct LocalLockGuard {
    table: LocalLocks,
    id: String,
}

impl LocalLocks {
    /// Take `session_id`, or [`Error::SessionBusy`] if it is taken.
    pub fn try_lock(&self, session_id: &str) -> Result<LocalLockGuard> {
        if !self.table().insert(session_id.to_string()) {
            return Err(Error::SessionBusy {
                session: session_id.to_string(),
            });
        }
        Ok(LocalLockGuard {
            table: self.clone(),
            id: session_id.to_string(),
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for LocalLockGuard {
    fn drop(&mut self) {
        self.table.table().remove(&self.id);
    }
}

/// Transcripts in memory (nothing survives the process).
#[derive(Debug, Default)]
pub struct InMemorySessionStore {
    sessions: Mutex<HashMap<String, Vec<SessionRecord>>>,
    locks: LocalLocks,
}

impl InMemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replace a session's records (e.g. to preload a long transcript in a benchmark).
    pub fn insert(&self, session_id: &str, records: Vec<SessionRecord>) {
        self.sessions().insert(session_id.to_string(), records);
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<SessionRecord>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SessionStore for InMemorySessionStore {
    async fn load(&self, session_id: &str) -> Result<LoadedSession> {
        Ok(LoadedSession {
            records: self.sessions().get(session_id).cloned().unwrap_or_default(),
            warnings: vec![],
        })
    }

    async fn append(&self, session_id: &str, records: &[SessionRecord]) -> Result<()> {
        self.sessions()
            .entry(session_id.to_string())
            .or_default()
            .extend_from_slice(records);
        Ok(())
    }

    async fn lock(&self, session_id: &str) -> Result<SessionLock> {
        Ok(SessionLock::new(self.locks.try_lock(session_id)?))
    }
}
