//! Reading the memory: search, the review view, strict checks, and the index.

use std::fs;

use sre_core::MemoryHit;

use crate::atomic::write_atomic;
use crate::clock::Timestamp;
use crate::error::{MemoryError, Result};
use crate::index::{KnowledgeLine, TopicLine, render_index};
use crate::staleness::ReviewItem;

use super::INDEX_FILE;
use super::files::Core;

impl Core {
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

    pub(crate) fn review(&self) -> Result<Vec<ReviewItem>> {
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

    pub(crate) fn check(&self) -> Result<Vec<MemoryError>> {
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
                summary: i.summary(),
            })
            .collect())
    }

    /// Render the index from the files; rewrite `index.md` if it differs. Call under lock.
    pub(crate) fn sync_index(&self) -> Result<String> {
        let topics = self.topic_lines()?;
        let knowledge: Vec<KnowledgeLine> = self
            .knowledge_titles()?
            .into_iter()
            .map(|(path, title)| KnowledgeLine { path, title })
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
}
