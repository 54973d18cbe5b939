//! Handoffs through a real loop: a valid handoff ends the run with the target and the note
//! (after the turn's other calls ran), an agent not listed is refused and the run goes on,
//! the transcript holds the handoff, and a killed run resumes to the same outcome.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod support;

use std::sync::Arc;

use pretty_assertions::assert_eq;
use serde_json::json;
use sre_core::{
    Agent, AgentLoop, ContentBlock, EventKind, HandoffTarget, JsonlSessionStore, ScriptedModel,
    Session, SessionRecord, SessionStore, StopCause,
};
use support::{EventLog, RecordingTool};

const NOTE: &str = "PagerDuty incident P123 is paging the checkout team; the 503s started at 14:02 after deploy 812.";

fn model(yaml: &str) -> Arc<ScriptedModel> {
    Arc::new(ScriptedModel::from_yaml(yaml).unwrap().recording())
}

fn targets() -> Vec<HandoffTarget> {
    vec![
        HandoffTarget::new(
            "pagerduty-expert",
            "Incidents, on-call schedules and escalations in PagerDuty.",
        ),
        HandoffTarget::new("datadog-expert", "Metrics, monitors and logs in Datadog."),
    ]
}

fn orchestrator(m: Arc<ScriptedModel>, store: Arc<JsonlSessionStore>) -> AgentLoop {
    AgentLoop::builder(m)
        .name("orchestrator")
        .tool(RecordingTool::reader("triage"))
        .handoffs(targets())
        .session_store(store)
        .build()
        .unwrap()
}

fn handoff_script() -> String {
    format!(
        "turns:\n  - tool_calls:\n      - {{tool: triage, args: {{incident: P123}}}}\n      - {{tool: handoff, args: {{to: pagerduty-expert, note: \"{NOTE}\"}}}}\n  - final: never reached\n"
    )
}

#[tokio::test]
async fn a_handoff_ends_the_run_with_the_target_and_the_note() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let m = model(&handoff_script());
    let triage = RecordingTool::reader("triage");
    let agent = AgentLoop::builder(m.clone())
        .name("orchestrator")
        .tool(triage.clone())
        .handoffs(targets())
        .session_store(store.clone())
        .build()
        .unwrap();

    // The tool offered: the targets as an enum, each described.
    let spec = agent
        .tool_specs()
        .iter()
        .find(|s| s.name == "handoff")
        .unwrap();
    assert_eq!(
        spec.input_schema["properties"]["to"]["enum"],
        json!(["pagerduty-expert", "datadog-expert"])
    );
    assert_eq!(spec.input_schema["required"], json!(["to", "note"]));
    assert!(
        spec.description
            .contains("`datadog-expert`: Metrics, monitors and logs in Datadog."),
        "{}",
        spec.description
    );

    let log = Arc::new(EventLog::default());
    let outcome = agent
        .run(
            &Session::new("thread").with_events(log.clone()),
            "Checkout returns 503s",
        )
        .await
        .unwrap();
    let expected = StopCause::Handoff {
        to: "pagerduty-expert".into(),
        note: NOTE.into(),
    };
    assert_eq!(outcome.cause, expected);
    assert_eq!(outcome.answer, None);
    assert_eq!(
        m.requests().len(),
        1,
        "the run ends without another model call"
    );
    // The turn's other call still ran.
    assert_eq!(triage.calls(), vec![json!({"incident": "P123"})]);
    assert!(
        log.0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Finished { cause, .. } if *cause == expected))
    );

    // The transcript: the call, its result, then the end, in that order.
    let records = store.load("thread").await.unwrap().records;
    let n = records.len();
    match &records[n - 2] {
        SessionRecord::Message { message, .. } => {
            let handed = message.content.iter().any(|b| {
                matches!(b, ContentBlock::ToolResult { content, is_error: false, .. }
                    if content.contains("Handed over to `pagerduty-expert`"))
            });
            assert!(handed, "{message:?}");
        }
        other => panic!("expected the results message, got {other:?}"),
    }
    assert_eq!(
        records[n - 1],
        SessionRecord::Finished {
            cause: expected,
            answer: None
        }
    );
    let text = std::fs::read_to_string(store.path_of("thread").unwrap()).unwrap();
    assert!(
        text.lines()
            .last()
            .unwrap()
            .contains(r#""cause":"handoff","to":"pagerduty-expert""#),
        "{text}"
    );
}

#[tokio::test]
async fn a_handoff_to_an_agent_not_listed_is_refused_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let m = model(
        r#"
turns:
  - tool_calls: [{tool: handoff, args: {to: grafana-expert, note: "look at the dashboards"}}]
  - expect:
      last_message_contains:
        - "`grafana-expert` is not an agent this one may hand over to"
        - "allowed: `pagerduty-expert`, `datadog-expert`"
    final: I will look at it myself.
"#,
    );
    let outcome = orchestrator(m.clone(), store.clone())
        .run(&Session::new("thread"), "Checkout returns 503s")
        .await
        .unwrap();
    assert_eq!(outcome.cause, StopCause::Completed);
    assert_eq!(outcome.answer.as_deref(), Some("I will look at it myself."));
    assert_eq!(m.requests().len(), 2);
}

#[tokio::test]
async fn a_run_killed_after_the_handoff_call_resumes_to_the_same_handoff() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(JsonlSessionStore::new(dir.path()).unwrap());
    let first = orchestrator(model(&handoff_script()), store.clone())
        .run(&Session::new("full"), "Checkout returns 503s")
        .await
        .unwrap();

    // A new process resumes the finished session: the same outcome, no model call.
    let m = model(&handoff_script());
    let resumed = orchestrator(m.clone(), store.clone())
        .resume(&Session::new("full"))
        .await
        .unwrap();
    assert_eq!(resumed.cause, first.cause);
    assert!(m.requests().is_empty());

    // Killed after the model asked for the handoff, before its result was written.
    let text = std::fs::read_to_string(store.path_of("full").unwrap()).unwrap();
    let mut cut = String::new();
    for line in text.lines() {
        cut.push_str(line);
        cut.push('\n');
        if line.contains(r#""name":"handoff""#) {
            break;
        }
    }
    assert!(!cut.contains(r#""record":"finished""#), "{cut}");
    std::fs::write(store.path_of("killed").unwrap(), &cut).unwrap();
    let m = model(&handoff_script());
    let resumed = orchestrator(m.clone(), store.clone())
        .resume(&Session::new("killed"))
        .await
        .unwrap();
    assert_eq!(resumed.cause, first.cause);
    assert!(
        m.requests().is_empty(),
        "the call is run again, not the model"
    );
    let records = store.load("killed").await.unwrap().records;
    assert_eq!(
        records.last(),
        Some(&SessionRecord::Finished {
            cause: first.cause.clone(),
            answer: None
        })
    );
}

#[tokio::test]
async fn handoff_targets_must_be_named_once() {
    let m = model("turns:\n  - final: ok\n");
    let err = AgentLoop::builder(m)
        .handoffs([
            HandoffTarget::new("a", "one"),
            HandoffTarget::new("a", "two"),
        ])
        .build()
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("two handoff targets are named `a`"),
        "{err}"
    );
}
