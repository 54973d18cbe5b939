//! A deterministic source-and-logs tree for the grep parity test and the bench: the same
//! bytes on every machine (a seeded xorshift generator, no clock, no environment).
//!
//! What it holds, so that each walker and searcher rule is exercised:
//! - Rust-like sources in nested crates (`crates/<c>/src/<m>/.../*.rs`), some with CRLF
//!   line ends, a few with Latin-1 bytes (invalid UTF-8);
//! - log files (`logs/<service>/<day>.log`), JSON (`data/*.json`, one minified into a
//!   single very long line), Markdown with non-ASCII text (Cyrillic, German, emoji);
//! - binary files: a NUL in the first bytes, and a NUL only after 256 KiB (matches before
//!   it are reported, after it are not);
//! - ignore rules: a `.git` folder (so `.gitignore` applies), a root `.gitignore`
//!   (`target/`, `*.tmp`), a nested `.gitignore` (`generated/`), an `.ignore` (`vendor/`),
//!   and a hidden `.cache/` folder; all of them contain matches that must not be found.

#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::Path;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "pool", "conn", "retry", "timeout", "ledger", "checkout", "cache", "queue", "shard", "lease",
    "span", "token", "batch", "cursor", "frame", "socket",
];
const DEADLOCKS: &[&str] = &["deadlock", "Deadlock", "DEADLOCK", "deadLock", "dead_lock"];

/// Size and shape of the tree.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Crates under `crates/`.
    pub crates: usize,
    /// Source files per crate.
    pub files_per_crate: usize,
    /// Lines per source file (on average).
    pub lines_per_file: usize,
    /// Log files (spread over services).
    pub log_files: usize,
    /// Lines per log file.
    pub lines_per_log: usize,
}

impl Shape {
    /// About 930 files and 12 MB: the parity test.
    pub const TEST: Shape = Shape {
        crates: 12,
        files_per_crate: 70,
        lines_per_file: 120,
        log_files: 60,
        lines_per_log: 1200,
    };
    /// About 11,300 files and 180 MB: the bench.
    pub const BENCH: Shape = Shape {
        crates: 60,
        files_per_crate: 180,
        lines_per_file: 200,
        log_files: 400,
        lines_per_log: 2000,
    };
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn source_file(rng: &mut Rng, lines: usize) -> String {
    let mut out = String::new();
    for i in 0..lines {
        let w = rng.pick(WORDS);
        let v = rng.pick(WORDS);
        match rng.below(40) {
            0 => {
                let _ = writeln!(
                    out,
                    "pub fn landlock_{w}_{v}(fd: i32) -> i32 {{ fd + {i} }}"
                );
            }
            1 => {
                let _ = writeln!(out, "fn  landlock_{w}() {{}}");
            }
            2 => {
                let _ = writeln!(out, "unsafe impl Send for {}{} {{}}", cap(w), cap(v));
            }
            3 => {
                let _ = writeln!(out, "    // TODO({w}): handle the {v} case");
            }
            4 => {
                let _ = writeln!(out, "// FIXME: {w} leaks when the {v} is dropped");
            }
            5 => out.push_str("#[non_exhaustive]\n"),
            6 => out.push_str("    #[non_exhaustive]\n"),
            7 => out.push_str("#[non_exhaustive] // not alone on its line\n"),
            8 => {
                let d = rng.pick(DEADLOCKS);
                let _ = writeln!(out, "    // avoid a {d} between {w} and {v}");
            }
            9 => {
                let _ = writeln!(out, "    let {w}_{i} = \"straße дедлок ДЕДЛОК 🚨 {w}\";");
            }
            10 => out.push_str("fn\tlandlock_tabbed() {}\n"),
            _ => {
                let _ = writeln!(
                    out,
                    "    let {w}{i} = self.{v}.get({}).map(|x| x * {});",
                    rng.below(1000),
                    rng.below(97)
                );
            }
        }
    }
    out
}

fn cap(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn log_file(rng: &mut Rng, lines: usize, service: &str) -> String {
    let mut out = String::new();
    for i in 0..lines {
        let level = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"][rng.below(6) as usize];
        let msg = match rng.below(50) {
            0 => format!("{} detected on {}", rng.pick(DEADLOCKS), rng.pick(WORDS)),
            1 => "TODO(oncall): remove this debug line".to_string(),
            2 => "fn landlock_in_a_log() was called".to_string(),
            _ => format!(
                "{} {} latency_ms={} waiters={}",
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.below(30_000),
                rng.below(40)
            ),
        };
        let _ = writeln!(
            out,
            "2026-11-24T{:02}:{:02}:{:02}.{:03}Z {level} {service} req={i} {msg}",
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60,
            rng.below(1000)
        );
    }
    out
}

/// Write the tree under `root` (which must exist and be empty).
pub fn generate(root: &Path, shape: Shape) {
    let mut rng = Rng(0x5eed_cafe_f00d_u64);
    std::fs::create_dir_all(root.join(".git")).unwrap();
    write(root, ".gitignore", b"target/\n*.tmp\n");
    write(root, ".ignore", b"vendor/\n");
    for c in 0..shape.crates {
        let krate = format!("crates/{}-{c}", rng.pick(WORDS));
        write(
            root,
            &format!("{krate}/Cargo.toml"),
            format!("[package]\nname = \"c{c}\"\n# deadlock-free\n").as_bytes(),
        );
        for f in 0..shape.files_per_crate {
            let depth = rng.below(5) as usize;
            let mut dir = format!("{krate}/src");
            for d in 0..depth {
                let _ = write!(dir, "/{}{d}", rng.pick(WORDS));
            }
            let lines = shape.lines_per_file / 2 + rng.below(shape.lines_per_file as u64) as usize;
            let mut text = source_file(&mut rng, lines);
            if f % 17 == 3 {
                text = text.replace('\n', "\r\n");
            }
            let mut bytes = text.into_bytes();
            if f % 29 == 5 {
                // Latin-1 bytes: invalid UTF-8 on a matching line.
                bytes.extend_from_slice(b"// caf\xe9 deadlock \xff\xfe\n");
            }
            write(root, &format!("{dir}/{}_{f}.rs", rng.pick(WORDS)), &bytes);
        }
        if c % 3 == 0 {
            // A nested .gitignore and the folder it hides.
            write(root, &format!("{krate}/.gitignore"), b"generated/\n");
            write(
                root,
                &format!("{krate}/generated/bindings.rs"),
                source_file(&mut rng, 200).as_bytes(),
            );
        }
    }
    let services = ["checkout", "payments", "gateway", "ledger"];
    for l in 0..shape.log_files {
        let service = services[l % services.len()];
        let text = log_file(&mut rng, shape.lines_per_log, service);
        write(
            root,
            &format!("logs/{service}/2026-11-{:02}-{l}.log", 1 + l % 28),
            text.as_bytes(),
        );
    }
    // Ignored and hidden places, all with matches.
    write(
        root,
        "target/debug/build.rs",
        source_file(&mut rng, 300).as_bytes(),
    );
    write(root, "scratch.tmp", b"fn landlock_tmp() {} deadlock\n");
    write(
        root,
        "vendor/dep/lib.rs",
        source_file(&mut rng, 300).as_bytes(),
    );
    write(
        root,
        ".cache/hidden.rs",
        source_file(&mut rng, 300).as_bytes(),
    );
    // Unicode prose.
    write(
        root,
        "docs/postmortem.md",
        "# Postmortem — Straße 🚨\n\nDer Deadlock trat um 14:02 auf.\nДЕДЛОК в пуле соединений; дедлок повторился.\nTODO(team): write the FIXME: list\n"
            .as_bytes(),
    );
    // JSON: pretty, and minified into one long line (~160 KB).
    let mut items = Vec::new();
    for i in 0..4000 {
        items.push(format!(
            "{{\"id\":{i},\"name\":\"{}\",\"note\":\"{}\"}}",
            rng.pick(WORDS),
            if i % 500 == 7 { "deadlock" } else { "ok" }
        ));
    }
    write(
        root,
        "data/min.json",
        format!("[{}]\n", items.join(",")).as_bytes(),
    );
    write(
        root,
        "data/pretty.json",
        format!("[\n  {}\n]\n", items[..200].join(",\n  ")).as_bytes(),
    );
    // Binary: NUL up front (skipped whole), and NUL only after 256 KiB (matches before it
    // count, matches after it do not).
    let mut early = b"\x7fELF\x00\x01\x02deadlock fn landlock_bin() {}\n".to_vec();
    early.extend(std::iter::repeat_n(b'a', 4096));
    write(root, "bin/early.bin", &early);
    let mut late = Vec::new();
    while late.len() < 256 * 1024 {
        late.extend_from_slice(b"plain text line with a deadlock in it\n");
    }
    late.extend_from_slice(b"\x00\x00 binary tail deadlock\n");
    write(root, "bin/late.dat", &late);
}

/// Files and bytes under `root`.
pub fn size(root: &Path) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    (files, bytes)
}
