#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sre_memory::{ManualClock, MarkdownMemory, MemoryConfig, Timestamp};

pub fn t0() -> Timestamp {
    Timestamp::parse("2026-11-01T10:00:00Z").unwrap()
}

pub fn store_with_clock(dir: &Path) -> (MarkdownMemory, ManualClock) {
    let clock = ManualClock::new(t0());
    let cfg = MemoryConfig {
        clock: Arc::new(clock.clone()),
        ..MemoryConfig::default()
    };
    (MarkdownMemory::open_with(dir, cfg).unwrap(), clock)
}

/// Every file under `dir` except the store's state folder, with its bytes.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
            if rel == ".sre-memory" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}
