//! The store: a folder of Markdown files, kept consistent under concurrent writers.
//!
//! Every write takes the store lock (an in-process mutex, then an exclusive `flock` on
//! `.sre-memory/lock`), re-reads what it changes, applies its change, writes each file
//! atomically and updates `index.md` before releasing the lock. Readers take no lock: files
//! are only ever replaced by rename, so a reader sees an old or a new file, never a torn one.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sre_core::{MemoryHit, MemoryStore};

use crate::atomic::{TEMP_PREFIX, write_atomic};
use crate::clock::{Clock, SystemClock, Timestamp};
use crate::error::{MemoryError, Result};
use crate::format::{Document, Entry, Status, hex, sanitize_text};
use crate::index::{KnowledgeLine, TopicLine, render_index};
use crate::lock::FileLock;
use crate::staleness::{ReviewItem, StalenessPolicy, render_review};

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

#[derive(Clone, Debug)]
pub(crate) struct TopicInfo {
    entries: usize,
    active: usize,
    conflicts: usize,
    verified: Vec<Timestamp>,
    max_m: u64,
    ids: Vec<String>,
    summary: String,
}

type CacheKey = (u64, u64, i64, i64);

/// Markdown memory rooted at a folder. Cheap to clone; clones share state.
#[derive(Clone, Debug)]
pub struct MarkdownMemory {
    pub(crate) core: Arc<Core>,
}

#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) root: PathBuf,
    pub(crate) cfg: MemoryConfig,
    writer: Mutex<()>,
    cache: Mutex<HashMap<String, (CacheKey, Arc<TopicInfo>)>>,
    /// The last document each writer saved, with its exact bytes: reused when the file on
    /// disk still has those bytes (saves re-parsing large files on every append).
    docs: Mutex<HashMap<String, ParsedFile>>,
    /// Appends waiting for the store lock (group commit).
    queue: Mutex<Vec<Pending>>,
}

type Slot = Arc<Mutex<Option<Result<String>>>>;

/// A file's exact bytes and their parse.
type ParsedFile = (Vec<u8>, Arc<Document>);

#[derive(Debug)]
struct Pending {
    rel: String,
    fact: String,
    source: String,
    slot: Slot,
}

fn take_slot(slot: &Slot) -> Option<Result<String>> {
    slot.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// The same error for every writer of a failed batch.
fn copy_error(e: &MemoryError) -> MemoryError {
    match e {
        MemoryError::Io { path, source } => MemoryError::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        MemoryError::Parse {
            path,
            line,
            message,
        } => MemoryError::Parse {
            path: path.clone(),
            line: *line,
            message: message.clone(),
        },
        MemoryError::Conflict {
            path,
            expected,
            found,
        } => MemoryError::Conflict {
            path: path.clone(),
            expected: expected.clone(),
            found: found.clone(),
        },
        MemoryError::NotFound(s) => MemoryError::NotFound(s.clone()),
        MemoryError::InvalidName { name, reason } => MemoryError::InvalidName {
            name: name.clone(),
            reason: reason.clone(),
        },
        other => MemoryError::Task(other.to_string()),
    }
}

pub(crate) struct Guard<'a> {
    _file: FileLock,
    _mutex: MutexGuard<'a, ()>,
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
        let core = Arc::new(Core {
            root,
            cfg,
            writer: Mutex::new(()),
            cache: Mutex::new(HashMap::new()),
            docs: Mutex::new(HashMap::new()),
            queue: Mutex::new(Vec::new()),
        });
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

fn version_of(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes)[..8])
}

fn title_case(name: &str) -> String {
    let last = name
        .rsplit('/')
        .next()
        .unwrap_or(name)
        .replace(['-', '_'], " ");
    let mut c = last.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn m_number(id: &str) -> Option<u64> {
    id.strip_prefix("m-")?.parse().ok()
}

impl Core {
    pub(crate) fn now(&self) -> Timestamp {
        self.cfg.clock.now()
    }

    pub(crate) fn lock(&self) -> Result<Guard<'_>> {
        let mutex = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let file = FileLock::exclusive(&self.root.join(STATE_DIR).join("lock"))?;
        Ok(Guard {
            _file: file,
            _mutex: mutex,
        })
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<String, (CacheKey, Arc<TopicInfo>)>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn clear_cache(&self) {
        self.cache().clear();
        self.docs.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Load a topic file for changing it (call under lock; hand it back with `save`).
    fn load_for_write(&self, rel: &str) -> Result<Document> {
        let Some(bytes) = self.read_bytes(rel)? else {
            return Ok(Document::default());
        };
        let cached = self
            .docs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(rel);
        match cached {
            Some((b, doc)) if b == bytes => {
                Ok(Arc::try_unwrap(doc).unwrap_or_else(|shared| (*shared).clone()))
            }
            _ => Ok(Document::parse_bytes(&bytes)),
        }
    }

    /// Parse a topic file for reading, reusing the cached parse if the bytes are unchanged.
    pub(crate) fn load_shared(&self, rel: &str) -> Result<Arc<Document>> {
        let Some(bytes) = self.read_bytes(rel)? else {
            return Ok(Arc::new(Document::default()));
        };
        if let Some((b, doc)) = self.docs.lock().unwrap_or_else(|p| p.into_inner()).get(rel)
            && *b == bytes
        {
            return Ok(doc.clone());
        }
        let doc = Arc::new(Document::parse_bytes(&bytes));
        self.docs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(rel.to_string(), (bytes, doc.clone()));
        Ok(doc)
    }

    fn read_bytes(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let path = self.abs(rel);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(MemoryError::io(path, e)),
        }
    }

    /// `team` → `team.md`, refusing names that escape the root or collide with the
    /// store's own files.
    pub(crate) fn topic_path(&self, topic: &str) -> Result<String> {
        let bad = |reason: &str| MemoryError::InvalidName {
            name: topic.to_string(),
            reason: reason.to_string(),
        };
        let t = topic
            .trim()
            .trim_end_matches(".md")
            .to_lowercase()
            .replace(' ', "-");
        if t.is_empty() {
            return Err(bad("empty"));
        }
        for part in t.split('/') {
            if part.is_empty() || part.starts_with('.') {
                return Err(bad("empty or hidden path component"));
            }
            if !part
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad("use letters, digits, `-`, `_` and `/`"));
            }
        }
        if t == "index" || t.split('/').next() == Some(KNOWLEDGE_DIR) {
            return Err(bad("reserved"));
        }
        Ok(format!("{t}.md"))
    }

    fn abs(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub(crate) fn read(&self, rel: &str) -> Result<TopicFile> {
        let path = self.abs(rel);
        match fs::read(&path) {
            Ok(bytes) => Ok(TopicFile {
                path: rel.to_string(),
                version: version_of(&bytes),
                document: Document::parse_bytes(&bytes),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TopicFile {
                path: rel.to_string(),
                version: String::new(),
                document: Document::default(),
            }),
            Err(e) => Err(MemoryError::io(path, e)),
        }
    }

    /// Write a document (markers refreshed) and record it in the cache.
    fn save(&self, rel: &str, doc: &mut Document) -> Result<()> {
        let now = self.now();
        let policy = &self.cfg.staleness;
        doc.refresh_markers(|e| policy.note(e, now));
        let text = doc.render();
        let path = self.abs(rel);
        write_atomic(&path, text.as_bytes(), self.cfg.sync)?;
        if let Ok(md) = fs::metadata(&path) {
            let info = Arc::new(topic_info(doc));
            self.cache().insert(rel.to_string(), (cache_key(&md), info));
        }
        // Keep the document in the form a re-parse of `text` would give.
        let saved = std::mem::take(doc).into_saved(&text);
        self.docs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(rel.to_string(), (text.into_bytes(), Arc::new(saved)));
        Ok(())
    }

    fn new_document(&self, rel: &str) -> Document {
        let mut doc = Document::default();
        doc.push_raw(&format!(
            "# {}\n\n",
            title_case(rel.trim_end_matches(".md"))
        ));
        doc
    }

    fn next_id(&self) -> Result<String> {
        Ok(format!("m-{}", self.next_ids(1)?))
    }

    /// Reserve `k` consecutive ids; returns the first number. The counter file is a hint:
    /// the highest id in the files wins if the counter was lost.
    fn next_ids(&self, k: u64) -> Result<u64> {
        let counter = self.root.join(STATE_DIR).join("next-id");
        let stored: u64 = fs::read_to_string(&counter)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let scanned = self.scan()?.iter().map(|(_, i)| i.max_m).max().unwrap_or(0) + 1;
        let n = stored.max(scanned);
        write_atomic(&counter, format!("{}\n", n + k).as_bytes(), false)?;
        Ok(n)
    }

    /// Group commit: the append is queued; whoever holds the store lock next writes every
    /// queued append (one file write per topic, one index update) and hands out the ids.
    pub(crate) fn append(&self, topic: &str, fact: &str, source: &str) -> Result<String> {
        let rel = self.topic_path(topic)?;
        if sanitize_text(fact).is_empty() {
            return Err(MemoryError::InvalidName {
                name: fact.to_string(),
                reason: "empty fact".into(),
            });
        }
        let slot: Slot = Arc::new(Mutex::new(None));
        self.queue().push(Pending {
            rel,
            fact: fact.to_string(),
            source: source.to_string(),
            slot: slot.clone(),
        });
        let _g = match self.lock() {
            Ok(g) => g,
            Err(e) => {
                // Whoever held the lock before has finished; withdraw the append if it was
                // not written, so an error never hides a later write.
                self.queue().retain(|p| !Arc::ptr_eq(&p.slot, &slot));
                return take_slot(&slot).unwrap_or(Err(e));
            }
        };
        if let Some(done) = take_slot(&slot) {
            return done;
        }
        let batch = std::mem::take(&mut *self.queue());
        if let Err(e) = self.commit_appends(&batch) {
            for p in &batch {
                let mut s = p.slot.lock().unwrap_or_else(|p| p.into_inner());
                if s.is_none() {
                    *s = Some(Err(copy_error(&e)));
                }
            }
        }
        take_slot(&slot)
            .unwrap_or_else(|| Err(MemoryError::Task("append was not processed".into())))
    }

    fn commit_appends(&self, batch: &[Pending]) -> Result<()> {
        let first = self.next_ids(batch.len() as u64)?;
        let now = self.now();
        let mut topics: Vec<&str> = batch.iter().map(|p| p.rel.as_str()).collect();
        topics.sort();
        topics.dedup();
        for rel in topics {
            let mut doc = self.load_for_write(rel)?;
            if doc.is_empty() {
                doc = self.new_document(rel);
            }
            let mut done = Vec::new();
            for (i, p) in batch.iter().enumerate().filter(|(_, p)| p.rel == rel) {
                let id = format!("m-{}", first + i as u64);
                doc.push(Entry::new(id.clone(), &p.fact, &p.source, now));
                done.push((p, id));
            }
            self.save(rel, &mut doc)?;
            for (p, id) in done {
                *p.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Ok(id));
            }
        }
        self.sync_index()?;
        Ok(())
    }

    fn queue(&self) -> MutexGuard<'_, Vec<Pending>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self, topic: &str, content: &str, expected: &str) -> Result<String> {
        let rel = self.topic_path(topic)?;
        let _g = self.lock()?;
        let current = self.read(&rel)?;
        if current.version != expected {
            return Err(MemoryError::Conflict {
                path: rel,
                expected: expected.to_string(),
                found: current.version,
            });
        }
        write_atomic(&self.abs(&rel), content.as_bytes(), self.cfg.sync)?;
        self.sync_index()?;
        Ok(version_of(content.as_bytes()))
    }

    /// The file holding entry `id`.
    pub(crate) fn find(&self, id: &str) -> Result<String> {
        self.scan()?
            .into_iter()
            .find(|(_, info)| info.ids.iter().any(|i| i == id))
            .map(|(p, _)| p)
            .ok_or_else(|| MemoryError::NotFound(format!("memory entry `{id}`")))
    }

    /// Run `f` on the entry `id` under the lock and save its file.
    fn modify<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Document, Timestamp) -> Result<T>,
    ) -> Result<T> {
        let _g = self.lock()?;
        let rel = self.find(id)?;
        let mut doc = self.load_for_write(&rel)?;
        let out = f(&mut doc, self.now())?;
        self.save(&rel, &mut doc)?;
        self.sync_index()?;
        Ok(out)
    }

    fn update(&self, id: &str, text: &str, expected: &str, source: &str) -> Result<UpdateOutcome> {
        let _g = self.lock()?;
        let rel = self.find(id)?;
        let mut doc = self.load_for_write(&rel)?;
        let now = self.now();
        let current = doc
            .get(id)
            .ok_or_else(|| MemoryError::NotFound(id.to_string()))?;
        let outcome = if current.version() == expected {
            let e = doc
                .get_mut(id)
                .ok_or_else(|| MemoryError::NotFound(id.to_string()))?;
            e.text = sanitize_text(text);
            e.continuation.clear();
            e.meta.updated = Some(now);
            e.meta.verified = Some(now);
            e.meta.source = Some(source.to_string());
            UpdateOutcome::Updated {
                id: id.to_string(),
                version: e.version(),
            }
        } else {
            let new_id = self.next_id()?;
            let mut proposed = Entry::new(new_id.clone(), text, source, now);
            proposed.meta.conflicts.push(id.to_string());
            if let Some(e) = doc.get_mut(id)
                && !e.meta.conflicts.iter().any(|c| c == &new_id)
            {
                e.meta.conflicts.push(new_id.clone());
            }
            doc.insert_after(id, proposed);
            UpdateOutcome::Conflict {
                kept: id.to_string(),
                proposed: new_id,
            }
        };
        self.save(&rel, &mut doc)?;
        self.sync_index()?;
        Ok(outcome)
    }

    fn deprecate(&self, id: &str, note: &str, _source: &str) -> Result<()> {
        self.modify(id, |doc, now| {
            let e = doc
                .get_mut(id)
                .ok_or_else(|| MemoryError::NotFound(id.to_string()))?;
            e.meta.status = Status::Deprecated;
            e.meta.note = Some(note.to_string());
            e.meta.updated = Some(now);
            Ok(())
        })
    }

    fn supersede(&self, id: &str, fact: &str, source: &str) -> Result<String> {
        let _g = self.lock()?;
        let rel = self.find(id)?;
        let mut doc = self.load_for_write(&rel)?;
        let now = self.now();
        let new_id = self.next_id()?;
        let e = doc
            .get_mut(id)
            .ok_or_else(|| MemoryError::NotFound(id.to_string()))?;
        e.meta.status = Status::Superseded;
        e.meta.superseded_by = Some(new_id.clone());
        e.meta.updated = Some(now);
        doc.insert_after(id, Entry::new(new_id.clone(), fact, source, now));
        self.save(&rel, &mut doc)?;
        self.sync_index()?;
        Ok(new_id)
    }

    fn resolve(&self, winner: &str, loser: &str, source: &str) -> Result<()> {
        let _g = self.lock()?;
        let now = self.now();
        let (win_rel, lose_rel) = (self.find(winner)?, self.find(loser)?);
        // Both entries change in one write when they share a file (the usual case).
        let mut rels = vec![win_rel.clone()];
        if lose_rel != win_rel {
            rels.push(lose_rel.clone());
        }
        for rel in rels {
            let mut doc = self.load_for_write(&rel)?;
            if rel == win_rel {
                let e = doc
                    .get_mut(winner)
                    .ok_or_else(|| MemoryError::NotFound(winner.to_string()))?;
                e.meta.conflicts.retain(|c| c != loser);
                e.meta.updated = Some(now);
                e.meta.verified = Some(now);
                e.meta.source = Some(source.to_string());
            }
            if rel == lose_rel {
                let e = doc
                    .get_mut(loser)
                    .ok_or_else(|| MemoryError::NotFound(loser.to_string()))?;
                e.meta.conflicts.retain(|c| c != winner);
                e.meta.updated = Some(now);
                e.meta.status = Status::Superseded;
                e.meta.superseded_by = Some(winner.to_string());
            }
            self.save(&rel, &mut doc)?;
        }
        self.sync_index()?;
        Ok(())
    }

    fn verify(&self, id: &str, _source: &str) -> Result<()> {
        self.modify(id, |doc, now| {
            let e = doc
                .get_mut(id)
                .ok_or_else(|| MemoryError::NotFound(id.to_string()))?;
            e.meta.verified = Some(now);
            Ok(())
        })
    }

    pub(crate) fn forget(&self, selector: &str, source: &str) -> Result<Vec<String>> {
        let _g = self.lock()?;
        let sel = selector.trim();
        let needle = sel.to_lowercase();
        let mut affected = Vec::new();
        let now = self.now();
        let files = self.scan()?;
        let by_id = files
            .iter()
            .any(|(_, info)| info.ids.iter().any(|i| i == sel));
        for (rel, _) in files {
            let ids: Vec<String> = self
                .load_shared(&rel)?
                .entries()
                .filter(|e| e.is_active())
                .filter(|e| {
                    if by_id {
                        e.id == sel
                    } else {
                        !needle.is_empty() && e.full_text().to_lowercase().contains(&needle)
                    }
                })
                .map(|e| e.id.clone())
                .collect();
            if ids.is_empty() {
                continue;
            }
            let mut doc = self.load_for_write(&rel)?;
            for id in &ids {
                if let Some(e) = doc.get_mut(id) {
                    e.meta.status = Status::Deprecated;
                    e.meta.note = Some(format!("forgotten by {source}"));
                    e.meta.updated = Some(now);
                }
            }
            self.save(&rel, &mut doc)?;
            affected.extend(ids);
        }
        self.sync_index()?;
        Ok(affected)
    }

    pub(crate) fn retrieve(&self, query: &str, limit: usize) -> Result<Vec<MemoryHit>> {
        let now = self.now();
        let q = query.trim().to_lowercase();
        let terms: Vec<&str> = q
            .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '_')
            .filter(|t| t.len() > 1)
            .collect();
        let mut scored: Vec<(f64, Timestamp, MemoryHit)> = Vec::new();
        for (rel, _) in self.scan()? {
            let doc = self.load_shared(&rel)?;
            let topic = rel.trim_end_matches(".md").to_lowercase();
            for e in doc.entries() {
                let text = e.full_text();
                let lower = text.to_lowercase();
                let mut score = if e.id == query.trim() { 100.0 } else { 0.0 };
                score += terms.iter().filter(|t| lower.contains(**t)).count() as f64;
                if !q.is_empty() && lower.contains(&q) {
                    score += 1.0;
                }
                if terms.iter().any(|t| topic.contains(t)) {
                    score += 0.5;
                }
                if score <= 0.0 {
                    continue;
                }
                if !e.is_active() {
                    score *= 0.5;
                }
                let hit = MemoryHit {
                    id: e.id.clone(),
                    path: rel.clone(),
                    text,
                    note: self.cfg.staleness.note(e, now),
                };
                scored.push((score, e.last_verified().unwrap_or(Timestamp(0)), hit));
            }
        }
        for (rel, title, body) in self.knowledge_docs()? {
            let lower = body.to_lowercase();
            let score = terms.iter().filter(|t| lower.contains(**t)).count() as f64 * 0.75;
            if score > 0.0 {
                let line = body
                    .lines()
                    .find(|l| terms.iter().any(|t| l.to_lowercase().contains(t)))
                    .unwrap_or("")
                    .trim();
                let text = if line.is_empty() || line.trim_start_matches("# ") == title {
                    title.clone()
                } else {
                    format!("{title}: {line}")
                };
                scored.push((
                    score,
                    Timestamp(0),
                    MemoryHit {
                        id: rel.clone(),
                        path: rel,
                        text,
                        note: None,
                    },
                ));
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
        Ok(scored.into_iter().take(limit).map(|(_, _, h)| h).collect())
    }

    fn review(&self) -> Result<Vec<ReviewItem>> {
        let now = self.now();
        let policy = &self.cfg.staleness;
        let mut items = Vec::new();
        for (rel, _) in self.scan()? {
            let doc = self.load_shared(&rel)?;
            for e in doc.entries() {
                if policy.needs_review(e, now)
                    && let Some(note) = policy.note(e, now)
                {
                    items.push((
                        e.last_verified(),
                        ReviewItem {
                            id: e.id.clone(),
                            path: rel.clone(),
                            line: e.line,
                            text: e.full_text(),
                            note,
                        },
                    ));
                }
            }
        }
        items.sort_by_key(|a| a.0);
        Ok(items.into_iter().map(|(_, i)| i).collect())
    }

    fn refresh_markers(&self) -> Result<Vec<String>> {
        let _g = self.lock()?;
        let now = self.now();
        let mut changed = Vec::new();
        for (rel, _) in self.scan()? {
            let mut doc = self.load_for_write(&rel)?;
            let before = doc.render();
            let policy = &self.cfg.staleness;
            doc.refresh_markers(|e| policy.note(e, now));
            if doc.render() != before {
                self.save(&rel, &mut doc)?;
                changed.push(rel);
            }
        }
        self.sync_index()?;
        Ok(changed)
    }

    fn ingest(&self, name: &str, content: &str) -> Result<String> {
        let bad = |reason: &str| MemoryError::InvalidName {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        let n = name.trim().trim_start_matches("knowledge/");
        let (stem, ext) = match n.rsplit_once('.') {
            Some((s, e)) if e == "md" || e == "txt" => (s, e),
            _ => (n, "md"),
        };
        let stem = slug(stem);
        if stem.is_empty() {
            return Err(bad("empty"));
        }
        let rel = format!("{KNOWLEDGE_DIR}/{stem}.{ext}");
        let _g = self.lock()?;
        write_atomic(&self.abs(&rel), content.as_bytes(), self.cfg.sync)?;
        self.sync_index()?;
        Ok(rel)
    }

    fn check(&self) -> Result<Vec<MemoryError>> {
        let mut out = Vec::new();
        for (rel, _) in self.scan()? {
            for issue in self.load_shared(&rel)?.issues.clone() {
                out.push(MemoryError::Parse {
                    path: rel.clone(),
                    line: issue.line,
                    message: issue.message,
                });
            }
        }
        Ok(out)
    }

    /// Topic files (relative paths, sorted) and what the index needs about them, re-reading
    /// only files that changed since last time.
    pub(crate) fn scan(&self) -> Result<Vec<(String, Arc<TopicInfo>)>> {
        let mut files = Vec::new();
        self.walk_topics(&self.root, "", &mut files)?;
        files.sort();
        let mut out = Vec::with_capacity(files.len());
        for rel in files {
            let path = self.abs(&rel);
            let md = match fs::metadata(&path) {
                Ok(md) => md,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(MemoryError::io(path, e)),
            };
            let key = cache_key(&md);
            let cached = self
                .cache()
                .get(&rel)
                .filter(|(k, _)| *k == key)
                .map(|(_, i)| i.clone());
            let info = match cached {
                Some(i) => i,
                None => {
                    let doc = self.load_shared(&rel)?;
                    let info = Arc::new(topic_info(&doc));
                    self.cache().insert(rel.clone(), (key, info.clone()));
                    info
                }
            };
            out.push((rel, info));
        }
        Ok(out)
    }

    fn walk_topics(&self, dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(MemoryError::io(dir, e)),
        };
        for ent in rd {
            let ent = ent.map_err(|e| MemoryError::io(dir, e))?;
            let Ok(name) = ent.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let rel = format!("{prefix}{name}");
            let ft = ent
                .file_type()
                .map_err(|e| MemoryError::io(ent.path(), e))?;
            if ft.is_dir() {
                if rel != KNOWLEDGE_DIR {
                    self.walk_topics(&ent.path(), &format!("{rel}/"), out)?;
                }
            } else if ft.is_file() && name.ends_with(".md") && rel != INDEX_FILE {
                out.push(rel);
            }
        }
        Ok(())
    }

    /// `(path, title, text)` of every knowledge document.
    pub(crate) fn knowledge_docs(&self) -> Result<Vec<(String, String, String)>> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.join(KNOWLEDGE_DIR)];
        while let Some(dir) = stack.pop() {
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(MemoryError::io(&dir, e)),
            };
            for ent in rd {
                let ent = ent.map_err(|e| MemoryError::io(&dir, e))?;
                let path = ent.path();
                let name = ent.file_name().to_string_lossy().to_string();
                if name.starts_with('.') {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else if name.ends_with(".md") || name.ends_with(".txt") {
                    let bytes = fs::read(&path).map_err(|e| MemoryError::io(&path, e))?;
                    let body = String::from_utf8_lossy(&bytes).to_string();
                    let rel = path
                        .strip_prefix(&self.root)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .to_string();
                    let title = body
                        .lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty() && !l.starts_with("<!--"))
                        .map(|l| l.trim_start_matches('#').trim().to_string())
                        .filter(|t| !t.is_empty())
                        .unwrap_or_else(|| name.clone());
                    out.push((rel, title, body));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    pub(crate) fn topic_lines(&self) -> Result<Vec<TopicLine>> {
        let now = self.now();
        let max_age = i64::try_from(self.cfg.staleness.review_after.as_secs()).unwrap_or(i64::MAX);
        Ok(self
            .scan()?
            .into_iter()
            .map(|(rel, i)| TopicLine {
                name: rel.trim_end_matches(".md").to_string(),
                path: rel,
                entries: i.entries,
                active: i.active,
                needs_review: i.conflicts
                    + i.verified.iter().filter(|t| now.0 - t.0 > max_age).count(),
                summary: i.summary.clone(),
            })
            .collect())
    }

    /// Render the index from the files; rewrite `index.md` if it differs. Call under lock.
    pub(crate) fn sync_index(&self) -> Result<String> {
        let topics = self.topic_lines()?;
        let knowledge: Vec<KnowledgeLine> = self
            .knowledge_docs()?
            .into_iter()
            .map(|(path, title, _)| KnowledgeLine { path, title })
            .collect();
        let text = render_index(&topics, &knowledge, self.cfg.index_budget);
        let path = self.abs(INDEX_FILE);
        if fs::read(&path).ok().as_deref() != Some(text.as_bytes()) {
            // No fsync: the index is derived from the topic files and rebuilt by `open`, so
            // losing its last update to a power cut costs nothing.
            write_atomic(&path, text.as_bytes(), false)?;
        }
        Ok(text)
    }

    fn remove_temp_files(&self, dir: &Path) -> Result<()> {
        let Ok(rd) = fs::read_dir(dir) else {
            return Ok(());
        };
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().to_string();
            let path = ent.path();
            let is_dir = ent.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if name.starts_with(TEMP_PREFIX) {
                let r = if is_dir {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                r.map_err(|e| MemoryError::io(&path, e))?;
            } else if is_dir {
                self.remove_temp_files(&path)?;
            }
        }
        Ok(())
    }
}

fn cache_key(md: &fs::Metadata) -> CacheKey {
    (md.ino(), md.len(), md.mtime(), md.mtime_nsec())
}

fn topic_info(doc: &Document) -> TopicInfo {
    let mut info = TopicInfo {
        entries: 0,
        active: 0,
        conflicts: 0,
        verified: Vec::new(),
        max_m: 0,
        ids: Vec::new(),
        summary: String::new(),
    };
    let mut recent: Vec<&Entry> = Vec::new();
    for e in doc.entries() {
        info.entries += 1;
        info.ids.push(e.id.clone());
        if let Some(n) = m_number(&e.id) {
            info.max_m = info.max_m.max(n);
        }
        if e.is_active() {
            info.active += 1;
            if !e.meta.conflicts.is_empty() {
                info.conflicts += 1;
            } else if let Some(t) = e.last_verified() {
                info.verified.push(t);
            }
            recent.push(e);
        }
    }
    let parts: Vec<&str> = recent
        .iter()
        .rev()
        .take(3)
        .map(|e| e.text.trim_end_matches('.'))
        .collect();
    info.summary = parts.join("; ");
    info
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
