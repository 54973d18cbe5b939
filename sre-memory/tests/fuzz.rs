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
        let n = reparsed.entries().count();
        assert!(n >= 1, "case {case}");
        assert_eq!(
            Document::parse(&reparsed.render()).render(),
            reparsed.render()
        );
    }
}
