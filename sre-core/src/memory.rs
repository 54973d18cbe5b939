//! The `MemoryStore` contract: what the loop needs from the agent's memory.
//!
//! The agent reads memory with its ordinary file tools (memory is a workspace mount); the
//! loop uses this contract for the prompt's knowledge map and for the user commands
//! `#remember <fact>`, `#forget <id or text>` and `#retrieve <query>`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// One entry found by [`MemoryStore::retrieve`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryHit {
    /// Entry id (e.g. `m-17`).
    pub id: String,
    /// File the entry lives in, relative to the memory root.
    pub path: String,
    /// The entry text.
    pub text: String,
    /// Staleness or status note (e.g. `verified 43 days ago`, `superseded by m-20`), if any.
    pub note: Option<String>,
}

/// Markdown memory the agent navigates.
#[async_trait]
pub trait MemoryStore: Send + Sync {
    /// The index (entry point) as it should appear in the prompt.
    async fn index(&self) -> Result<String>;

    /// Store a fact, in `topic` if given; `source` is a session id or `user`. Returns its id.
    async fn remember(&self, fact: &str, topic: Option<&str>, source: &str) -> Result<String>;

    /// Deprecate entries matching an id or text; returns the ids affected.
    async fn forget(&self, selector: &str, source: &str) -> Result<Vec<String>>;

    /// Entries matching `query`, best first, at most `limit`.
    async fn retrieve(&self, query: &str, limit: usize) -> Result<Vec<MemoryHit>>;
}
