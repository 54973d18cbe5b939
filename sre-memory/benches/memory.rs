//! Benchmarks: append latency/throughput under 1, 4 and 16 concurrent writers, and index
//! rebuild time over 10,000 entries. Run with `cargo bench -p sre-memory`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use divan::Bencher;
use divan::counter::ItemsCount;
use sre_memory::{Entry, MarkdownMemory, MemoryConfig, Timestamp};

fn main() {
    divan::main();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

fn bench_appends(bencher: Bencher, writers: usize, sync: bool) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = MarkdownMemory::open_with(
        dir.path(),
        MemoryConfig {
            sync,
            ..MemoryConfig::default()
        },
    )
    .unwrap();
    // Start from a realistic topic file of 200 entries.
    rt.block_on(async {
        for i in 0..200 {
            store
                .append(
                    "incidents",
                    &format!("seed fact {i} about checkout latency and the db pool"),
                    "bench",
                )
                .await
                .unwrap();
        }
    });
    bencher.counter(ItemsCount::new(writers)).bench_local(|| {
        rt.block_on(async {
            let tasks: Vec<_> = (0..writers)
                .map(|w| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        store
                            .append(
                                "incidents",
                                &format!("writer {w} fact about checkout"),
                                "bench",
                            )
                            .await
                            .unwrap()
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
    });
}

/// One iteration = `writers` concurrent appends to the same topic file (fsync on).
#[divan::bench(args = [1, 4, 16], sample_count = 15, sample_size = 2)]
fn append_fsync(bencher: Bencher, writers: usize) {
    bench_appends(bencher, writers, true);
}

/// The same without fsync (atomic rename only).
#[divan::bench(args = [1, 4, 16], sample_count = 15, sample_size = 2)]
fn append_nosync(bencher: Bencher, writers: usize) {
    bench_appends(bencher, writers, false);
}

fn seed_10k(dir: &std::path::Path) {
    let now = Timestamp::parse("2026-11-01T10:00:00Z").unwrap();
    let mut n = 1;
    for t in 0..20 {
        let mut text = format!("# Topic {t}\n\n");
        for i in 0..500 {
            text.push_str(
                &Entry::new(
                    format!("m-{n}"),
                    &format!("Fact {i} of topic {t}: service-{t} talks to db-{i} via pgbouncer"),
                    "bench",
                    now,
                )
                .render("\n"),
            );
            n += 1;
        }
        std::fs::write(dir.join(format!("topic-{t:02}.md")), text).unwrap();
    }
}

/// Index rebuild from cold (open parses all 20 files x 500 entries and writes index.md).
#[divan::bench(sample_count = 10)]
fn index_rebuild_10k_cold(bencher: Bencher) {
    let dir = tempfile::tempdir().unwrap();
    seed_10k(dir.path());
    bencher
        .counter(ItemsCount::new(10_000usize))
        .bench_local(|| {
            let _ = std::fs::remove_file(dir.path().join("index.md"));
            MarkdownMemory::open_with(
                dir.path(),
                MemoryConfig {
                    sync: false,
                    ..MemoryConfig::default()
                },
            )
            .unwrap()
        });
}

/// Index rebuild with warm caches (files unchanged: stat + render only).
#[divan::bench(sample_count = 20)]
fn index_rebuild_10k_warm(bencher: Bencher) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    seed_10k(dir.path());
    let store = Arc::new(
        MarkdownMemory::open_with(
            dir.path(),
            MemoryConfig {
                sync: false,
                ..MemoryConfig::default()
            },
        )
        .unwrap(),
    );
    bencher.bench_local(|| rt.block_on(store.rebuild_index()).unwrap());
}

/// Retrieval over 10,000 entries.
#[divan::bench(sample_count = 10)]
fn retrieve_10k(bencher: Bencher) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    seed_10k(dir.path());
    let store = MarkdownMemory::open_with(
        dir.path(),
        MemoryConfig {
            sync: false,
            ..MemoryConfig::default()
        },
    )
    .unwrap();
    bencher.bench_local(|| {
        rt.block_on(store.search("pgbouncer db-42 service-7", 10))
            .unwrap()
    });
}
