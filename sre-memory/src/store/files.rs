//! The store's files: the lock, paths, and what this process knows about each topic file.
//!
//! Every topic file this process has read is kept as [`Known`]: its stat key (inode, size,
//! mtime), its exact bytes, its parse and what the index needs about it. A file whose stat
//! key is unchanged is not read again (readers, the index). A writer always reads the
//! bytes under the lock and compares them with the known ones; when another process only
//! appended entries (the known bytes are a prefix of the new ones), just the appended
//! lines are parsed ([`Document::extended`]); anything else is parsed whole.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::atomic::{LEGACY_TEMP_PREFIX, TEMP_PREFIX, write_atomic};
use crate::clock::Timestamp;
use crate::error::{MemoryError, Result};
use crate::format::{Document, Entry};
use crate::lock::FileLock;

use super::write::Pending;
use super::{INDEX_FILE, KNOWLEDGE_DIR, MemoryConfig, STATE_DIR};

/// Inode, size, mtime seconds and nanoseconds: a cheap "did this file change" check.
pub(super) type CacheKey = (u64, u64, i64, i64);

/// What the index and id allocation need about a topic file.
#[derive(Clone, Debug, Default)]
pub(crate) struct TopicInfo {
    pub(super) entries: usize,
    pub(super) active: usize,
    pub(super) conflicts: usize,
    pub(super) verified: Vec<Timestamp>,
    pub(super) max_m: u64,
    /// The newest three active facts, oldest first.
    recent: Vec<String>,
}

impl TopicInfo {
    fn of(doc: &Document) -> TopicInfo {
        let mut info = TopicInfo::default();
        info.add(doc.entries());
        info
    }

    /// Account for entries that follow the ones already counted.
    fn add<'a>(&mut self, entries: impl Iterator<Item = &'a Entry>) {
        let mut newest: VecDeque<&Entry> = VecDeque::with_capacity(3);
        for e in entries {
            self.entries += 1;
            if let Some(n) = m_number(&e.id) {
                self.max_m = self.max_m.max(n);
            }
            if e.is_active() {
                self.active += 1;
                if !e.meta.conflicts.is_empty() {
                    self.conflicts += 1;
                } else if let Some(t) = e.last_verified() {
                    self.verified.push(t);
                }
                if newest.len() == 3 {
                    newest.pop_front();
                }
                newest.push_back(e);
            }
        }
        for e in newest {
            if self.recent.len() == 3 {
                self.recent.remove(0);
            }
            self.recent.push(e.text.trim_end_matches('.').to_string());
        }
    }

    /// The newest active facts, newest first.
    pub(super) fn summary(&self) -> String {
        let parts: Vec<&str> = self.recent.iter().rev().map(String::as_str).collect();
        parts.join("; ")
    }
}

/// A topic file as this process last saw it.
#[derive(Debug)]
pub(super) struct Known {
    /// Stat key taken before the bytes were read (a change after it changes the key).
    key: Option<CacheKey>,
    pub(super) bytes: Vec<u8>,
    /// Newlines in `bytes`.
    lines: usize,
    pub(super) doc: Arc<Document>,
    pub(super) info: Arc<TopicInfo>,
}

/// The shared state of a store and its clones.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) root: PathBuf,
    pub(crate) cfg: MemoryConfig,
    writer: Mutex<()>,
    files: Mutex<HashMap<String, Arc<Known>>>,
    /// Knowledge document titles, by stat key.
    titles: Mutex<HashMap<String, (CacheKey, String)>>,
    /// Appends waiting for the store lock (group commit).
    pub(super) queue: Mutex<Vec<Pending>>,
    /// Files parsed whole / extended by appended lines (see `ParseCounts`).
    parsed_whole: AtomicU64,
    parsed_tail: AtomicU64,
}

/// The store lock: the in-process mutex, then the cross-process file lock.
pub(crate) struct Guard<'a> {
    _file: FileLock,
    _mutex: MutexGuard<'a, ()>,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Core {
    pub(super) fn new(root: PathBuf, cfg: MemoryConfig) -> Core {
        Core {
            root,
            cfg,
            writer: Mutex::new(()),
            files: Mutex::new(HashMap::new()),
            titles: Mutex::new(HashMap::new()),
            queue: Mutex::new(Vec::new()),
            parsed_whole: AtomicU64::new(0),
            parsed_tail: AtomicU64::new(0),
        }
    }

    /// How many times files were parsed whole and extended by appended lines.
    pub(super) fn parse_counts(&self) -> (u64, u64) {
        (
            self.parsed_whole.load(Ordering::Relaxed),
            self.parsed_tail.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.cfg.clock.now()
    }

    /// Take the store lock (blocks: call from a blocking thread).
    pub(crate) fn lock(&self) -> Result<Guard<'_>> {
        let mutex = relock(&self.writer);
        let file = FileLock::exclusive(&self.root.join(STATE_DIR).join("lock"))?;
        Ok(Guard {
            _file: file,
            _mutex: mutex,
        })
    }

    /// Forget everything known about the files (after a restore rewrote them).
    pub(crate) fn clear_cache(&self) {
        relock(&self.files).clear();
        relock(&self.titles).clear();
    }

    pub(super) fn abs(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn stat(&self, rel: &str) -> Result<Option<CacheKey>> {
        let path = self.abs(rel);
        match fs::metadata(&path) {
            Ok(md) => Ok(Some(cache_key(&md))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(MemoryError::io(path, e)),
        }
    }

    pub(super) fn read_bytes(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let path = self.abs(rel);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(MemoryError::io(path, e)),
        }
    }

    /// What is known about `rel` now, read again only if its stat key changed. `None` if
    /// the file does not exist.
    fn known(&self, rel: &str) -> Result<Option<Arc<Known>>> {
        let Some(key) = self.stat(rel)? else {
            return Ok(None);
        };
        if let Some(k) = relock(&self.files).get(rel)
            && k.key == Some(key)
        {
            return Ok(Some(k.clone()));
        }
        let Some(bytes) = self.read_bytes(rel)? else {
            return Ok(None);
        };
        let known = Arc::new(self.absorb(rel, Some(key), bytes));
        relock(&self.files).insert(rel.to_string(), known.clone());
        Ok(Some(known))
    }

    /// `bytes` (just read from `rel`) as a [`Known`], reusing what was known: the same
    /// parse if the bytes are unchanged, the known parse extended by the appended lines
    /// if they were only appended to, else a full parse. Takes the old entry out of the
    /// cache (the caller puts the new one back, or owns the document).
    fn absorb(&self, rel: &str, key: Option<CacheKey>, bytes: Vec<u8>) -> Known {
        let prev = relock(&self.files).remove(rel);
        let prev = prev.map(|k| Arc::try_unwrap(k).unwrap_or_else(|k| k.shallow()));
        let (doc, info, lines) = match prev {
            Some(p) if p.bytes == bytes => (p.doc, p.info, p.lines),
            Some(p) if !p.bytes.is_empty() && bytes.starts_with(&p.bytes) => {
                let tail = &bytes[p.bytes.len()..];
                let lines = p.lines + newlines(tail);
                let max_m = p.info.max_m;
                let old = Arc::try_unwrap(p.doc).unwrap_or_else(|d| (*d).clone());
                // Ids above the highest one known cannot be in the file yet.
                let fresh = |id: &str| m_number(id).is_some_and(|n| n > max_m);
                match old.extended(p.lines, tail, fresh) {
                    Some(doc) => {
                        self.parsed_tail.fetch_add(1, Ordering::Relaxed);
                        let mut info = Arc::try_unwrap(p.info).unwrap_or_else(|i| (*i).clone());
                        info.add(doc.entries().skip(info.entries));
                        (Arc::new(doc), Arc::new(info), lines)
                    }
                    None => self.parsed(&bytes),
                }
            }
            _ => self.parsed(&bytes),
        };
        Known {
            key,
            bytes,
            lines,
            doc,
            info,
        }
    }

    /// Parse a topic file for reading (an empty document if it does not exist), re-reading
    /// it only if its stat key changed.
    pub(crate) fn load_shared(&self, rel: &str) -> Result<Arc<Document>> {
        Ok(self.known(rel)?.map(|k| k.doc.clone()).unwrap_or_default())
    }

    /// Load a topic file for changing it: always its current bytes, whatever the stat key
    /// says. Call under the lock; hand the document back with `save`.
    pub(super) fn load_for_write(&self, rel: &str) -> Result<Document> {
        let key = self.stat(rel)?;
        let Some(bytes) = self.read_bytes(rel)? else {
            relock(&self.files).remove(rel);
            return Ok(Document::default());
        };
        let known = self.absorb(rel, key, bytes);
        Ok(Arc::try_unwrap(known.doc).unwrap_or_else(|d| (*d).clone()))
    }

    /// The current bytes of a topic file and their parse, whatever the stat key says
    /// (`None` if it does not exist).
    pub(super) fn load_exact(&self, rel: &str) -> Result<Option<Arc<Known>>> {
        let key = self.stat(rel)?;
        let Some(bytes) = self.read_bytes(rel)? else {
            return Ok(None);
        };
        let known = Arc::new(self.absorb(rel, key, bytes));
        relock(&self.files).insert(rel.to_string(), known.clone());
        Ok(Some(known))
    }

    /// Write a document (markers refreshed) and remember it as known.
    pub(super) fn save(&self, rel: &str, doc: &mut Document) -> Result<()> {
        let now = self.now();
        let policy = &self.cfg.staleness;
        doc.refresh_markers(|e| policy.note(e, now));
        let text = doc.render();
        let path = self.abs(rel);
        write_atomic(&path, text.as_bytes(), self.cfg.sync)?;
        let key = self.stat(rel)?;
        let info = Arc::new(TopicInfo::of(doc));
        // Keep the document in the form a re-parse of `text` would give.
        let saved = std::mem::take(doc).into_saved(&text);
        let known = Known {
            key,
            lines: newlines(text.as_bytes()),
            bytes: text.into_bytes(),
            doc: Arc::new(saved),
            info,
        };
        relock(&self.files).insert(rel.to_string(), Arc::new(known));
        Ok(())
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

    /// Topic files (relative paths, sorted) and what the index needs about them, re-reading
    /// only files whose stat key changed since last time.
    pub(crate) fn scan(&self) -> Result<Vec<(String, Arc<TopicInfo>)>> {
        let mut files = Vec::new();
        self.walk_topics(&self.root, "", &mut files)?;
        files.sort();
        let mut out = Vec::with_capacity(files.len());
        for rel in files {
            if let Some(k) = self.known(&rel)? {
                out.push((rel, k.info.clone()));
            }
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

    /// Relative paths of the knowledge documents (`.md`, `.txt`), sorted.
    fn knowledge_files(&self) -> Result<Vec<(String, PathBuf)>> {
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
                    let rel = path
                        .strip_prefix(&self.root)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .to_string();
                    out.push((rel, path));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// `(path, title, text)` of every knowledge document.
    pub(crate) fn knowledge_docs(&self) -> Result<Vec<(String, String, String)>> {
        let mut out = Vec::new();
        for (rel, path) in self.knowledge_files()? {
            let bytes = fs::read(&path).map_err(|e| MemoryError::io(&path, e))?;
            let body = String::from_utf8_lossy(&bytes).to_string();
            out.push((rel.clone(), title_of(&rel, &body), body));
        }
        Ok(out)
    }

    /// `(path, title)` of every knowledge document, read again only when changed.
    pub(super) fn knowledge_titles(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for (rel, path) in self.knowledge_files()? {
            let md = fs::metadata(&path).map_err(|e| MemoryError::io(&path, e))?;
            let key = cache_key(&md);
            let cached = relock(&self.titles)
                .get(&rel)
                .filter(|(k, _)| *k == key)
                .map(|(_, t)| t.clone());
            let title = match cached {
                Some(t) => t,
                None => {
                    let bytes = fs::read(&path).map_err(|e| MemoryError::io(&path, e))?;
                    let title = title_of(&rel, &String::from_utf8_lossy(&bytes));
                    relock(&self.titles).insert(rel.clone(), (key, title.clone()));
                    title
                }
            };
            out.push((rel, title));
        }
        Ok(out)
    }

    /// Remove what crashed writers left: temp files and folders (any depth).
    pub(crate) fn remove_temp_files(&self, dir: &Path) -> Result<()> {
        let Ok(rd) = fs::read_dir(dir) else {
            return Ok(());
        };
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().to_string();
            let path = ent.path();
            let is_dir = ent.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if name.starts_with(TEMP_PREFIX) || name.starts_with(LEGACY_TEMP_PREFIX) {
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

impl Core {
    /// A full parse of `bytes`, its info and its number of lines.
    fn parsed(&self, bytes: &[u8]) -> (Arc<Document>, Arc<TopicInfo>, usize) {
        self.parsed_whole.fetch_add(1, Ordering::Relaxed);
        let doc = Document::parse_bytes(bytes);
        let info = Arc::new(TopicInfo::of(&doc));
        (Arc::new(doc), info, newlines(bytes))
    }
}

impl Known {
    /// A copy sharing the parse (when another thread still holds the original).
    fn shallow(&self) -> Known {
        Known {
            key: self.key,
            bytes: self.bytes.clone(),
            lines: self.lines,
            doc: self.doc.clone(),
            info: self.info.clone(),
        }
    }
}

/// A document's title: its first non-empty line that is not a comment, without `#`s, else
/// its file name.
fn title_of(rel: &str, body: &str) -> String {
    body.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("<!--"))
        .map(|l| l.trim_start_matches('#').trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| rel.rsplit('/').next().unwrap_or(rel).to_string())
}

/// Number of `\n` bytes, counted in chunks small enough for byte-wide counters (which the
/// compiler vectorizes; a plain filter-count does not, and showed in profiles).
fn newlines(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|c| c.iter().fold(0u8, |n, b| n + u8::from(*b == b'\n')) as usize)
        .sum()
}

fn cache_key(md: &fs::Metadata) -> CacheKey {
    (md.ino(), md.len(), md.mtime(), md.mtime_nsec())
}

pub(super) fn m_number(id: &str) -> Option<u64> {
    id.strip_prefix("m-")?.parse().ok()
}
