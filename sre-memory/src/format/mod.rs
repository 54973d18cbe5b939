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

mod document;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::clock::Timestamp;

pub use document::Document;
pub use parse::parse_meta;

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
