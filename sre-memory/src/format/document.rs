//! [`Document`]: a parsed topic file as blocks (raw text and entries), edited in place and
//! rendered back with unchanged parts byte for byte.

use std::collections::HashSet;

use super::parse::{Parser, ends_in_comment};
use super::{Entry, Issue};

// Entries are the common case; boxing them would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(super) enum Block {
    Raw(String),
    Entry { entry: Entry, raw: Option<String> },
}

/// A parsed topic file.
#[derive(Clone, Debug, Default)]
pub struct Document {
    pub(super) blocks: Vec<Block>,
    /// Whether the file uses CRLF line endings (new lines are written the same way).
    pub crlf: bool,
    /// What looked wrong while parsing.
    pub issues: Vec<Issue>,
    /// Text that closes a code fence or comment left open at the end of the file; written
    /// before appending so new entries are not swallowed by it.
    pub(super) unclosed: Option<String>,
    /// Whether text appended to the file could read differently than on its own (no
    /// final newline, a pending metadata line, an open fence or comment): then an
    /// appended tail cannot be parsed separately (see [`Document::extended`]).
    pub(super) open_end: bool,
    /// Set when an edit may make the text read differently than the blocks say (a line
    /// closing a fence or comment was added): [`Document::into_saved`] parses again.
    reparse: bool,
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
        let mut doc = p.finish();
        doc.open_end |= !(text.is_empty() || text.ends_with('\n'));
        doc
    }

    /// This document (parsed from some bytes with `lines` newlines) extended by `tail`:
    /// the entries, text and issues that parsing the bytes followed by `tail` gives,
    /// without re-parsing the bytes. Only for the shape a store append has: the document
    /// ended cleanly, `tail` starts with a list item, and every entry in it carries
    /// metadata with an id for which `fresh` says it cannot already be in the document
    /// (so no id is duplicated or derived differently). `None` when that does not hold:
    /// parse the whole file instead.
    pub fn extended(
        mut self,
        lines: usize,
        tail: &[u8],
        fresh: impl Fn(&str) -> bool,
    ) -> Option<Document> {
        if self.open_end || self.unclosed.is_some() {
            return None;
        }
        let tail = std::str::from_utf8(tail).ok()?;
        if !["- ", "* ", "+ "].iter().any(|b| tail.starts_with(b))
            || (!self.crlf && tail.contains("\r\n"))
        {
            return None;
        }
        let mut t = Document::parse(tail);
        let mut ids: HashSet<&str> = HashSet::new();
        if !t
            .entries()
            .all(|e| e.has_meta && fresh(&e.id) && ids.insert(e.id.as_str()))
        {
            return None;
        }
        // `fresh` answers for the document, not for derived ids (which all start `h-`).
        if ids.iter().any(|id| id.starts_with("h-")) {
            return None;
        }
        for b in &mut t.blocks {
            if let Block::Entry { entry, .. } = b {
                entry.line += lines;
            }
        }
        for i in &mut t.issues {
            i.line += lines;
        }
        self.blocks.append(&mut t.blocks);
        self.issues.append(&mut t.issues);
        self.unclosed = t.unclosed;
        self.open_end = t.open_end;
        Some(self)
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
        if self.reshaped() {
            self.unclosed = Document::parse(&self.render()).unclosed;
        }
        self.ensure_trailing_newline();
        if let Some(close) = self.unclosed.take() {
            let eol = self.eol();
            self.blocks.push(Block::Raw(format!("{close}{eol}")));
            // The closing line may read as the continuation of the item before it.
            self.reparse = true;
        }
        self.blocks.push(Block::Entry { entry, raw: None });
        // A canonical entry (one line, metadata closing it) ends the file cleanly.
        self.open_end = false;
    }

    /// The document as re-parsing `rendered` (its own rendering) would give it: changed
    /// entries keep their canonical text as raw text, and line numbers are recomputed.
    /// Where an edit may change how the text reads (a fence or comment closed, an item
    /// line leaving a comment open, issues whose lines moved), it is parsed again.
    pub fn into_saved(mut self, rendered: &str) -> Document {
        let eol = self.eol();
        if self.reparse || self.reshaped() || !self.issues.is_empty() {
            return Document::parse(rendered);
        }
        // A `\r` left at the end of the file and the newline added after it make a CRLF.
        self.crlf = rendered.contains("\r\n");
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

    /// Whether a changed entry's item line opened a comment it did not close: its
    /// metadata now closes it, so the lines after it may read differently than the blocks
    /// say (text that was inside the comment, a fence that was not one).
    fn reshaped(&self) -> bool {
        self.blocks.iter().any(|b| {
            matches!(b, Block::Entry { entry, raw: None } if ends_in_comment(&entry.text, false))
        })
    }

    /// Insert an entry right after the entry `after` (at the end if it is not found).
    pub fn insert_after(&mut self, after: &str, entry: Entry) {
        if self.reshaped() {
            // Read the text as it now is, so the entry lands where it will stay an entry.
            let crlf = self.crlf;
            *self = Document::parse(&self.render());
            self.crlf |= crlf;
        }
        let pos = self
            .blocks
            .iter()
            .position(|b| matches!(b, Block::Entry { entry, .. } if entry.id == after));
        match pos {
            // The last item, with a fence left open in its continuation: a line after
            // it would read as part of it, so close the fence first.
            Some(i) if i + 1 == self.blocks.len() && self.unclosed.is_some() => self.push(entry),
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
        self.open_end = true;
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
