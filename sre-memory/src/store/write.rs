//! Every change to the memory: group-committed appends, whole-file writes with a version
//! check, entry updates that keep both versions on conflict, deprecate, supersede,
//! resolve, verify, forget, marker refresh and ingestion. Each runs under the store lock.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use crate::atomic::write_atomic;
use crate::clock::Timestamp;
use crate::error::{MemoryError, Result};
use crate::format::{Document, Entry, Status, hex, sanitize_text};

use super::files::Core;
use super::{KNOWLEDGE_DIR, STATE_DIR, TopicFile, UpdateOutcome, slug};

type Slot = Arc<Mutex<Option<Result<String>>>>;

/// An append waiting for the store lock; whoever holds it next writes it.
#[derive(Debug)]
pub(crate) struct Pending {
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

pub(super) fn version_of(bytes: &[u8]) -> String {
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

impl Core {
    pub(crate) fn new_document(&self, rel: &str) -> Document {
        let mut doc = Document::default();
        doc.push_raw(&format!(
            "# {}\n\n",
            title_case(rel.trim_end_matches(".md"))
        ));
        doc
    }

    pub(crate) fn next_id(&self) -> Result<String> {
        Ok(format!("m-{}", self.next_ids(1)?))
    }

    /// Reserve `k` consecutive ids; returns the first number. Call under the lock. The
    /// counter file is a hint: the highest id in the files wins if it is lost or garbled,
    /// so it is overwritten in place (one small write at offset 0, fixed width) rather
    /// than replaced.
    pub(crate) fn next_ids(&self, k: u64) -> Result<u64> {
        let path = self.root.join(STATE_DIR).join("next-id");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| MemoryError::io(&path, e))?;
        let mut text = String::new();
        let stored: u64 = match file.read_to_string(&mut text) {
            Ok(_) => text.trim().parse().unwrap_or(0),
            Err(_) => 0,
        };
        let scanned = self.scan()?.iter().map(|(_, i)| i.max_m).max().unwrap_or(0) + 1;
        let n = stored.max(scanned);
        file.write_all_at(format!("{:020}\n", n + k).as_bytes(), 0)
            .map_err(|e| MemoryError::io(&path, e))?;
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

    pub(crate) fn commit_appends(&self, batch: &[Pending]) -> Result<()> {
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

    /// A topic file with the version a whole-file write must state.
    pub(crate) fn read(&self, rel: &str) -> Result<TopicFile> {
        Ok(match self.load_exact(rel)? {
            Some(known) => TopicFile {
                path: rel.to_string(),
                version: version_of(&known.bytes),
                document: (*known.doc).clone(),
            },
            None => TopicFile {
                path: rel.to_string(),
                version: String::new(),
                document: Document::default(),
            },
        })
    }

    pub(crate) fn write(&self, topic: &str, content: &str, expected: &str) -> Result<String> {
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
        for (rel, _) in self.scan()? {
            if self.load_shared(&rel)?.get(id).is_some() {
                return Ok(rel);
            }
        }
        Err(MemoryError::NotFound(format!("memory entry `{id}`")))
    }

    /// Run `f` on the entry `id` under the lock and save its file.
    pub(crate) fn modify<T>(
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

    pub(crate) fn update(
        &self,
        id: &str,
        text: &str,
        expected: &str,
        source: &str,
    ) -> Result<UpdateOutcome> {
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

    pub(crate) fn deprecate(&self, id: &str, note: &str, _source: &str) -> Result<()> {
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

    pub(crate) fn supersede(&self, id: &str, fact: &str, source: &str) -> Result<String> {
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

    pub(crate) fn resolve(&self, winner: &str, loser: &str, source: &str) -> Result<()> {
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

    pub(crate) fn verify(&self, id: &str, _source: &str) -> Result<()> {
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
        let by_id = self.find(sel).is_ok();
        for (rel, _) in self.scan()? {
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

    pub(crate) fn refresh_markers(&self) -> Result<Vec<String>> {
        let _g = self.lock()?;
        let now = self.now();
        let mut changed = Vec::new();
        let policy = &self.cfg.staleness;
        for (rel, _) in self.scan()? {
            let Some(current) = self.load_exact(&rel)? else {
                continue;
            };
            let stale = current
                .doc
                .entries()
                .any(|e| e.has_meta && policy.note(e, now) != e.marker);
            if stale {
                drop(current);
                let mut doc = self.load_for_write(&rel)?;
                self.save(&rel, &mut doc)?;
                changed.push(rel);
            }
        }
        self.sync_index()?;
        Ok(changed)
    }

    pub(crate) fn ingest(&self, name: &str, content: &str) -> Result<String> {
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
}
