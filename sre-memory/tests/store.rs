#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Store behaviour: conflicts, index budget, staleness, snapshots, hand-edited files.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{store_with_clock, tree};
use pretty_assertions::assert_eq;
use sre_core::{Agent, AgentLoop, MemoryStore, ScriptedModel, Session, ToolContext, typed_tool};
use sre_memory::{
    Document, MarkdownMemory, MemoryConfig, MemoryError, RememberTool, SnapshotPolicy, Status,
    UpdateOutcome,
};

const DAY: Duration = Duration::from_secs(86_400);

#[tokio::test]
async fn conflicting_updates_keep_both_versions_and_flag_the_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _clock) = store_with_clock(dir.path());
    let id = store
        .remember("Checkout DB pool size is 20.", Some("overview"), "user")
        .await
        .unwrap();
    // Two writers read the same version of the entry.
    let (_, read) = store.get(&id).await.unwrap();
    let v = read.version();
    let first = store
        .update(&id, "Checkout DB pool size is 40.", &v, "session-a")
        .await
        .unwrap();
    assert!(matches!(first, UpdateOutcome::Updated { .. }));
    let second = store
        .update(&id, "Checkout DB pool size is 50.", &v, "session-b")
        .await
        .unwrap();
    let UpdateOutcome::Conflict { kept, proposed } = second else {
        panic!("expected a conflict, got {second:?}")
    };
    assert_eq!(kept, id);

    let text = std::fs::read_to_string(dir.path().join("overview.md")).unwrap();
    assert!(text.contains("Checkout DB pool size is 40."), "{text}");
    assert!(text.contains("Checkout DB pool size is 50."), "{text}");
    assert!(!text.contains("size is 20."));
    assert!(
        text.contains(&format!("⚠ conflicts with {proposed} (reconcile)")),
        "{text}"
    );
    assert!(
        text.contains(&format!("⚠ conflicts with {id} (reconcile)")),
        "{text}"
    );

    let hits = MemoryStore::retrieve(&store, "pool size", 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    assert!(
        hits.iter().all(|h| h
            .note
            .as_deref()
            .is_some_and(|n| n.contains("conflicts with"))),
        "{hits:?}"
    );
    let review = store.review().await.unwrap();
    assert_eq!(review.len(), 2);
    let index = MemoryStore::index(&store).await.unwrap();
    assert!(index.contains("⚠ 2 to review"), "{index}");

    // Updating with the fresh version works; reconciling clears the conflict.
    store.resolve(&proposed, &id, "user").await.unwrap();
    let (_, loser) = store.get(&id).await.unwrap();
    assert_eq!(loser.meta.status, Status::Superseded);
    assert_eq!(loser.meta.superseded_by.as_deref(), Some(proposed.as_str()));
    let (_, winner) = store.get(&proposed).await.unwrap();
    assert!(winner.meta.conflicts.is_empty());
    assert!(store.review().await.unwrap().is_empty());
}

#[tokio::test]
async fn whole_file_writes_state_the_version_they_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = MarkdownMemory::open(dir.path()).unwrap();
    let v1 = store.write("notes", "# Notes\n\n- a\n", "").await.unwrap();
    let err = store.write("notes", "# Notes\n", "").await.unwrap_err();
    assert!(matches!(err, MemoryError::Conflict { .. }), "{err}");
    store.append("notes", "b", "user").await.unwrap();
    let err = store
        .write("notes", "# Notes\n\n- c\n", &v1)
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Conflict { .. }));
    let read = store.read("notes").await.unwrap();
    let v3 = store
        .write("notes", "# Notes\n\n- c\n", &read.version)
        .await
        .unwrap();
    assert_eq!(store.read("notes").await.unwrap().version, v3);
    assert!(matches!(
        store.write("../etc/passwd", "x", "").await,
        Err(MemoryError::InvalidName { .. })
    ));
    assert!(matches!(
        store.append("index", "x", "user").await,
        Err(MemoryError::InvalidName { .. })
    ));
}

#[tokio::test]
async fn index_stays_within_budget_and_links_every_topic() {
    let dir = tempfile::tempdir().unwrap();
    let store = MarkdownMemory::open_with(
        dir.path(),
        MemoryConfig {
            sync: false,
            ..MemoryConfig::default()
        },
    )
    .unwrap();
    let topics: Vec<String> = (0..30).map(|i| format!("service-{i:02}")).collect();
    for i in 0..600 {
        let topic = &topics[i % topics.len()];
        let fact = format!(
            "Fact {i}: the {topic} deployment talks to its database through pgbouncer on port 6432 and retries three times."
        );
        store.remember(&fact, Some(topic), "user").await.unwrap();
        if i % 50 == 49 {
            let index = std::fs::read_to_string(dir.path().join("index.md")).unwrap();
            assert!(
                index.chars().count() <= 2000,
                "index is {} chars after {} entries",
                index.chars().count(),
                i + 1
            );
        }
    }
    store
        .ingest(
            "postmortem-2026-10-checkout.md",
            "# Checkout outage October 2026\n\nPool exhaustion.\n",
        )
        .await
        .unwrap();
    let index = std::fs::read_to_string(dir.path().join("index.md")).unwrap();
    assert_eq!(index, MemoryStore::index(&store).await.unwrap());
    assert!(index.chars().count() <= 2000, "{}", index.chars().count());
    for t in &topics {
        assert!(
            index.contains(&format!("]({t}.md)")),
            "{t} not linked:\n{index}"
        );
    }
    assert!(
        index.contains("knowledge/postmortem-2026-10-checkout.md"),
        "{index}"
    );

    // A few topics: full lines with counts and summaries.
    let dir2 = tempfile::tempdir().unwrap();
    let small = MarkdownMemory::open(dir2.path()).unwrap();
    small
        .remember("Alice is on call this week.", None, "user")
        .await
        .unwrap();
    small
        .remember(
            "App logs are in Loki under {app=\"checkout\"}.",
            None,
            "user",
        )
        .await
        .unwrap();
    small
        .remember("The fleet runs in eu-west-1.", None, "user")
        .await
        .unwrap();
    let index = MemoryStore::index(&small).await.unwrap();
    assert!(
        index.contains("- [team](team.md): 1 entry — Alice is on call this week"),
        "{index}"
    );
    assert!(index.contains("- [logs](logs.md): 1 entry"), "{index}");
    assert!(
        index.contains("- [overview](overview.md): 1 entry"),
        "{index}"
    );
}

#[tokio::test]
async fn staleness_and_supersession_are_visible_in_hits_files_and_review() {
    let dir = tempfile::tempdir().unwrap();
    let (store, clock) = store_with_clock(dir.path());
    let old = store
        .remember(
            "Payments runs on k8s cluster blue.",
            Some("overview"),
            "user",
        )
        .await
        .unwrap();
    let keep = store
        .remember("Payments is owned by team Atlas.", Some("overview"), "user")
        .await
        .unwrap();
    clock.advance(DAY * 43);

    let hits = MemoryStore::retrieve(&store, "payments", 10).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert!(
        hits.iter()
            .all(|h| h.note.as_deref() == Some("verified 43 days ago")),
        "{hits:?}"
    );
    assert!(
        store
            .refresh_markers()
            .await
            .unwrap()
            .contains(&"overview.md".to_string())
    );
    let text = std::fs::read_to_string(dir.path().join("overview.md")).unwrap();
    assert!(
        text.contains("- Payments runs on k8s cluster blue. ⚠ verified 43 days ago <!-- m-1 "),
        "{text}"
    );
    assert_eq!(store.review().await.unwrap().len(), 2);
    assert!(
        store
            .review_markdown()
            .await
            .unwrap()
            .contains("verified 43 days ago")
    );

    store.verify(&keep, "user").await.unwrap();
    let new = store
        .supersede(&old, "Payments runs on k8s cluster green.", "session-9")
        .await
        .unwrap();
    let text = std::fs::read_to_string(dir.path().join("overview.md")).unwrap();
    assert!(
        text.contains(&format!(
            "- Payments runs on k8s cluster blue. ⚠ superseded by {new} <!-- {old} "
        )),
        "{text}"
    );
    assert!(!text.contains("verified 43 days ago"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let pos_old = lines
        .iter()
        .position(|l| l.contains("cluster blue"))
        .unwrap();
    assert!(
        lines[pos_old + 1].contains("cluster green"),
        "the new entry follows the old one"
    );
    assert!(lines[pos_old + 1].contains("source=session-9"));

    let hits = MemoryStore::retrieve(&store, "payments cluster", 10)
        .await
        .unwrap();
    assert_eq!(hits[0].id, new, "active entries rank above superseded ones");
    assert_eq!(hits[0].note, None);
    let old_hit = hits.iter().find(|h| h.id == old).unwrap();
    assert_eq!(
        old_hit.note.as_deref(),
        Some(&*format!("superseded by {new}"))
    );
    assert!(store.review().await.unwrap().is_empty());

    // #forget through the contract deprecates, with a note.
    let forgotten = MemoryStore::forget(&store, "team atlas", "user")
        .await
        .unwrap();
    assert_eq!(forgotten, vec![keep.clone()]);
    let (_, e) = store.get(&keep).await.unwrap();
    assert_eq!(e.meta.status, Status::Deprecated);
    let text = std::fs::read_to_string(dir.path().join("overview.md")).unwrap();
    assert!(text.contains("⚠ deprecated: forgotten by user"), "{text}");
    assert!(
        MemoryStore::forget(&store, "nothing matches this", "user")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn snapshot_restore_round_trips_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (store, clock) = store_with_clock(dir.path());
    store
        .remember("Alice is on call.", None, "user")
        .await
        .unwrap();
    store
        .remember("Deep fact.", Some("debugging/postgres"), "user")
        .await
        .unwrap();
    store
        .ingest("runbook-db.md", "# DB runbook\n\n1. Check the pool.\n")
        .await
        .unwrap();
    std::fs::write(
        dir.path().join("hand.md"),
        b"# Hand\r\n- odd \xff bytes\r\n",
    )
    .unwrap();
    let before = tree(dir.path());
    let snap = store.snapshot().await.unwrap();
    assert_eq!(snap.files, before.len());

    store
        .remember("A later fact.", Some("team"), "user")
        .await
        .unwrap();
    store.ingest("extra.txt", "more").await.unwrap();
    std::fs::remove_file(dir.path().join("hand.md")).unwrap();
    std::fs::write(dir.path().join("debugging/postgres.md"), "clobbered").unwrap();
    assert_ne!(tree(dir.path()), before);

    store.restore(&snap.id).await.unwrap();
    assert_eq!(tree(dir.path()), before);
    assert!(matches!(
        store.restore("nope").await,
        Err(MemoryError::NotFound(_))
    ));

    // Periodic policy.
    let policy = SnapshotPolicy {
        every: DAY,
        keep: 2,
    };
    assert!(
        store.snapshot_if_due(&policy).await.unwrap().is_none(),
        "one was just taken"
    );
    clock.advance(DAY);
    assert!(store.snapshot_if_due(&policy).await.unwrap().is_some());
    clock.advance(DAY);
    let third = store.snapshot_if_due(&policy).await.unwrap().unwrap();
    let list = store.snapshots().await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.last().unwrap().id, third.id);
    assert!(
        !list.iter().any(|s| s.id == snap.id),
        "the oldest was pruned"
    );
}

#[tokio::test]
async fn hand_edited_files_are_read_without_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("empty.md"), b"").unwrap();
    std::fs::write(
        root.join("odd.md"),
        "# Odd\r\n\r\n## Section\r\n\r\nSome prose with <!-- an inline comment --> here.\r\n\r\n```text\r\n- not an entry <!-- m-99 status=active\r\n```\r\n- plain entry about redis\r\n  with a continuation\r\n<!-- m-50 created=2026-10-01T00:00:00Z status=active -->\r\n- meta on the line before about redis\r\n* star bullet <!-- m-51 status=weird colour=\"blue\" -->\r\n- bad meta <!-- m-52 created=yesterday status -->\r\n",
    )
    .unwrap();
    std::fs::write(
        root.join("binary.md"),
        b"# Bin\n- caf\xe9 \xff\xfe entry about redis\n\x00\x01\n",
    )
    .unwrap();
    std::fs::write(
        root.join("nested-fence.md"),
        "- a\n~~~~\n- inside\n~~~\n- still inside\n~~~~\n- b\n",
    )
    .unwrap();

    let (store, _clock) = store_with_clock(root);
    let odd = store.read("odd").await.unwrap().document;
    let entries: Vec<_> = odd.entries().collect();
    assert_eq!(entries.len(), 4, "{entries:#?}");
    assert_eq!(
        entries[0].full_text(),
        "plain entry about redis\nwith a continuation"
    );
    assert!(!entries[0].has_meta);
    assert_eq!(entries[1].id, "m-50");
    assert_eq!(entries[1].text, "meta on the line before about redis");
    assert_eq!(entries[2].id, "m-51");
    assert_eq!(entries[2].meta.status, Status::Other("weird".into()));
    assert_eq!(
        entries[3].text,
        "bad meta <!-- m-52 created=yesterday status -->"
    );
    assert!(odd.crlf);

    assert!(
        store
            .read("empty")
            .await
            .unwrap()
            .document
            .entries()
            .next()
            .is_none()
    );
    let bin = store.read("binary").await.unwrap().document;
    assert_eq!(bin.entries().count(), 1);
    let nested: Vec<String> = store
        .read("nested-fence")
        .await
        .unwrap()
        .document
        .entries()
        .map(|e| e.text.clone())
        .collect();
    assert_eq!(nested, vec!["a", "b"]);

    let hits = MemoryStore::retrieve(&store, "redis", 10).await.unwrap();
    assert_eq!(hits.len(), 3, "{hits:?}");
    let index = MemoryStore::index(&store).await.unwrap();
    for t in ["empty", "odd", "binary", "nested-fence"] {
        assert!(index.contains(&format!("]({t}.md)")), "{index}");
    }
    let issues = store.check().await.unwrap();
    assert!(
        issues
            .iter()
            .any(|e| e.to_string().starts_with("binary.md:2: invalid UTF-8")),
        "{issues:?}"
    );
    assert!(
        issues
            .iter()
            .any(|e| e.to_string().starts_with("odd.md:15: malformed metadata")),
        "{issues:?}"
    );

    // Changing one entry keeps every other byte of the hand-written file.
    let original = std::fs::read_to_string(root.join("odd.md")).unwrap();
    let plain_id = entries[0].id.clone();
    store
        .deprecate(&plain_id, "moved to redis.md", "user")
        .await
        .unwrap();
    let after = std::fs::read_to_string(root.join("odd.md")).unwrap();
    let (_, e) = store.get(&plain_id).await.unwrap();
    assert_eq!(
        e.id, plain_id,
        "a derived id stays stable once metadata is attached"
    );
    assert_eq!(e.meta.note.as_deref(), Some("moved to redis.md"));
    let head = original.find("- plain entry").unwrap();
    assert_eq!(after[..head], original[..head]);
    let fence = original.find("```text").unwrap();
    let fence_end = original.find("- plain entry").unwrap();
    assert!(
        after.contains(&original[fence..fence_end]),
        "prose and fences are untouched"
    );
    // Markers are refreshed for every entry with metadata in a file that is written.
    assert!(
        after.contains("- meta on the line before about redis ⚠ verified 31 days ago <!-- m-50 "),
        "{after}"
    );
    assert!(
        after.contains("- bad meta <!-- m-52 created=yesterday status -->\r\n"),
        "{after}"
    );
    assert!(
        after.contains(&format!(
            "- plain entry about redis ⚠ deprecated: moved to redis.md <!-- {plain_id} "
        )),
        "{after}"
    );

    // Appending to a file whose code fence is left open closes it first.
    std::fs::write(root.join("open.md"), "# Open\n```\ncode\n").unwrap();
    let id = store
        .append("open", "after the fence", "user")
        .await
        .unwrap();
    let doc = Document::parse(&std::fs::read_to_string(root.join("open.md")).unwrap());
    assert_eq!(doc.get(&id).unwrap().text, "after the fence");
}

#[tokio::test]
async fn the_agent_loop_and_the_remember_tool_use_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = MarkdownMemory::open(dir.path()).unwrap();
    let model = Arc::new(ScriptedModel::from_yaml("turns:\n  - final: unused\n").unwrap());
    let agent = AgentLoop::builder(model)
        .memory(Arc::new(store.clone()))
        .tool(typed_tool(RememberTool::new(store.clone())).unwrap())
        .build()
        .unwrap();
    let out = agent
        .run(
            &Session::new("s1"),
            "#remember The checkout team owns payments-db.",
        )
        .await
        .unwrap();
    assert_eq!(out.answer.as_deref(), Some("Remembered as m-1."));
    let out = agent
        .run(&Session::new("s2"), "#retrieve payments-db")
        .await
        .unwrap();
    assert!(
        out.answer
            .as_deref()
            .unwrap()
            .contains("[m-1] The checkout team owns payments-db. (team.md)"),
        "{out:?}"
    );
    // An id selector deprecates that entry only, not texts that happen to contain it.
    let other = store
        .remember(
            "Ticket m-12 tracks the migration.",
            Some("projects"),
            "user",
        )
        .await
        .unwrap();
    let out = agent.run(&Session::new("s3"), "#forget m-1").await.unwrap();
    assert_eq!(out.answer.as_deref(), Some("Deprecated: m-1."));
    assert!(store.get(&other).await.unwrap().1.is_active());

    let tool = typed_tool(RememberTool::new(store.clone())).unwrap();
    let mut ctx = ToolContext::detached("call_1");
    ctx.session_id = "session-42".into();
    let out = tool
        .call(
            serde_json::json!({"fact": "Logs live in Loki.", "topic": "logs"}),
            &ctx,
        )
        .await
        .unwrap();
    assert_eq!(out.content, "Remembered as m-3 in logs.md.");
    let (_, e) = store.get("m-3").await.unwrap();
    assert_eq!(e.meta.source.as_deref(), Some("session-42"));
    let err = tool
        .call(serde_json::json!({"fact": "x", "topic": "../x"}), &ctx)
        .await
        .unwrap_err();
    assert!(matches!(err, sre_core::ToolError::Invalid(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_task_takes_and_prunes_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let (store, clock) = store_with_clock(dir.path());
    store.remember("A fact.", None, "user").await.unwrap();
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = errors.clone();
    let task = store.spawn_snapshots(
        SnapshotPolicy {
            every: DAY,
            keep: 2,
        },
        Duration::from_millis(10),
        move |e| sink.lock().unwrap().push(e.to_string()),
    );
    // Wait (bounded) until the task has snapshotted each simulated day.
    for day in 0..4 {
        if day > 0 {
            clock.advance(DAY);
        }
        let now = sre_memory::Clock::now(&clock);
        let start = std::time::Instant::now();
        while store
            .snapshots()
            .await
            .unwrap()
            .last()
            .is_none_or(|s| s.taken != now)
        {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no snapshot for day {day}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    task.abort();
    let list = store.snapshots().await.unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list[0].taken < list[1].taken);
    assert!(errors.lock().unwrap().is_empty());
}

#[tokio::test]
async fn rewriting_a_topic_file_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = MarkdownMemory::open(dir.path()).unwrap();
    store
        .remember("Alice owns checkout.", Some("team"), "user")
        .await
        .unwrap();
    let path = dir.path().join("team.md");
    // Readable by its owner only: a rewrite must not widen that.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    store
        .remember("Bob owns payments.", Some("team"), "user")
        .await
        .unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("Bob owns payments.")
    );
}
