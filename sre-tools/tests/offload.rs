//! OffloadStore: preview, content addressing, retention.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::Fixture;
use serde_json::json;
use sre_core::OutputOffload;
use sre_tools::{OffloadConfig, OffloadStore};

fn files(f: &Fixture) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(f.path("scratch/.offload"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn large_output_is_stored_and_previewed() {
    let f = Fixture::new();
    let store = OffloadStore::new(f.ws.clone(), OffloadConfig::default()).unwrap();
    assert_eq!(store.threshold_bytes(), 16 * 1024);
    let content: String = (0..20_000)
        .map(|i| format!("{{\"seq\":{i},\"level\":\"info\"}}\n"))
        .collect();
    let preview = store.offload("shell", "call_1", &content).await.unwrap();
    assert!(preview.len() < 3 * 1024, "{}", preview.len());
    let names = files(&f);
    assert_eq!(names.len(), 1);
    assert!(
        names[0].starts_with("shell-") && names[0].len() == "shell-".len() + 12 + 4,
        "{names:?}"
    );
    let rel = format!("scratch/.offload/{}", names[0]);
    assert!(preview.contains(&format!("stored in `{rel}`")), "{preview}");
    assert!(
        preview.contains(&format!("{} bytes (20000 lines)", content.len())),
        "{preview}"
    );
    assert!(preview.contains("{\"seq\":0,"), "head missing");
    assert!(preview.contains("{\"seq\":19999,"), "tail missing");
    assert!(
        preview.contains("grep") && preview.contains("jq"),
        "{preview}"
    );
    assert_eq!(std::fs::read_to_string(f.path(&rel)).unwrap(), content);
    // The model can follow the hint with the grep tool.
    let out = f
        .ok("grep", json!({"pattern": "\"seq\":12345,", "path": rel}))
        .await;
    assert!(out.contains(":12346:{\"seq\":12345,"), "{out}");
    // A workspace-wide search does not return the stored copy (hidden folder).
    let out = f.ok("grep", json!({"pattern": "\"seq\":12345,"})).await;
    assert!(out.contains("no matches"), "{out}");
    // Same content: same file.
    store.offload("shell", "call_2", &content).await.unwrap();
    assert_eq!(files(&f).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_evicts_oldest_by_count_and_bytes() {
    let f = Fixture::new();
    let cfg = OffloadConfig {
        max_files: 3,
        max_bytes: 1 << 30,
        threshold_bytes: 10,
        ..OffloadConfig::default()
    };
    let store = OffloadStore::new(f.ws.clone(), cfg).unwrap();
    let mut previews = Vec::new();
    for i in 0..5 {
        previews.push(
            store
                .offload("t", "id", &format!("content number {i}\n").repeat(100))
                .await
                .unwrap(),
        );
    }
    let kept = files(&f);
    assert_eq!(kept.len(), 3, "{kept:?}");
    for (i, p) in previews.iter().enumerate() {
        let name = p
            .split('`')
            .nth(3)
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        assert_eq!(
            kept.contains(&name),
            i >= 2,
            "file {i} ({name}) kept={kept:?}"
        );
    }
    // Byte cap: each file is 1900 bytes; a cap of 4000 keeps two.
    let f2 = Fixture::new();
    let cfg = OffloadConfig {
        max_files: 100,
        max_bytes: 4000,
        threshold_bytes: 10,
        ..OffloadConfig::default()
    };
    let store = OffloadStore::new(f2.ws.clone(), cfg).unwrap();
    for i in 0..4 {
        store
            .offload("t", "id", &format!("content number {i}\n").repeat(100))
            .await
            .unwrap();
    }
    let total: u64 = files(&f2)
        .iter()
        .map(|n| {
            std::fs::metadata(f2.path(&format!("scratch/.offload/{n}")))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(files(&f2).len(), 2);
    assert!(total <= 4000);
}

#[test]
fn offload_dir_must_be_writable() {
    let f = Fixture::new();
    let err = OffloadStore::new(
        f.ws.clone(),
        OffloadConfig {
            dir: "logs/offload".into(),
            ..OffloadConfig::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}

/// Hashing and writing a 24 MiB result and scanning a folder of 3000 old outputs happen on
/// the blocking pool: a ticker on the same current-thread runtime keeps its pace.
#[test]
fn offload_does_not_stall_the_runtime_thread() {
    let f = Fixture::new();
    let cfg = OffloadConfig {
        max_files: 100,
        threshold_bytes: 10,
        ..OffloadConfig::default()
    };
    let store = OffloadStore::new(f.ws.clone(), cfg).unwrap();
    for i in 0..3000 {
        std::fs::write(
            f.path(&format!("scratch/.offload/old-{i:04}.txt")),
            "old output\n",
        )
        .unwrap();
    }
    let content: String = (0..600_000)
        .map(|i| format!("2026-11-24T10:00:{:02}Z INFO req={i} path=/api\n", i % 60))
        .collect();
    assert!(content.len() > 24 << 20);
    let rt = common::current_thread();
    let (preview, took, worst) = rt.block_on(common::lateness_during(
        store.offload("shell", "call_1", &content),
    ));
    let preview = preview.unwrap();
    assert!(
        preview.contains("stored in `scratch/.offload/shell-"),
        "{preview}"
    );
    assert_eq!(files(&f).len(), 100, "evicted down to max_files");
    println!(
        "offload of {} bytes took {took:?}; worst ticker lateness {worst:?}",
        content.len()
    );
    assert!(
        worst * 4 < took,
        "the runtime thread stalled: ticker {worst:?} late during a {took:?} offload"
    );
}
