//! Several processes writing one memory folder at once: aggregate remembers per second
//! for 1, 4 and 8 writer processes (the `sre-memory-writer` binary), fsync on and off,
//! side by side in one run.
//!
//! `cargo bench -p sre-memory --bench processes`. Each run starts from a fresh folder whose
//! four topics hold 200 entries each (written directly and fsynced before the run); the
//! writers share `SRE_MEMORY_BENCH_WRITES` (default 480) remembers spread over the four
//! topics, wait at a barrier, then write; throughput is writes / (last end − first start). `SRE_MEMORY_BENCH_REPEATS` (default 5) runs per cell;
//! the table shows the median and the range.
//!
//! `SRE_MEMORY_BENCH_BASELINE=<path to another build's sre-memory-writer>` adds that build's
//! figures next to these, its runs interleaved with this build's (same folder layout, same
//! moment), so a change is compared under the same machine load.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use sre_memory::{Entry, MarkdownMemory, Timestamp};

const WRITER: &str = env!("CARGO_BIN_EXE_sre-memory-writer");

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Four topics of 200 entries, written once and made durable, so the measured writes do
/// not pay for flushing the seed.
fn seed(root: &std::path::Path) {
    let now = Timestamp::parse("2026-11-01T10:00:00Z").unwrap();
    let mut n = 1;
    for topic in ["team", "logs", "debugging", "overview"] {
        let mut text = format!("# {topic}\n\n");
        for i in 0..200 {
            let fact = format!("seed fact {i} about checkout and the db pool");
            text.push_str(&Entry::new(format!("m-{n}"), &fact, "seed", now).render("\n"));
            n += 1;
        }
        let path = root.join(format!("{topic}.md"));
        std::fs::write(&path, text).unwrap();
        std::fs::File::open(&path).unwrap().sync_all().unwrap();
    }
    MarkdownMemory::open(root).unwrap();
    for dir in [root.to_path_buf(), root.join(".sre-memory")] {
        for f in std::fs::read_dir(&dir).unwrap() {
            std::fs::File::open(f.unwrap().path())
                .unwrap()
                .sync_all()
                .unwrap();
        }
        std::fs::File::open(&dir).unwrap().sync_all().unwrap();
    }
}

/// One run: `procs` writers (of binary `writer`) sharing `total` remembers. Returns
/// remembers per second.
fn run(writer: &str, procs: u64, total: u64, sync: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path());
    let per = total / procs;
    let mut children: Vec<_> = (0..procs)
        .map(|p| {
            let mut cmd = Command::new(writer);
            cmd.arg(dir.path())
                .arg(format!("p{p}"))
                .arg(per.to_string())
                .args(["--spread", "--barrier"]);
            if !sync {
                cmd.arg("--no-sync");
            }
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outs: Vec<_> = children
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().unwrap()))
        .collect();
    for out in &mut outs {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
    }
    for c in &mut children {
        c.stdin.take().unwrap().write_all(b"go\n").unwrap();
    }
    let (mut first, mut last, mut written) = (u128::MAX, 0u128, 0u64);
    for (c, out) in children.iter_mut().zip(&mut outs) {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert!(c.wait().unwrap().success(), "writer failed");
        let f: Vec<u128> = line
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        written += f[0] as u64;
        first = first.min(f[1]);
        last = last.max(f[2]);
    }
    assert_eq!(written, per * procs);
    written as f64 / ((last - first) as f64 / 1e9)
}

/// Median and range of a cell's runs.
fn cell(mut r: Vec<f64>) -> String {
    r.sort_by(f64::total_cmp);
    format!("{:.0} | {:.0}–{:.0}", r[r.len() / 2], r[0], r[r.len() - 1])
}

fn main() {
    let total = env_or("SRE_MEMORY_BENCH_WRITES", 480);
    let repeats = env_or("SRE_MEMORY_BENCH_REPEATS", 5).max(1);
    let baseline = std::env::var("SRE_MEMORY_BENCH_BASELINE").ok();
    println!("{total} remembers over 4 topics (200 seed entries each), {repeats} runs per cell");
    match &baseline {
        Some(b) => {
            println!("baseline: {b}");
            println!(
                "| fsync | processes | remembers/s (median) | range | baseline median | baseline range |"
            );
            println!("|---|---|---|---|---|---|");
        }
        None => {
            println!("| fsync | processes | remembers/s (median) | range |");
            println!("|---|---|---|---|");
        }
    }
    for sync in [true, false] {
        for procs in [1, 4, 8] {
            let (mut mine, mut base) = (Vec::new(), Vec::new());
            for _ in 0..repeats {
                mine.push(run(WRITER, procs, total, sync));
                if let Some(b) = &baseline {
                    base.push(run(b, procs, total, sync));
                }
            }
            let fsync = if sync { "on" } else { "off" };
            match baseline {
                Some(_) => println!("| {fsync} | {procs} | {} | {} |", cell(mine), cell(base)),
                None => println!("| {fsync} | {procs} | {} |", cell(mine)),
            }
        }
    }
}
