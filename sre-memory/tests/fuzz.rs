#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Property-style test: the entry parser never panics, and what it renders re-parses to the
//! same entries. Random inputs come from a seeded generator (reproducible; set
//! `SRE_MEMORY_FUZZ_SEED` / `SRE_MEMORY_FUZZ_CASES` to explore).

use sre_memory::{Document, Entry, Timestamp};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "- ",
    "* ",
    "+ ",
    "  ",
    "\n",
    "\r\n",
    "\r",
    "<!--",
    "-->",
    "<!-- m-1 status=active -->",
    "<!-- m-2 created=2026-01-01T00:00:00Z note=\"a \\\" b\" -->",
    "```",
    "~~~~",
    "# ",
    "m-",
    "=",
    "\"",
    "\\",
    " ⚠ ",
    "⚠",
    "status=deprecated",
    "by=m-3",
    "conflicts=m-1,m-2",
    "text",
    "é",
    "\u{0}",
    "\t",
];

fn random_input(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(60) {
        if rng.below(3) == 0 {
            for _ in 0..rng.below(8) {
                out.push(rng.next() as u8);
            }
        } else {
            out.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
        }
    }
    out
}

#[test]
fn random_bytes_never_panic_the_parser() {
    let seed: u64 = std::env::var("SRE_MEMORY_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_1234_ABCD_0001);
    let cases: usize = std::env::var("SRE_MEMORY_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let mut rng = Rng(seed);
    for case in 0..cases {
        let input = random_input(&mut rng);
        let doc = Document::parse_bytes(&input);
        let rendered = doc.render();
        // Unchanged documents render back to their (lossily decoded) text.
        assert_eq!(
            rendered,
            String::from_utf8_lossy(&input),
            "case {case}: {input:?}"
        );
        let ids: Vec<String> = doc.entries().map(|e| e.id.clone()).collect();
        let again = Document::parse(&rendered);
        assert_eq!(
            again.entries().map(|e| e.id.clone()).collect::<Vec<_>>(),
            ids,
            "case {case}"
        );

        // Changing every entry and appending one keeps the document parseable, with the
        // same entries (canonical rendering is stable).
        let mut changed = doc.clone();
        for id in &ids {
            if let Some(e) = changed.get_mut(id) {
                e.meta.note = Some("touched \"by\" fuzz -->".into());
            }
        }
        // Inserting after the last entry (what `supersede` does) keeps the new entry an
        // entry, even after an item whose continuation left a fence open.
        if let Some(last) = ids.last() {
            changed.insert_after(
                last,
                Entry::new("m-999998", "inserted", "fuzz", Timestamp(0)),
            );
        }
        changed.push(Entry::new(
            "m-999999",
            &String::from_utf8_lossy(&input),
            "fuzz",
            Timestamp(0),
        ));
        let text = changed.render();
        let reparsed = Document::parse(&text);
        assert!(
            reparsed.get("m-999999").is_some(),
            "case {case}: appended entry lost in {text:?}"
        );
        assert!(
            ids.is_empty() || reparsed.get("m-999998").is_some(),
            "case {case}: inserted entry lost in {text:?}"
        );
        let n = reparsed.entries().count();
        assert!(n >= 1, "case {case}");
        assert_eq!(
            Document::parse(&reparsed.render()).render(),
            reparsed.render()
        );
    }
}

/// Store-shaped appended lines: canonical entries with ids the prefix does not have.
fn random_tail(rng: &mut Rng, eol: &str) -> String {
    let mut tail = String::new();
    for j in 0..1 + rng.below(3) {
        let text = String::from_utf8_lossy(&random_input(rng)).to_string();
        let id = format!("m-{}", 1_000_000 + rng.below(1000) * 4 + j);
        tail.push_str(&Entry::new(id, &format!("t{text}"), "fuzz", Timestamp(0)).render(eol));
    }
    // Sometimes more than a store would append.
    if rng.below(4) == 0 {
        tail.push_str(&String::from_utf8_lossy(&random_input(rng)));
    }
    tail
}

/// Entries, rendering and issues (as a set: their order may differ) of two parses.
fn assert_same(extended: &Document, whole: &Document, case: usize) {
    assert_eq!(
        extended.entries().collect::<Vec<_>>(),
        whole.entries().collect::<Vec<_>>(),
        "case {case}"
    );
    assert_eq!(extended.render(), whole.render(), "case {case}");
    assert_eq!(extended.crlf, whole.crlf, "case {case}");
    let key = |d: &Document| {
        let mut v: Vec<_> = d
            .issues
            .iter()
            .map(|i| (i.line, i.message.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(extended), key(whole), "case {case}");
}

#[test]
fn an_appended_tail_parses_like_the_whole_file() {
    let seed: u64 = std::env::var("SRE_MEMORY_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_1234_ABCD_0002);
    let cases: usize = std::env::var("SRE_MEMORY_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000);
    let mut rng = Rng(seed);
    let (mut fast_parsed, mut fast_saved) = (0, 0);
    for case in 0..cases {
        let mut prefix = String::from_utf8_lossy(&random_input(&mut rng)).to_string();
        if rng.below(2) == 0 {
            prefix.push('\n');
        }
        let doc = Document::parse(&prefix);
        let eol = if rng.below(8) == 0 { "\r\n" } else { doc.eol() };
        let tail = random_tail(&mut rng, eol);
        let ids: Vec<String> = doc.entries().map(|e| e.id.clone()).collect();
        let fresh = |id: &str| !ids.iter().any(|i| i == id);
        let lines = prefix.matches('\n').count();

        // A document as parsed from the file.
        if let Some(ext) = doc.clone().extended(lines, tail.as_bytes(), fresh) {
            fast_parsed += 1;
            assert_same(&ext, &Document::parse(&(prefix.clone() + &tail)), case);
        }

        // A document as the store keeps it after its own append (`into_saved`).
        let mut saved = doc;
        saved.push(Entry::new("m-999999", "appended", "fuzz", Timestamp(0)));
        let text = saved.render();
        let saved = saved.into_saved(&text);
        let ids: Vec<String> = saved.entries().map(|e| e.id.clone()).collect();
        let fresh = |id: &str| !ids.iter().any(|i| i == id);
        let lines = text.matches('\n').count();
        let whole = Document::parse(&(text.clone() + &tail));
        if let Some(ext) = saved.extended(lines, tail.as_bytes(), fresh) {
            fast_saved += 1;
            assert_same(&ext, &whole, case);
        }
    }
    // The fast path is taken often enough to be tested.
    assert!(fast_parsed > cases / 20, "{fast_parsed} of {cases}");
    assert!(fast_saved > cases / 2, "{fast_saved} of {cases}");
}
