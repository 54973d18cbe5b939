//! The Markdown file format: parsing topic files into entries and rendering them back.
//!
//! An entry is a top-level list item (`- `, `* ` or `+ ` at column 0) plus its indented
//! continuation lines. Its metadata is a compact HTML comment at the end of the item's
//! first line, or alone on the line just before it:
//!
//! ```text
//! - Checkout pods use pool size 20. <!-- m-17 created=2026-11-01T10:00:00Z updated=2026-11-01T10:00:00Z source=user verified=2026-11-01T10:00:00Z status=active -->
//! ```
//!
//! Items without metadata are entries too; their id (`h-1a2b3c4d`) is derived from their
//! text, so it is stable as long as the text is. Everything that is not an entry (headings,
//! prose, code fences, comments) is kept byte for byte, and so are entries nobody changed:
//! the parser is lenient (it never fails; what looks wrong is listed in
//! [`Document::issues`]) and rendering an unchanged document gives back its exact text.
//!
//! When an entry is stale or contradicted, a marker (` ⚠ verified 43 days ago`) is
//! rendered between its text and its metadata so the agent sees it with plain file tools;
//! the parser strips it again.

use std::collections::HashMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::clock::Timestamp;

/// Separator between an entry's text and its rendered staleness marker.
pub const MARKER: &str = " ⚠ ";

/// Lifecycle of an entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Status {
    /// Current.
    #[default]
    Active,
    /// No longer true (see [`Meta::note`]).
    Deprecated,
    /// Replaced by another entry (see [`Meta::superseded_by`]).
    Superseded,
    /// A status this version does not know, kept as written.
    Other(String),
}

impl Status {
    fn parse(s: &str) -> Status {
        match s {
            "active" => Status::Active,
            "deprecated" => Status::Deprecated,
            "superseded" => Status::Superseded,
            other => Status::Other(other.to_string()),
        }
    }

    /// The word written in the metadata.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Active => "active",
            Status::Deprecated => "deprecated",
            Status::Superseded => "superseded",
            Status::Other(s) => s,
        }
    }
}

/// Provenance and lifecycle of an entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// When it was written.
    pub created: Option<Timestamp>,
    /// When its text or status last changed.
    pub updated: Option<Timestamp>,
    /// Who wrote it: a session id or `user`.
    pub source: Option<String>,
    /// When someone last confirmed it is still true.
    pub verified: Option<Timestamp>,
    /// Lifecycle.
    pub status: Status,
    /// Why it was deprecated.
    pub note: Option<String>,
    /// The entry that replaced it.
    pub superseded_by: Option<String>,
    /// Entries it conflicts with (a concurrent update kept both versions).
    pub conflicts: Vec<String>,
    /// Keys this version does not know, kept as written.
    pub extra: Vec<(String, String)>,
}

/// One fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `m-17`, or a derived `h-…` id for items written without metadata.
    pub id: String,
    /// The item's first line, without bullet, marker and metadata.
    pub text: String,
    /// Further lines of the item, as written (without line endings).
    pub continuation: Vec<String>,
    /// Whether the item carried metadata.
    pub has_meta: bool,
    /// The metadata (defaults when the item had none).
    pub meta: Meta,
    /// 1-based line of the item in its file.
    pub line: usize,
    /// The marker text as found in the file (without the ` ⚠ ` separator).
    pub marker: Option<String>,
}

impl Entry {
    /// A new entry with metadata.
    pub fn new(id: impl Into<String>, text: &str, source: &str, now: Timestamp) -> Entry {
        Entry {
            id: id.into(),
            text: sanitize_text(text),
            continuation: Vec::new(),
            has_meta: true,
            meta: Meta {
                created: Some(now),
                updated: Some(now),
                source: Some(source.to_string()),
                verified: Some(now),
                ..Meta::default()
            },
            line: 0,
            marker: None,
        }
    }

    /// The full text: first line and continuation lines, trimmed, joined by newlines.
    pub fn full_text(&self) -> String {
        let mut out = self.text.clone();
        for c in &self.continuation {
            out.push('\n');
            out.push_str(c.trim());
        }
        out
    }

    /// A content hash of what an update can change (text, status, links). Writers state it
    /// to update the entry; timestamps and markers are not part of it.
    pub fn version(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.id.as_str(),
            &self.full_text(),
            self.meta.status.as_str(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.update(self.meta.superseded_by.as_deref().unwrap_or("").as_bytes());
        h.update([0]);
        h.update(self.meta.conflicts.join(",").as_bytes());
        hex(&h.finalize()[..8])
    }

    /// Whether the entry is active (not deprecated or superseded).
    pub fn is_active(&self) -> bool {
        matches!(self.meta.status, Status::Active)
    }

    /// When the entry was last confirmed: `verified`, else `updated`, else `created`.
    pub fn last_verified(&self) -> Option<Timestamp> {
        self.meta
            .verified
            .or(self.meta.updated)
            .or(self.meta.created)
    }

    /// The canonical rendering of the entry (one item, metadata on its first line).
    pub fn render(&self, eol: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + 160);
        out.push_str("- ");
        out.push_str(&self.text);
        if let Some(m) = &self.marker {
            out.push_str(MARKER);
            out.push_str(m);
        }
        out.push_str(" <!-- ");
        out.push_str(&self.id);
        let m = &self.meta;
        let mut kv = |k: &str, v: &str| {
            out.push(' ');
            out.push_str(k);
            out.push('=');
            push_value(&mut out, v);
        };
        if let Some(t) = m.created {
            kv("created", &t.to_string());
        }
        if let Some(t) = m.updated {
            kv("updated", &t.to_string());
        }
        if let Some(s) = &m.source {
            kv("source", s);
        }
        if let Some(t) = m.verified {
            kv("verified", &t.to_string());
        }
        kv("status", m.status.as_str());
        if let Some(by) = &m.superseded_by {
            kv("by", by);
        }
        if !m.conflicts.is_empty() {
            kv("conflicts", &m.conflicts.join(","));
        }
        if let Some(n) = &m.note {
            kv("note", n);
        }
        for (k, v) in &m.extra {
            kv(k, v);
        }
        out.push_str(" -->");
        out.push_str(eol);
        for c in &self.continuation {
            out.push_str(c);
            out.push_str(eol);
        }
        out
    }
}

/// Something odd the lenient parser noticed (1-based line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// 1-based line.
    pub line: usize,
    /// What looks wrong.
    pub message: String,
}

// Entries are the common case; boxing them would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Block {
    Raw(String),
    Entry { entry: Entry, raw: Option<String> },
}

/// A parsed topic file.
#[derive(Clone, Debug, Default)]
pub struct Document {
    blocks: Vec<Block>,
    /// Whether the file uses CRLF line endings (new lines are written the same way).
    pub crlf: bool,
    /// What looked wrong while parsing.
    pub issues: Vec<Issue>,
    /// Text that closes a code fence or comment left open at the end of the file; written
    /// before appending so new entries are not swallowed by it.
    unclosed: Option<String>,
}

impl Document {
    /// Parse bytes; invalid UTF-8 is replaced by U+FFFD (and reported as an issue).
    pub fn parse_bytes(bytes: &[u8]) -> Document {
        match std::str::from_utf8(bytes) {
            Ok(s) => Document::parse(s),
            Err(e) => {
                let text = String::from_utf8_lossy(bytes);
                let mut doc = Document::parse(&text);
                let line = bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1;
                doc.issues.push(Issue {
                    line,
                    message: "invalid UTF-8 (replaced by U+FFFD)".into(),
                });
                doc
            }
        }
    }

    /// Parse text. Never fails.
    pub fn parse(text: &str) -> Document {
        let mut p = Parser::default();
        p.doc.crlf = text.contains("\r\n");
        let mut line_no = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let end = rest.find('\n').map(|i| i + 1).unwrap_or(rest.len());
            let (raw, tail) = rest.split_at(end);
            rest = tail;
            line_no += 1;
            p.line(raw, line_no);
        }
        p.finish()
    }

    /// The entries, in file order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Entry { entry, .. } => Some(entry),
            Block::Raw(_) => None,
        })
    }

    /// The entry with this id.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries().find(|e| e.id == id)
    }

    /// The entry with this id, for changing; it will be rendered canonically.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Entry> {
        self.blocks.iter_mut().find_map(|b| match b {
            Block::Entry { entry, raw } if entry.id == id => {
                *raw = None;
                entry.has_meta = true;
                Some(entry)
            }
            _ => None,
        })
    }

    /// Append an entry at the end of the file (closing a code fence or comment left open
    /// at the end first, so the entry stays an entry).
    pub fn push(&mut self, entry: Entry) {
        // A changed entry whose text opened a comment now ends with our metadata, which
        // closes it: what follows may read differently, so recompute what is left open.
        let reshaped = self.blocks.iter().any(|b| matches!(b, Block::Entry { entry, raw: None } if ends_in_comment(&entry.text, false)));
        if reshaped {
            self.unclosed = Document::parse(&self.render()).unclosed;
        }
        self.ensure_trailing_newline();
        if let Some(close) = self.unclosed.take() {
            let eol = self.eol();
            self.blocks.push(Block::Raw(format!("{close}{eol}")));
        }
        self.blocks.push(Block::Entry { entry, raw: None });
    }

    /// The document as re-parsing `rendered` (its own rendering) would give it: changed
    /// entries keep their canonical text as raw text, and line numbers are recomputed.
    pub fn into_saved(mut self, rendered: &str) -> Document {
        let eol = self.eol();
        let mut line = 1;
        for b in &mut self.blocks {
            match b {
                Block::Raw(r) => line += r.matches('\n').count(),
                Block::Entry { entry, raw } => {
                    let text = raw.get_or_insert_with(|| entry.render(eol));
                    let before_item = text
                        .lines()
                        .take_while(|l| !l.starts_with(['-', '*', '+']))
                        .count();
                    entry.line = line + before_item;
                    line += text.matches('\n').count();
                }
            }
        }
        debug_assert_eq!(self.render(), rendered);
        self
    }

    /// Insert an entry right after the entry `after` (at the end if it is not found).
    pub fn insert_after(&mut self, after: &str, entry: Entry) {
        let pos = self
            .blocks
            .iter()
            .position(|b| matches!(b, Block::Entry { entry, .. } if entry.id == after));
        match pos {
            Some(i) => {
                if let Some(Block::Entry { raw: Some(r), .. }) = self.blocks.get(i)
                    && !r.ends_with('\n')
                {
                    self.blocks
                        .insert(i + 1, Block::Raw(self.eol().to_string()));
                    self.blocks.insert(i + 2, Block::Entry { entry, raw: None });
                    return;
                }
                self.blocks.insert(i + 1, Block::Entry { entry, raw: None })
            }
            None => self.push(entry),
        }
    }

    /// Set each entry's marker to `marker(entry)`; entries whose marker changes are
    /// re-rendered. Entries without metadata get none (there is nowhere to strip it from).
    pub fn refresh_markers(&mut self, marker: impl Fn(&Entry) -> Option<String>) {
        for b in &mut self.blocks {
            if let Block::Entry { entry, raw } = b {
                if !entry.has_meta {
                    continue;
                }
                let m = marker(entry);
                if m != entry.marker {
                    entry.marker = m;
                    *raw = None;
                }
            }
        }
    }

    /// The line ending new lines use.
    pub fn eol(&self) -> &'static str {
        if self.crlf { "\r\n" } else { "\n" }
    }

    /// Whether the document has no content at all.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Append raw text (headings, prose) at the end.
    pub fn push_raw(&mut self, text: &str) {
        self.ensure_trailing_newline();
        self.blocks.push(Block::Raw(text.to_string()));
    }

    /// The first `# ` heading, if any.
    pub fn title(&self) -> Option<String> {
        self.blocks.iter().find_map(|b| match b {
            Block::Raw(r) => r
                .lines()
                .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_string())),
            Block::Entry { .. } => None,
        })
    }

    fn ensure_trailing_newline(&mut self) {
        let eol = self.eol();
        let needs = match self.blocks.last() {
            Some(Block::Raw(r)) => !r.ends_with('\n'),
            Some(Block::Entry { raw: Some(r), .. }) => !r.ends_with('\n'),
            _ => false,
        };
        if needs {
            self.blocks.push(Block::Raw(eol.to_string()));
        }
    }

    /// The file text: unchanged parts byte for byte, changed entries canonically.
    pub fn render(&self) -> String {
        let eol = self.eol();
        let mut out = String::new();
        for b in &self.blocks {
            match b {
                Block::Raw(r) => out.push_str(r),
                Block::Entry { raw: Some(r), .. } => out.push_str(r),
                Block::Entry { entry, raw: None } => out.push_str(&entry.render(eol)),
            }
        }
        out
    }
}

/// A code fence: its character and run length.
type Fence = (char, usize);

#[derive(Default)]
struct Parser {
    doc: Document,
    fence: Option<(char, usize)>,
    fence_line: usize,
    in_comment: bool,
    current: Option<(Entry, String, Option<Fence>)>,
    pending_meta: Option<(String, Meta, String, usize)>,
}

impl Parser {
    fn line(&mut self, raw: &str, no: usize) {
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
        let explicit: std::collections::HashSet<String> = self
            .doc
            .entries()
            .filter(|e| e.has_meta)
            .map(|e| e.id.clone())
            .collect();
        let mut count: HashMap<String, usize> = HashMap::new();
        for b in &mut self.doc.blocks {
            let Block::Entry { entry, .. } = b else {
                continue;
            };
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

    fn finish(mut self) -> Document {
        if let Some((_, _, Some((c, n)))) = &self.current {
            self.doc.unclosed = Some(std::iter::repeat_n(*c, *n).collect());
        }
        self.flush_entry();
        let pending = self.pending_meta.take();
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
fn ends_in_comment(line: &str, mut open: bool) -> bool {
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

fn push_value(out: &mut String, v: &str) {
    let v = v.replace("-->", "-- >").replace(['\n', '\r'], " ");
    if !v.is_empty()
        && !v.contains(|c: char| c.is_whitespace() || c == '"' || c == '=' || c == '\\')
    {
        out.push_str(&v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Make a fact safe to store on one item line.
pub fn sanitize_text(text: &str) -> String {
    let one_line: Vec<&str> = text.split_whitespace().collect();
    one_line
        .join(" ")
        .replace("<!--", "<! --")
        .replace("-->", "-- >")
        .replace('⚠', "!")
}

/// The id of an item without metadata: `h-` and 8 hex digits of the hash of its text.
pub fn derived_id(text: &str) -> String {
    let norm: Vec<&str> = text.split_whitespace().collect();
    let digest = Sha256::digest(norm.join(" ").as_bytes());
    format!("h-{}", hex(&digest[..4]))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const SAMPLE: &str = "# Team\n\nSome prose.\n\n- Alice owns checkout. <!-- m-1 created=2026-11-01T10:00:00Z updated=2026-11-01T10:00:00Z source=user verified=2026-11-01T10:00:00Z status=active -->\n- plain bullet\n  continued here\n<!-- m-2 source=\"session 7\" status=deprecated note=\"moved to \\\"ops\\\"\" -->\n* Bob was on call.\n\n```\n- not an entry <!-- m-9 status=active -->\n<!-- unclosed in fence\n```\n- after fence\n";

    #[test]
    fn parses_entries_with_and_without_metadata() {
        let doc = Document::parse(SAMPLE);
        let e: Vec<_> = doc.entries().collect();
        assert_eq!(e.len(), 4, "{e:#?}");
        assert_eq!(e[0].id, "m-1");
        assert_eq!(e[0].text, "Alice owns checkout.");
        assert_eq!(e[0].meta.source.as_deref(), Some("user"));
        assert!(e[1].id.starts_with("h-"));
        assert_eq!(e[1].full_text(), "plain bullet\ncontinued here");
        assert_eq!(e[2].id, "m-2");
        assert_eq!(e[2].meta.status, Status::Deprecated);
        assert_eq!(e[2].meta.note.as_deref(), Some("moved to \"ops\""));
        assert_eq!(e[2].meta.source.as_deref(), Some("session 7"));
        assert_eq!(e[3].text, "after fence");
        assert_eq!(doc.render(), SAMPLE);
        assert!(doc.issues.is_empty(), "{:?}", doc.issues);
    }

    #[test]
    fn canonical_render_round_trips() {
        let mut doc = Document::parse(SAMPLE);
        let e = doc.get_mut("m-2").unwrap();
        e.meta.superseded_by = Some("m-5".into());
        e.marker = Some("superseded by m-5".into());
        let text = doc.render();
        let again = Document::parse(&text);
        let e2 = again.get("m-2").unwrap();
        assert_eq!(e2.text, "Bob was on call.");
        assert_eq!(e2.meta.superseded_by.as_deref(), Some("m-5"));
        assert_eq!(e2.marker.as_deref(), Some("superseded by m-5"));
        assert_eq!(again.render(), text);
        assert_eq!(again.entries().count(), 4);
    }

    #[test]
    fn derived_ids_are_stable_and_unique() {
        let mut doc = Document::parse("- same\n- same\n- other\n");
        let ids: Vec<_> = doc.entries().map(|e| e.id.clone()).collect();
        assert_eq!(ids[0], derived_id("same"));
        assert_eq!(ids[1], format!("{}-2", ids[0]));
        assert_ne!(ids[0], ids[2]);
        // Attaching metadata to the first keeps every id.
        doc.get_mut(&ids[0]).unwrap().meta.status = Status::Deprecated;
        let again = Document::parse(&doc.render());
        assert_eq!(
            again.entries().map(|e| e.id.clone()).collect::<Vec<_>>(),
            ids
        );
        // Even after its text changes, the second does not take the first one's id.
        let mut doc = again;
        doc.get_mut(&ids[0]).unwrap().text = "changed".into();
        let again = Document::parse(&doc.render());
        assert_eq!(
            again.entries().map(|e| e.id.clone()).collect::<Vec<_>>(),
            ids
        );
        assert!(again.issues.is_empty(), "{:?}", again.issues);
    }

    #[test]
    fn crlf_is_kept() {
        let text = "# T\r\n- a\r\n";
        let mut doc = Document::parse(text);
        assert_eq!(doc.render(), text);
        doc.push(Entry::new("m-3", "b", "user", Timestamp(0)));
        let out = doc.render();
        assert!(out.ends_with("-->\r\n"), "{out:?}");
        assert!(!out.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn unclosed_fence_is_reported_and_closed_before_appending() {
        let mut doc = Document::parse("# T\n```\n- code\n");
        assert_eq!(
            doc.issues,
            vec![Issue {
                line: 2,
                message: "unclosed code fence".into()
            }]
        );
        assert_eq!(doc.entries().count(), 0);
        doc.push(Entry::new("m-1", "fact", "user", Timestamp(0)));
        let again = Document::parse(&doc.render());
        assert_eq!(
            again.entries().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            vec!["m-1"]
        );
        assert!(again.issues.is_empty());
    }

    #[test]
    fn sanitizes_facts() {
        let e = Entry::new("m-1", "a <!-- b --> ⚠ c\nd", "user", Timestamp(0));
        let doc = Document::parse(&e.render("\n"));
        assert_eq!(doc.get("m-1").unwrap().text, e.text);
    }
}
