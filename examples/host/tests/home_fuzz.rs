//! A seeded mutation fuzz of the agent-home loader: valid home files get random byte
//! flips, truncations, duplications, deletions and YAML-significant insertions; loading
//! must return (a home or errors), never panic, and stay fast.
//!
//! `HOME_FUZZ_SEED` and `HOME_FUZZ_CASES` override the seed and the number of cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sre_host::home::AgentHome;

/// splitmix64: small, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&[u8]] = &[
    b"*a",
    b"&a ",
    b"---\n",
    b": ",
    b"- ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"'",
    b"\t",
    b"\n",
    b"  ",
    b"#",
    b"!!str ",
    b"? ",
    b"|\n",
    b">-\n",
    b"~",
    b"\xff",
    b"\0",
    b"${",
    b"../",
    b"kind: ExtendedAgent\n",
    b"spec:\n",
    b"hooks:\n",
    b"- event: PostToolUse\n",
];

fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    for _ in 0..=rng.below(3) {
        let len = data.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            1 => data.truncate(rng.below(len + 1)),
            2 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let slice = data[a..b].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, slice);
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(32)).min(len);
                data.drain(a..b);
            }
            4 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                data.splice(at..at, t.iter().copied());
            }
            _ => {
                // Swap two lines.
                let text = String::from_utf8_lossy(data).into_owned();
                let mut lines: Vec<&str> = text.split('\n').collect();
                if lines.len() > 1 {
                    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                    lines.swap(a, b);
                    *data = lines.join("\n").into_bytes();
                }
            }
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

fn targets(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            targets(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "yaml" || x == "json" || x == "md" || x == "py" || x == "sh")
        {
            out.push(p);
        }
    }
}

#[test]
fn mutated_homes_load_or_fail_cleanly_without_panics() {
    let seed: u64 = std::env::var("HOME_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234);
    let cases: usize = std::env::var("HOME_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixtures.join("home_full"), tmp.path());
    copy_dir(&fixtures.join("home_skills"), tmp.path());
    assert!(AgentHome::load(tmp.path()).is_ok(), "the base home loads");
    let mut files = Vec::new();
    targets(tmp.path(), &mut files);
    files.sort();
    let originals: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();

    let mut rng = Rng(seed);
    let started = Instant::now();
    let (mut ok, mut failed, mut slowest) = (0usize, 0usize, Duration::ZERO);
    for case in 0..cases {
        let i = rng.below(files.len());
        let mut data = originals[i].clone();
        mutate(&mut rng, &mut data);
        std::fs::write(&files[i], &data).unwrap();
        let t = Instant::now();
        let result = std::panic::catch_unwind(|| AgentHome::load(tmp.path()));
        let took = t.elapsed();
        slowest = slowest.max(took);
        match result {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                assert!(!e.errors.is_empty());
                // Every error renders.
                let _ = e.to_string();
                failed += 1;
            }
            Err(panic) => {
                eprintln!(
                    "seed {seed} case {case}: loading panicked with {} mutated to:\n{}",
                    files[i].display(),
                    String::from_utf8_lossy(&data)
                );
                std::panic::resume_unwind(panic);
            }
        }
        std::fs::write(&files[i], &originals[i]).unwrap();
    }
    let total = started.elapsed();
    eprintln!(
        "{cases} cases in {total:?} ({ok} loaded, {failed} with errors), slowest {slowest:?}"
    );
    assert_eq!(ok + failed, cases);
    assert!(
        failed > cases / 10,
        "mutations should break a fair share of homes"
    );
    assert!(
        slowest < Duration::from_secs(5),
        "one load took {slowest:?}"
    );
}
