#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Learning after a session, with a scripted model.

mod common;

use common::store_with_clock;
use sre_core::{Message, ScriptedModel};
use sre_memory::{LearnTopics, MemoryError, learn_from_session, write_runbook};

fn transcript() -> Vec<Message> {
    vec![
        Message::user("Checkout returns 5xx since 10:00."),
        Message::assistant("The app log shows PoolTimeoutError; the pool has 20 connections."),
        Message::assistant("Raising pool size to 40 fixed it."),
    ]
}

fn model(answer: &str) -> ScriptedModel {
    let yaml = format!("turns:\n  - final: '{}'\n", answer.replace('\'', "''"));
    ScriptedModel::from_yaml(&yaml).unwrap()
}

#[tokio::test]
async fn lessons_are_filed_with_the_session_as_source() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _clock) = store_with_clock(dir.path());
    let answer = r#"Here is what I learned:
```json
{"symptoms": ["Checkout returns 5xx", "PoolTimeoutError in app log"],
 "steps_that_worked": ["grep logs/app.log for PoolTimeoutError"],
 "root_cause": "payments-db pool exhausted at 20 connections",
 "pitfalls": ["Restarting pods only hides it for minutes"]}
```
Let me know if you need more."#;
    let report = learn_from_session(
        &store,
        &model(answer),
        "sess-7",
        &transcript(),
        &LearnTopics::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.filed.len(), 3);
    assert_eq!(
        report.lessons.root_cause.as_deref(),
        Some("payments-db pool exhausted at 20 connections")
    );
    let incidents = std::fs::read_to_string(dir.path().join("incidents.md")).unwrap();
    assert!(incidents.contains("- Root cause: payments-db pool exhausted at 20 connections (symptoms: Checkout returns 5xx; PoolTimeoutError in app log) <!-- m-1 "), "{incidents}");
    assert!(incidents.contains("source=sess-7"));
    let debugging = std::fs::read_to_string(dir.path().join("debugging.md")).unwrap();
    assert!(debugging.contains("What worked: grep logs/app.log for PoolTimeoutError"));
    let pitfalls = std::fs::read_to_string(dir.path().join("pitfalls.md")).unwrap();
    assert!(pitfalls.contains("Pitfall: Restarting pods only hides it for minutes"));
    let index = std::fs::read_to_string(dir.path().join("index.md")).unwrap();
    for t in ["incidents", "debugging", "pitfalls"] {
        assert!(index.contains(&format!("]({t}.md)")));
    }
}

#[tokio::test]
async fn a_bad_answer_is_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _clock) = store_with_clock(dir.path());
    let err = learn_from_session(
        &store,
        &model("I could not find anything useful."),
        "s",
        &transcript(),
        &LearnTopics::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, MemoryError::BadAnswer { message, .. } if message.contains("no JSON object")),
        "{err}"
    );
    let err = learn_from_session(
        &store,
        &model(r#"{"symptoms": "not a list"}"#),
        "s",
        &transcript(),
        &LearnTopics::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("lessons shape"), "{err}");
    assert!(store.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_investigation_becomes_an_indexed_runbook() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _clock) = store_with_clock(dir.path());
    let answer = r###"{"title": "Checkout 5xx from DB pool exhaustion", "markdown": "## Symptoms\n- 5xx on checkout\n\n## Diagnosis\n1. `grep PoolTimeoutError logs/app.log`\n\n## Fix\nRaise the pool to 40."}"###;
    let path = write_runbook(&store, &model(answer), "sess-8", &transcript())
        .await
        .unwrap();
    assert_eq!(
        path,
        "knowledge/runbook-checkout-5xx-from-db-pool-exhaustion-sess-8.md"
    );
    // Another investigation's runbook of the same title does not replace it.
    let other = write_runbook(&store, &model(answer), "sess-9", &transcript())
        .await
        .unwrap();
    assert_eq!(
        other,
        "knowledge/runbook-checkout-5xx-from-db-pool-exhaustion-sess-9.md"
    );
    let text = std::fs::read_to_string(dir.path().join(&path)).unwrap();
    assert!(text.starts_with("# Checkout 5xx from DB pool exhaustion\n\n<!-- runbook source=sess-8 created=2026-11-01T10:00:00Z -->\n\n## Symptoms"), "{text}");
    let index = std::fs::read_to_string(dir.path().join("index.md")).unwrap();
    assert!(
        index.contains(&format!("[Checkout 5xx from DB pool exhaustion]({path})")),
        "{index}"
    );
    let hits = sre_core::MemoryStore::retrieve(&store, "PoolTimeoutError", 5)
        .await
        .unwrap();
    assert_eq!(hits[0].path, path);

    let err = write_runbook(
        &store,
        &model(r#"{"title": "", "markdown": "x"}"#),
        "s",
        &transcript(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, MemoryError::BadAnswer { .. }));
}
