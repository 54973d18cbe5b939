//! The lenient line parser behind [`Document::parse`], and the metadata comment syntax.

use std::collections::HashMap;

use super::document::{Block, Document};
use super::{Entry, Issue, MARKER, Meta, Status, derived_id};
use crate::clock::Timestamp;

/// A code fence: its character and run length.
type Fence = (char, usize);

#[derive(Default)]
pub(super) struct Parser {
    pub(super) doc: Document,
    fence: Option<(char, usize)>,
    fence_line: usize,
    in_comment: bool,
    current: Option<(Entry, String, Option<Fence>)>,
    pending_meta: Option<(String, Meta, String, usize)>,
}

impl Parser {
    pub(super) fn line(&mut self, raw: &str, no: usize) {
        let line = raw.trim_end_matches(['\n', '\r']);
        // Continuation of the current item.
        if let Some((entry, text, cont_fence)) = &mut self.current {
            let indented = line.starts_with([' ', '\t']) && !line.trim().is_empty();
            if cont_fence.is_some() || indented {
                match (*cont_fence, fence_marker(line)) {
                    (None, Some(f)) => *cont_fence = Some(f),
                    (Some(open), Some(f)) if closes(open, f, line) => *cont_fence = None,
                    _ => {}
                }
                entry.continuation.push(line.to_string());
                text.push_str(raw);
                return;
            }
            self.flush_entry();
        }
        let pending = self.pending_meta.take();
        if let Some((c, n)) = self.fence {
            if let Some(f) = fence_marker(line)
                && closes((c, n), f, line)
            {
                self.fence = None;
            }
            self.push_pending_raw(pending);
            self.raw(raw);
            return;
        }
        if self.in_comment {
            self.in_comment = ends_in_comment(line, true);
            self.push_pending_raw(pending);
            self.raw(raw);
            return;
        }
        if let Some(f) = fence_marker(line) {
            self.fence = Some(f);
            self.fence_line = no;
            self.push_pending_raw(pending);
            self.raw(raw);
            return;
        }
        if let Some(body) = ["- ", "* ", "+ "].iter().find_map(|b| line.strip_prefix(b)) {
            self.entry(raw, body, no, pending);
            return;
        }
        self.push_pending_raw(pending);
        let trimmed = line.trim();
        if trimmed.starts_with("<!--") && trimmed.ends_with("-->") {
            if let Some((id, meta)) = parse_meta(trimmed) {
                self.pending_meta = Some((id, meta, raw.to_string(), no));
                return;
            }
            if looks_like_meta(trimmed) {
                self.issue(no, "malformed metadata comment");
            }
        }
        self.raw(raw);
        self.track_comment(line);
    }

    fn entry(
        &mut self,
        raw: &str,
        body: &str,
        no: usize,
        pending: Option<(String, Meta, String, usize)>,
    ) {
        let mut text = body.trim().to_string();
        let mut found: Option<(String, Meta)> = None;
        if let Some(pos) = text.rfind("<!--") {
            let comment = &text[pos..];
            if let Some(m) = parse_meta(comment.trim_end()) {
                found = Some(m);
                text = text[..pos].trim_end().to_string();
            } else if looks_like_meta(comment) {
                self.issue(no, "malformed metadata comment");
            }
        }
        let mut raw_text = String::new();
        let mut line = no;
        if found.is_none() {
            if let Some((id, meta, praw, pno)) = pending {
                found = Some((id, meta));
                raw_text.push_str(&praw);
                line = pno + 1;
            }
        } else {
            self.push_pending_raw(pending);
        }
        raw_text.push_str(raw);
        let has_meta = found.is_some();
        let mut marker = None;
        if has_meta && let Some(i) = text.rfind(MARKER) {
            marker = Some(text[i + MARKER.len()..].trim().to_string());
            text.truncate(i);
        }
        // Items without metadata get their id in `finish`, once every explicit id is known.
        let (id, meta) = found.unwrap_or_default();
        let entry = Entry {
            id,
            text,
            continuation: Vec::new(),
            has_meta,
            meta,
            line,
            marker,
        };
        self.current = Some((entry, raw_text, None));
        // An item line that opens a comment it does not close.
        if ends_in_comment(body, false) {
            self.flush_entry();
            self.in_comment = true;
        }
    }

    fn track_comment(&mut self, line: &str) {
        self.in_comment = ends_in_comment(line, false);
    }

    fn push_pending_raw(&mut self, pending: Option<(String, Meta, String, usize)>) {
        if let Some((_, _, raw, _)) = pending {
            self.raw(&raw);
        }
    }

    fn raw(&mut self, raw: &str) {
        match self.doc.blocks.last_mut() {
            Some(Block::Raw(r)) => r.push_str(raw),
            _ => self.doc.blocks.push(Block::Raw(raw.to_string())),
        }
    }

    fn flush_entry(&mut self) {
        if let Some((entry, raw, _)) = self.current.take() {
            self.doc.blocks.push(Block::Entry {
                entry,
                raw: Some(raw),
            });
        }
    }

    fn issue(&mut self, line: usize, message: &str) {
        self.doc.issues.push(Issue {
            line,
            message: message.to_string(),
        });
    }

    /// Items without metadata get `h-<hash of text>`, then `-2`, `-3`… for repeats. An item
    /// that got metadata with its derived id still counts as an occurrence, so the ids of
    /// the items after it do not shift; ids taken explicitly are skipped.
    fn assign_derived_ids(&mut self) {
        if self.doc.entries().all(|e| e.has_meta) {
            return;
        }
        // Derived ids all start with `h-`: only such explicit ids can be taken or counted.
        let explicit: std::collections::HashSet<String> = self
            .doc
            .entries()
            .filter(|e| e.has_meta && e.id.starts_with("h-"))
            .map(|e| e.id.clone())
            .collect();
        let mut count: HashMap<String, usize> = HashMap::new();
        for b in &mut self.doc.blocks {
            let Block::Entry { entry, .. } = b else {
                continue;
            };
            if entry.has_meta && !entry.id.starts_with("h-") {
                continue;
            }
            let base = derived_id(&entry.text);
            if entry.has_meta {
                if entry.id == base
                    || entry
                        .id
                        .strip_prefix(base.as_str())
                        .is_some_and(|r| r.starts_with('-'))
                {
                    *count.entry(base).or_insert(0) += 1;
                }
                continue;
            }
            let n = count.entry(base.clone()).or_insert(0);
            loop {
                *n += 1;
                let id = if *n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                };
                if !explicit.contains(&id) {
                    entry.id = id;
                    break;
                }
            }
        }
    }

    pub(super) fn finish(mut self) -> Document {
        if let Some((_, _, Some((c, n)))) = &self.current {
            self.doc.unclosed = Some(std::iter::repeat_n(*c, *n).collect());
        }
        self.flush_entry();
        let pending = self.pending_meta.take();
        self.doc.open_end = pending.is_some()
            || self.in_comment
            || self.fence.is_some()
            || self.doc.unclosed.is_some();
        self.push_pending_raw(pending);
        if let Some((c, n)) = self.fence {
            self.issue(self.fence_line, "unclosed code fence");
            self.doc.unclosed = Some(std::iter::repeat_n(c, n).collect());
        } else if self.in_comment && self.doc.unclosed.is_none() {
            self.doc.unclosed = Some("-->".into());
        }
        self.assign_derived_ids();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut dups = Vec::new();
        for e in self.doc.entries() {
            if let Some(prev) = seen.insert(&e.id, e.line) {
                dups.push(Issue {
                    line: e.line,
                    message: format!("duplicate id {} (also on line {prev})", e.id),
                });
            }
        }
        self.doc.issues.extend(dups);
        self.doc
    }
}

/// Whether an HTML comment is open at the end of `line`, given whether one was open at its
/// start.
pub(super) fn ends_in_comment(line: &str, mut open: bool) -> bool {
    let mut rest = line;
    loop {
        let token = if open { "-->" } else { "<!--" };
        match rest.find(token) {
            Some(i) => {
                rest = &rest[i + token.len()..];
                open = !open;
            }
            None => return open,
        }
    }
}

/// Whether fence marker `f` on `line` closes the fence `open`.
fn closes(open: (char, usize), f: (char, usize), line: &str) -> bool {
    f.0 == open.0 && f.1 >= open.1 && line.trim_start().trim_start_matches(f.0).trim().is_empty()
}

/// `(fence char, run length)` if the line opens or closes a code fence.
fn fence_marker(line: &str) -> Option<(char, usize)> {
    let t = line.trim_start_matches(' ');
    if line.len() - t.len() > 3 {
        return None;
    }
    for c in ['`', '~'] {
        let n = t.chars().take_while(|x| *x == c).count();
        if n >= 3 {
            return Some((c, n));
        }
    }
    None
}

fn looks_like_meta(comment: &str) -> bool {
    let t = comment.trim_start_matches("<!--").trim_start();
    let mut chars = t.chars();
    matches!((chars.next(), chars.next()), (Some('m'), Some('-'))) && t.contains('=')
}

/// Parse `<!-- id key=value key="quoted value" -->`.
pub fn parse_meta(comment: &str) -> Option<(String, Meta)> {
    let inner = comment.strip_prefix("<!--")?.strip_suffix("-->")?.trim();
    let mut toks = Tokens { s: inner };
    let id = toks.next_word()?;
    let valid_id = id.split_once('-').is_some_and(|(a, b)| {
        !a.is_empty()
            && a.chars().all(|c| c.is_ascii_alphabetic())
            && !b.is_empty()
            && b.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if !valid_id || id.contains('=') {
        return None;
    }
    let mut meta = Meta::default();
    while let Some((k, v)) = toks.next_pair()? {
        match k.as_str() {
            "created" => meta.created = Timestamp::parse(&v),
            "updated" => meta.updated = Timestamp::parse(&v),
            "verified" => meta.verified = Timestamp::parse(&v),
            "source" => meta.source = Some(v),
            "status" => meta.status = Status::parse(&v),
            "note" => meta.note = Some(v),
            "by" => meta.superseded_by = Some(v),
            "conflicts" => {
                meta.conflicts = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            _ => meta.extra.push((k, v)),
        }
    }
    Some((id.to_string(), meta))
}

struct Tokens<'a> {
    s: &'a str,
}

impl<'a> Tokens<'a> {
    fn next_word(&mut self) -> Option<&'a str> {
        let s = self.s.trim_start();
        if s.is_empty() {
            return None;
        }
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        self.s = &s[end..];
        Some(&s[..end])
    }

    /// `Some(None)` at the end, `None` on malformed input.
    fn next_pair(&mut self) -> Option<Option<(String, String)>> {
        let s = self.s.trim_start();
        if s.is_empty() {
            return Some(None);
        }
        let eq = s.find('=')?;
        let key = &s[..eq];
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return None;
        }
        let rest = &s[eq + 1..];
        if let Some(q) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.push(chars.next()?.1),
                    '"' => {
                        self.s = &q[i + 1..];
                        return Some(Some((key.to_string(), value)));
                    }
                    c => value.push(c),
                }
            }
            None
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            self.s = &rest[end..];
            Some(Some((key.to_string(), rest[..end].to_string())))
        }
    }
}
