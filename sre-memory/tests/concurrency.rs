#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Concurrency and crash safety, with real files and real processes.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sre_memory::{Document, MarkdownMemory};

fn assert_valid(path: &Path) -> Document {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8(bytes).expect("valid UTF-8");
    let doc = Document::parse(&text);
    assert!(
        doc.issues.is_empty(),
        "issues in {}: {:?}",
        path.display(),
        doc.issues
    );
    assert_eq!(doc.render(), text, "render round trip");
    let ids: Vec<_> = doc.entries().map(|e| e.id.clone()).collect();
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate ids");
    assert!(
        doc.entries().all(|e| e.has_meta),
        "every entry carries metadata"
    );
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_tasks_times_a_hundred_appends_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = MarkdownMemory::open(dir.path()).unwrap();
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..100 {
                ids.push(
                    store
                        .append(
                            "incidents",
                            &format!("task {t} fact {i}"),
                            &format!("session-{t}"),
                        )
                        .await
                        .unwrap(),
                );
            }
            ids
        }));
    }
    let mut all_ids = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(all_ids.insert(id), "an id was handed out twice");
        }
    }
    assert_eq!(all_ids.len(), 1600);
    let doc = assert_valid(&dir.path().join("incidents.md"));
    let texts: HashSet<String> = doc.entries().map(|e| e.text.clone()).collect();
    assert_eq!(doc.entries().count(), 1600);
    for t in 0..16 {
        for i in 0..100 {
            assert!(
                texts.contains(&format!("task {t} fact {i}")),
                "missing task {t} fact {i}"
            );
        }
    }
    let file_ids: HashSet<String> = doc.entries().map(|e| e.id.clone()).collect();
    assert_eq!(file_ids, all_ids);
    let index = std::fs::read_to_string(dir.path().join("index.md")).unwrap();
    assert!(
        index.contains("[incidents](incidents.md): 1600 entries"),
        "{index}"
    );
}

const CHILD_ROOT: &str = "SRE_MEMORY_TEST_CHILD_ROOT";
const CHILD_NAME: &str = "SRE_MEMORY_TEST_CHILD_NAME";
const CHILD_COUNT: &str = "SRE_MEMORY_TEST_CHILD_COUNT";

fn spawn_child(test: &str, root: &Path, name: &str, count: usize) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ROOT, root)
        .env(CHILD_NAME, name)
        .env(CHILD_COUNT, count.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Child mode: appends `count` facts (forever if 0). A no-op when run as a normal test.
#[test]
fn child_writer() {
    let (Ok(root), Ok(name), Ok(count)) = (
        std::env::var(CHILD_ROOT),
        std::env::var(CHILD_NAME),
        std::env::var(CHILD_COUNT),
    ) else {
        return;
    };
    let count: usize = count.parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = MarkdownMemory::open(&root).unwrap();
        if name.starts_with("chain") {
            // Supersede mode: each write changes two entries (old -> superseded, new appended).
            let mut id = store
                .append("chain", &format!("{name} v0"), &name)
                .await
                .unwrap();
            let mut i = 1;
            while count == 0 || i < count {
                id = store
                    .supersede(&id, &format!("{name} v{i}"), &name)
                    .await
                    .unwrap();
                i += 1;
            }
            return;
        }
        let mut i = 0;
        while count == 0 || i < count {
            store
                .append("shared", &format!("{name} fact {i}"), &name)
                .await
                .unwrap();
            i += 1;
        }
    });
}

#[test]
fn several_processes_append_to_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    MarkdownMemory::open(dir.path()).unwrap();
    let children: Vec<_> = (0..4)
        .map(|p| spawn_child("child_writer", dir.path(), &format!("proc{p}"), 40))
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let doc = assert_valid(&dir.path().join("shared.md"));
    assert_eq!(doc.entries().count(), 160);
    let texts: HashSet<String> = doc.entries().map(|e| e.text.clone()).collect();
    for p in 0..4 {
        for i in 0..40 {
            assert!(
                texts.contains(&format!("proc{p} fact {i}")),
                "missing proc{p} fact {i}"
            );
        }
    }
}

#[test]
fn sigkill_during_writes_never_leaves_a_torn_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.md");
    MarkdownMemory::open(dir.path()).unwrap();
    let mut expected_min = 0;
    for round in 0..6u64 {
        let name = format!("r{round}");
        let mut child = spawn_child("child_writer", dir.path(), &name, 0);
        // Wait for the child to be writing, then kill it at a varying moment.
        let start = Instant::now();
        loop {
            let n = std::fs::read(&path)
                .map(|b| {
                    Document::parse_bytes(&b)
                        .entries()
                        .filter(|e| e.text.starts_with(&format!("{name} ")))
                        .count()
                })
                .unwrap_or(0);
            if n >= 3 || start.elapsed() > Duration::from_secs(30) {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(7 * round + 1));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        // The file is whole: it parses cleanly, and the facts of this round are an unbroken
        // prefix 0..k (each write either fully happened or not at all).
        let doc = assert_valid(&path);
        let mine: Vec<String> = doc
            .entries()
            .filter(|e| e.text.starts_with(&format!("{name} ")))
            .map(|e| e.text.clone())
            .collect();
        assert!(mine.len() >= 3, "round {round}: child did not write");
        for (i, t) in mine.iter().enumerate() {
            assert_eq!(t, &format!("{name} fact {i}"));
        }
        assert!(
            doc.entries().count() >= expected_min + mine.len(),
            "earlier entries survived"
        );

        // Reopening cleans up after the dead writer and writes go on.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = MarkdownMemory::open(dir.path()).unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
        let id = rt
            .block_on(store.append("shared", &format!("after {name}"), "parent"))
            .unwrap();
        let doc = assert_valid(&path);
        assert!(doc.get(&id).is_some());
        expected_min = doc.entries().count();
    }
}

#[tokio::test]
async fn a_writer_killed_before_rename_leaves_the_old_file_and_a_temp_file_that_open_removes() {
    let dir = tempfile::tempdir().unwrap();
    let store = MarkdownMemory::open(dir.path()).unwrap();
    store
        .append("team", "Alice owns checkout.", "user")
        .await
        .unwrap();
    let before = std::fs::read(dir.path().join("team.md")).unwrap();
    // What a writer killed between writing its temp file and renaming it leaves behind: a
    // half-written temp file next to the untouched original.
    let torn = &before[..before.len() / 2];
    std::fs::write(dir.path().join(".tmp-sre-memory-999-0-team.md"), torn).unwrap();
    std::fs::create_dir_all(dir.path().join(".sre-memory/snapshots/.tmp-sre-memory-x")).unwrap();
    let store = MarkdownMemory::open(dir.path()).unwrap();
    assert_eq!(std::fs::read(dir.path().join("team.md")).unwrap(), before);
    assert!(!dir.path().join(".tmp-sre-memory-999-0-team.md").exists());
    assert!(
        !dir.path()
            .join(".sre-memory/snapshots/.tmp-sre-memory-x")
            .exists()
    );
    assert_eq!(
        store.read("team").await.unwrap().document.entries().count(),
        1
    );
    let index = sre_core::MemoryStore::index(&store).await.unwrap();
    assert!(!index.contains("tmp"), "{index}");
}

#[test]
fn sigkill_during_supersede_never_leaves_a_half_updated_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.md");
    MarkdownMemory::open(dir.path()).unwrap();
    for round in 0..4u64 {
        let name = format!("chain{round}");
        let mut child = spawn_child("child_writer", dir.path(), &name, 0);
        let start = Instant::now();
        loop {
            let n = std::fs::read(&path)
                .map(|b| {
                    Document::parse_bytes(&b)
                        .entries()
                        .filter(|e| e.text.starts_with(&format!("{name} ")))
                        .count()
                })
                .unwrap_or(0);
            if n >= 3 || start.elapsed() > Duration::from_secs(30) {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(5 * round + 1));
        child.kill().unwrap();
        child.wait().unwrap();

        // Either both halves of a supersede landed or neither: v0..vk in order, each but the
        // last superseded by the next, the last active.
        let doc = assert_valid(&path);
        let chain: Vec<_> = doc
            .entries()
            .filter(|e| e.text.starts_with(&format!("{name} ")))
            .collect();
        assert!(chain.len() >= 3);
        for (i, e) in chain.iter().enumerate() {
            assert_eq!(e.text, format!("{name} v{i}"));
            if i + 1 < chain.len() {
                assert_eq!(e.meta.status, sre_memory::Status::Superseded, "{}", e.text);
                assert_eq!(
                    e.meta.superseded_by.as_deref(),
                    Some(chain[i + 1].id.as_str())
                );
            } else {
                assert!(e.is_active(), "the newest version is active");
            }
        }
    }
}
