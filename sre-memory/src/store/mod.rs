//! The store: a folder of Markdown files, kept consistent under concurrent writers.
//!
//! Every write takes the store lock (an in-process mutex, then an exclusive `flock` on
//! `.sre-memory/lock`), re-reads what it changes, applies its change, writes each file
//! atomically and updates `index.md` before releasing the lock. Readers take no lock: files
//! are only ever replaced by rename, so a reader sees an old or a new file, never a torn one.
//!
//! Submodules: `files` (the lock, paths, and what this process knows about each file:
//! re-reading a file another process appended to parses only the appended lines), `write`
//! (every change, group commit of appends), `read` (search, review, the index).

mod files;
mod read;
mod write;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use sre_core::{MemoryHit, MemoryStore};

use crate::clock::{Clock, SystemClock};
use crate::error::{MemoryError, Result};
use crate::format::{Document, Entry};
use crate::index::TopicLine;
use crate::staleness::{ReviewItem, StalenessPolicy, render_review};

pub(crate) use files::Core;

/// Name of the index file.
pub const INDEX_FILE: &str = "index.md";
/// Folder of ingested documents.
pub const KNOWLEDGE_DIR: &str = "knowledge";
/// Folder of the store's own state (lock, id counter, snapshots); hidden from the index.
pub const STATE_DIR: &str = ".sre-memory";

/// How a store behaves.
#[derive(Clone, Debug)]
pub struct MemoryConfig {
    /// Maximum size of `index.md` in characters. Default 2,000.
    pub index_budget: usize,
    /// When entries need review.
    pub staleness: StalenessPolicy,
    /// Topic for facts that match no keyword rule. Default `overview`.
    pub default_topic: String,
    /// fsync files and directories on every write (durability against power loss).
    /// Atomicity against crashes holds either way. Default true.
    pub sync: bool,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            index_budget: 2000,
            staleness: StalenessPolicy::default(),
            default_topic: "overview".into(),
            sync: true,
            clock: Arc::new(SystemClock),
        }
    }
}

/// A topic file as read, with the version a writer must state to replace it.
#[derive(Clone, Debug)]
pub struct TopicFile {
    /// Path relative to the memory root.
    pub path: String,
    /// Content hash of the bytes read (`""` if the file does not exist).
    pub version: String,
    /// The parsed file.
    pub document: Document,
}

/// One topic in [`MarkdownMemory::list`].
pub type TopicSummary = TopicLine;

/// Result of [`MarkdownMemory::update`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The entry was updated; its new version.
    Updated {
        /// Entry id.
        id: String,
        /// New entry version.
        version: String,
    },
    /// The entry changed since the writer read it: both versions were kept and marked as
    /// conflicting.
    Conflict {
        /// The entry as it is on disk.
        kept: String,
        /// The new entry holding the writer's version.
        proposed: String,
    },
}

/// How a store has read topic files since it was opened: parsed whole, or extended by
/// the lines another writer appended (the cheap path). For monitoring and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseCounts {
    /// Files parsed from their first byte (first read, hand edits, rewrites).
    pub whole: u64,
    /// Files of which only the lines appended since the last read were parsed.
    pub appended: u64,
}

/// Markdown memory rooted at a folder. Cheap to clone; clones share state.
#[derive(Clone, Debug)]
pub struct MarkdownMemory {
    pub(crate) core: Arc<Core>,
}

impl MarkdownMemory {
    /// Open (creating if needed) a memory rooted at `root` with the default configuration.
    pub fn open(root: impl Into<PathBuf>) -> Result<MarkdownMemory> {
        Self::open_with(root, MemoryConfig::default())
    }

    /// Open with a configuration. Creates the folder, removes temp files left by crashed
    /// writers and writes `index.md` if it is missing or out of date.
    pub fn open_with(root: impl Into<PathBuf>, cfg: MemoryConfig) -> Result<MarkdownMemory> {
        let root = root.into();
        let state = root.join(STATE_DIR);
        fs::create_dir_all(&state).map_err(|e| MemoryError::io(&state, e))?;
        let core = Arc::new(Core::new(root, cfg));
        {
            let _g = core.lock()?;
            core.remove_temp_files(&core.root.clone())?;
            core.sync_index()?;
        }
        Ok(MarkdownMemory { core })
    }

    /// The memory root.
    pub fn root(&self) -> &Path {
        &self.core.root
    }

    /// The configuration.
    pub fn config(&self) -> &MemoryConfig {
        &self.core.cfg
    }

    /// How this store (and its clones) has read topic files since it was opened.
    pub fn parse_counts(&self) -> ParseCounts {
        let (whole, appended) = self.core.parse_counts();
        ParseCounts { whole, appended }
    }

    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Core) -> Result<T> + Send + 'static,
    {
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || f(&core))
            .await
            .map_err(|e| MemoryError::Task(e.to_string()))?
    }

    /// Store a fact in `topic`, or in the topic its words suggest (see [`suggest_topic`]).
    pub async fn remember(&self, fact: &str, topic: Option<&str>, source: &str) -> Result<String> {
        let topic = topic
            .map(str::to_string)
            .unwrap_or_else(|| suggest_topic(fact, &self.core.cfg.default_topic));
        self.append(&topic, fact, source).await
    }

    /// Append a fact to a topic file (created if missing); returns its id. Concurrent
    /// appends never conflict: each re-reads the file under the store lock.
    pub async fn append(&self, topic: &str, fact: &str, source: &str) -> Result<String> {
        let (topic, fact, source) = (topic.to_string(), fact.to_string(), source.to_string());
        self.run(move |c| c.append(&topic, &fact, &source)).await
    }

    /// Read a topic file (an empty document with version `""` if it does not exist).
    pub async fn read(&self, topic: &str) -> Result<TopicFile> {
        let topic = topic.to_string();
        self.run(move |c| c.read(&c.topic_path(&topic)?)).await
    }

    /// The topics, with counts and summaries.
    pub async fn list(&self) -> Result<Vec<TopicSummary>> {
        self.run(|c| c.topic_lines()).await
    }

    /// Replace a topic file with `content`, stating the version read (`""` for a new
    /// file). Returns the new version, or [`MemoryError::Conflict`] if the file changed.
    pub async fn write(
        &self,
        topic: &str,
        content: &str,
        expected_version: &str,
    ) -> Result<String> {
        let (topic, content, expected) = (
            topic.to_string(),
            content.to_string(),
            expected_version.to_string(),
        );
        self.run(move |c| c.write(&topic, &content, &expected))
            .await
    }

    /// Change an entry's text, stating the entry version read ([`Entry::version`]). If the
    /// entry changed meanwhile, nothing is overwritten: the new text becomes a new entry
    /// next to it and both are marked as conflicting.
    pub async fn update(
        &self,
        id: &str,
        text: &str,
        expected_version: &str,
        source: &str,
    ) -> Result<UpdateOutcome> {
        let (id, text, expected, source) = (
            id.to_string(),
            text.to_string(),
            expected_version.to_string(),
            source.to_string(),
        );
        self.run(move |c| c.update(&id, &text, &expected, &source))
            .await
    }

    /// Mark an entry deprecated with a note.
    pub async fn deprecate(&self, id: &str, note: &str, source: &str) -> Result<()> {
        let (id, note, source) = (id.to_string(), note.to_string(), source.to_string());
        self.run(move |c| c.deprecate(&id, &note, &source)).await
    }

    /// Replace an entry by a new fact in the same topic; returns the new id.
    pub async fn supersede(&self, id: &str, fact: &str, source: &str) -> Result<String> {
        let (id, fact, source) = (id.to_string(), fact.to_string(), source.to_string());
        self.run(move |c| c.supersede(&id, &fact, &source)).await
    }

    /// Reconcile a conflict: `winner` stays, `loser` is superseded by it.
    pub async fn resolve(&self, winner: &str, loser: &str, source: &str) -> Result<()> {
        let (w, l, s) = (winner.to_string(), loser.to_string(), source.to_string());
        self.run(move |c| c.resolve(&w, &l, &s)).await
    }

    /// Confirm an entry is still true (resets its review age).
    pub async fn verify(&self, id: &str, source: &str) -> Result<()> {
        let (id, source) = (id.to_string(), source.to_string());
        self.run(move |c| c.verify(&id, &source)).await
    }

    /// Find an entry by id: `(path, entry)`.
    pub async fn get(&self, id: &str) -> Result<(String, Entry)> {
        let id = id.to_string();
        self.run(move |c| {
            let path = c.find(&id)?;
            let doc = c.load_shared(&path)?;
            let e = doc
                .get(&id)
                .cloned()
                .ok_or_else(|| MemoryError::NotFound(id.clone()))?;
            Ok((path, e))
        })
        .await
    }

    /// Entries that need review (stale or in conflict), oldest first.
    pub async fn review(&self) -> Result<Vec<ReviewItem>> {
        self.run(|c| c.review()).await
    }

    /// The review view as Markdown.
    pub async fn review_markdown(&self) -> Result<String> {
        Ok(render_review(&self.review().await?))
    }

    /// Re-render staleness markers in every topic file whose markers are out of date
    /// (markers age with the clock; call it e.g. daily). Returns the files rewritten.
    pub async fn refresh_markers(&self) -> Result<Vec<String>> {
        self.run(|c| c.refresh_markers()).await
    }

    /// Rebuild `index.md` from the files and return it.
    pub async fn rebuild_index(&self) -> Result<String> {
        self.run(|c| {
            let _g = c.lock()?;
            c.sync_index()
        })
        .await
    }

    /// Add a document (runbook, postmortem, notes; Markdown or text) under `knowledge/`
    /// and list it in the index. Returns its path relative to the root.
    pub async fn ingest(&self, name: &str, content: &str) -> Result<String> {
        let (name, content) = (name.to_string(), content.to_string());
        self.run(move |c| c.ingest(&name, &content)).await
    }

    /// Everything odd in the topic files, as parse errors with file and line.
    pub async fn check(&self) -> Result<Vec<MemoryError>> {
        self.run(|c| c.check()).await
    }

    /// Entries matching `query`, best first.
    pub async fn search(&self, query: &str, limit: usize) -> Result<Vec<MemoryHit>> {
        let query = query.to_string();
        self.run(move |c| c.retrieve(&query, limit)).await
    }
}

#[async_trait]
impl MemoryStore for MarkdownMemory {
    async fn index(&self) -> sre_core::Result<String> {
        Ok(self.rebuild_index().await?)
    }

    async fn remember(
        &self,
        fact: &str,
        topic: Option<&str>,
        source: &str,
    ) -> sre_core::Result<String> {
        Ok(MarkdownMemory::remember(self, fact, topic, source).await?)
    }

    async fn forget(&self, selector: &str, source: &str) -> sre_core::Result<Vec<String>> {
        let (sel, source) = (selector.to_string(), source.to_string());
        Ok(self.run(move |c| c.forget(&sel, &source)).await?)
    }

    async fn retrieve(&self, query: &str, limit: usize) -> sre_core::Result<Vec<MemoryHit>> {
        Ok(self.search(query, limit).await?)
    }
}

/// The topic a fact goes to when none is given: `team` for people and on-call, `logs` for
/// where logs live, `debugging` for errors and fixes, else `default`.
pub fn suggest_topic(fact: &str, default: &str) -> String {
    let lower = fact.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .collect();
    let has = |keys: &[&str]| words.iter().any(|w| keys.iter().any(|k| w.starts_with(k)));
    if lower.contains("on call")
        || has(&[
            "on-call", "oncall", "team", "owner", "owns", "contact", "escalat", "pager", "manager",
        ])
    {
        "team".into()
    } else if has(&[
        "log",
        "loki",
        "kibana",
        "splunk",
        "journalctl",
        "elasticsearch",
    ]) {
        "logs".into()
    } else if has(&[
        "error",
        "debug",
        "root",
        "fix",
        "restart",
        "timeout",
        "5xx",
        "oom",
        "crash",
        "symptom",
        "exception",
    ]) {
        "debugging".into()
    } else {
        default.to_string()
    }
}
/// A file-name-safe slug.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(60).collect()
}
