#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Concurrency and crash safety, with real files and real processes.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sre_core::MemoryStore;
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

/// The crate's writer binary (`src/bin/sre-memory-writer.rs`): tests start it as a child.
const WRITER: &str = env!("CARGO_BIN_EXE_sre-memory-writer");

/// A writer process appending `count` facts `<name> fact <i>` to `shared` (forever if 0);
/// names starting with `chain` supersede their own previous fact instead.
fn spawn_child(root: &Path, name: &str, count: usize) -> std::process::Child {
    let mut cmd = Command::new(WRITER);
    cmd.arg(root).arg(name).arg(count.to_string());
    if name.starts_with("chain") {
        cmd.arg("--chain");
    }
    cmd.stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[test]
fn several_processes_append_to_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    MarkdownMemory::open(dir.path()).unwrap();
    let children: Vec<_> = (0..4)
        .map(|p| spawn_child(dir.path(), &format!("proc{p}"), 40))
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
        let mut child = spawn_child(dir.path(), &name, 0);
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
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(sre_core::fs::TEMP_PREFIX)
            })
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
    let temp = format!("{}999-0-team.md", sre_core::fs::TEMP_PREFIX);
    let temp_dir = format!(".sre-memory/snapshots/{}x", sre_core::fs::TEMP_PREFIX);
    // And one left by an earlier version of the crate, which named its temp files so.
    let legacy = ".tmp-sre-memory-998-0-team.md";
    std::fs::write(dir.path().join(&temp), torn).unwrap();
    std::fs::write(dir.path().join(legacy), torn).unwrap();
    std::fs::create_dir_all(dir.path().join(&temp_dir)).unwrap();
    let store = MarkdownMemory::open(dir.path()).unwrap();
    assert_eq!(std::fs::read(dir.path().join("team.md")).unwrap(), before);
    assert!(!dir.path().join(&temp).exists());
    assert!(!dir.path().join(legacy).exists());
    assert!(!dir.path().join(&temp_dir).exists());
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
        let mut child = spawn_child(dir.path(), &name, 0);
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

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every entry of every topic file, after checking each file is whole.
fn all_texts(root: &Path) -> Vec<String> {
    let mut texts = Vec::new();
    for topic in ["team", "logs", "debugging", "overview"] {
        let doc = assert_valid(&root.join(format!("{topic}.md")));
        texts.extend(doc.entries().map(|e| e.text.clone()));
    }
    texts
}

#[test]
fn what_another_process_appended_is_parsed_alone_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let rt = current_thread();
    let store = MarkdownMemory::open(dir.path()).unwrap();
    // Four topics of 50 entries, written by this process (which knows their parse).
    let out = Command::new(WRITER)
        .args([dir.path().to_str().unwrap(), "seed", "200", "--spread"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    rt.block_on(store.remember("first from this process", Some("team"), "parent"))
        .unwrap();
    let before = store.parse_counts();

    // Another process appends 40 facts over the same four topics.
    let out = Command::new(WRITER)
        .args([dir.path().to_str().unwrap(), "other", "40", "--spread"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    // This process writes and reads again: it sees everything the other wrote, and parses
    // only the lines it appended, not the files whole.
    let id = rt
        .block_on(store.remember("second from this process", Some("team"), "parent"))
        .unwrap();
    let hits = rt
        .block_on(MemoryStore::retrieve(&store, "other fact 39", 3))
        .unwrap();
    assert!(hits[0].text.starts_with("other fact 39:"), "{hits:?}");
    let index = rt.block_on(MemoryStore::index(&store)).unwrap();
    assert!(index.contains("[team](team.md): 62 entries"), "{index}");
    assert!(
        index.contains("[overview](overview.md): 60 entries"),
        "{index}"
    );
    let after = store.parse_counts();
    assert_eq!(after.whole, before.whole, "a file was parsed whole again");
    assert!(after.appended >= 4, "{after:?}");

    // Nothing was lost or duplicated, and the ids are all distinct.
    let texts = all_texts(dir.path());
    assert_eq!(texts.len(), 242);
    for i in 0..40 {
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with(&format!("other fact {i}:"))),
            "missing other fact {i}"
        );
    }
    assert!(texts.iter().any(|t| t == "second from this process"));
    assert_eq!(id, "m-242");
}

#[test]
fn an_edit_that_is_not_an_append_is_parsed_whole_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let rt = current_thread();
    let store = MarkdownMemory::open(dir.path()).unwrap();
    rt.block_on(async {
        for i in 0..20 {
            store
                .remember(&format!("fact {i:02} of the team"), Some("team"), "user")
                .await
                .unwrap();
        }
    });
    // Someone edits an entry in the middle by hand, keeping the file's length (so size
    // alone cannot tell), and appends a line at the end.
    let path = dir.path().join("team.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replace("fact 07 of the team", "FACT 07 OF THE TEAM") + "- by hand\n";
    std::fs::write(&path, &edited).unwrap();
    let before = store.parse_counts();
    rt.block_on(store.remember("after the edit", Some("team"), "user"))
        .unwrap();
    assert_eq!(store.parse_counts().whole, before.whole + 1);
    let doc = Document::parse_bytes(&std::fs::read(&path).unwrap());
    assert!(doc.issues.is_empty(), "{:?}", doc.issues);
    let texts: Vec<&str> = doc.entries().map(|e| e.text.as_str()).collect();
    assert!(texts.contains(&"FACT 07 OF THE TEAM"), "{texts:?}");
    assert!(texts.contains(&"by hand"), "{texts:?}");
    assert!(!texts.contains(&"fact 07 of the team"));
    assert_eq!(texts.last(), Some(&"after the edit"));
}

#[test]
fn a_remember_waiting_for_another_process_lock_does_not_stall_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = MarkdownMemory::open(dir.path()).unwrap();
    let mut holder = Command::new(WRITER)
        .arg(dir.path())
        .arg("--hold-lock")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    // Release the lock on demand, or after 5 s whatever happens (so a stalled runtime
    // fails the test instead of hanging it).
    let stdin = Arc::new(Mutex::new(holder.stdin.take()));
    let release = {
        let stdin = stdin.clone();
        move || {
            if let Some(mut s) = stdin.lock().unwrap().take() {
                let _ = s.write_all(b"release\n");
            }
        }
    };
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = {
        let release = release.clone();
        std::thread::spawn(move || {
            let _ = finished.recv_timeout(Duration::from_secs(5));
            release();
        })
    };

    let rt = current_thread();
    rt.block_on(async {
        let pending = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .remember("written once the lock is free", Some("team"), "user")
                    .await
            })
        };
        // A ticker on the same, only runtime thread keeps its schedule while the
        // remember waits for the other process.
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.tick().await;
        let mut last = Instant::now();
        let mut worst = Duration::ZERO;
        for _ in 0..30 {
            tick.tick().await;
            worst = worst.max(last.elapsed());
            last = Instant::now();
        }
        assert!(
            worst < Duration::from_secs(1),
            "the runtime thread was blocked for {worst:?}"
        );
        assert!(
            !pending.is_finished(),
            "the remember did not wait for the other process's lock"
        );
        release();
        let id = tokio::time::timeout(Duration::from_secs(20), pending)
            .await
            .expect("the remember finishes once the lock is free")
            .unwrap()
            .unwrap();
        assert_eq!(id, "m-1");
    });
    done.send(()).unwrap();
    watchdog.join().unwrap();
    assert!(holder.wait().unwrap().success());
}
