//! Durable approvals: an approver that parks a call ends the run without running it or
//! recording a result; `resume` (by another process's agent, from the session store) asks
//! again and gets the decision: run, run with an edited input (judged by the hooks again),
//! or deny with the reviewer's reason. The other calls of the parked turn never run twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};
use sre_core::{
    Agent, AgentLoop, Approval, Approver, HookDecision, HookEvent, HookInput, HookPayload,
    JsonlSessionStore, ScriptedModel, Session, StopCause,
};
use support::{FnHook, RecordingTool};

/// Decisions a person made, by tool name; a call without one is parked (and counted).
#[derive(Default)]
struct Desk {
    decisions: Mutex<BTreeMap<String, Approval>>,
    parked: Mutex<Vec<String>>,
}

#[async_trait]
impl Approver for Desk {
    async fn approve(&self, _input: &HookInput, _reason: &str) -> bool {
        false
    }

    async fn decide(&self, input: &HookInput, _reason: &str) -> Approval {
        let HookPayload::PreToolUse {
            tool_use_id,
            tool_name,
            ..
        } = &input.payload
        else {
            return Approval::Deny { reason: None };
        };
        if let Some(d) = self.decisions.lock().unwrap().get(tool_name) {
            return d.clone();
        }
        let request = format!("req-{tool_use_id}");
        self.parked.lock().unwrap().push(request.clone());
        Approval::Park { request }
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<JsonlSessionStore>,
    write: Arc<RecordingTool>,
    read: Arc<RecordingTool>,
}

/// A fresh agent over the same store, tools and script: what a restarted host builds.
fn agent(s: &Setup, desk: Arc<Desk>, script: &str) -> AgentLoop {
    let model = Arc::new(ScriptedModel::from_yaml(script).unwrap());
    AgentLoop::builder(model)
        .tool(s.write.clone())
        .tool(s.read.clone())
        // Review mode: every call that is not read-only asks; `rm` is never allowed.
        .hook(FnHook::new(
            "review",
            HookEvent::PreToolUse,
            |input| match &input.payload {
                HookPayload::PreToolUse { tool_input, .. }
                    if tool_input.to_string().contains("rm ") =>
                {
                    HookDecision::block("rm is not allowed")
                }
                HookPayload::PreToolUse { tool_name, .. } if tool_name == "restart" => {
                    HookDecision::ask("restart changes production")
                }
                _ => HookDecision::allow(),
            },
        ))
        .approver(desk)
        .session_store(s.store.clone())
        .build()
        .unwrap()
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    Setup {
        store: Arc::new(JsonlSessionStore::new(dir.path()).unwrap()),
        _dir: dir,
        write: RecordingTool::echo("restart"),
        read: RecordingTool::reader("status"),
    }
}

const SCRIPT: &str = r#"
turns:
  - tool_calls: [{tool: restart, args: {svc: checkout}}, {tool: status}]
  - expect: {last_message_contains: ["EXPECTED"]}
    final: done
"#;

#[tokio::test]
async fn a_parked_call_waits_then_runs_once_after_approval_in_a_new_agent() {
    let s = setup();
    let desk = Arc::new(Desk::default());
    let script = SCRIPT.replace("EXPECTED", "ran with {\\\"svc\\\":\\\"checkout\\\"}");
    let out = agent(&s, desk.clone(), &script)
        .run(&Session::new("t"), "restart checkout")
        .await
        .unwrap();
    assert_eq!(
        out.cause,
        StopCause::AwaitingApproval {
            requests: vec!["req-call_default_00_0".into()]
        }
    );
    assert!(s.write.calls().is_empty(), "a parked call does not run");
    assert_eq!(s.read.calls().len(), 1, "the other call of the turn ran");
    // Still undecided: resuming parks again, and runs nothing twice.
    let out = agent(&s, desk.clone(), &script)
        .resume(&Session::new("t"))
        .await
        .unwrap();
    assert!(matches!(out.cause, StopCause::AwaitingApproval { .. }));
    assert_eq!((s.write.calls().len(), s.read.calls().len()), (0, 1));
    // A person approves; a restarted host resumes the thread.
    desk.decisions
        .lock()
        .unwrap()
        .insert("restart".into(), Approval::Approve);
    let out = agent(&s, desk.clone(), &script)
        .resume(&Session::new("t"))
        .await
        .unwrap();
    assert_eq!(out.cause, StopCause::Completed, "{out:?}");
    assert_eq!(s.write.calls(), [json!({"svc": "checkout"})]);
    assert_eq!(s.read.calls().len(), 1, "the read ran once in all");
    assert_eq!(desk.parked.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_denial_reaches_the_agent_with_the_reviewers_reason() {
    let s = setup();
    let desk = Arc::new(Desk::default());
    desk.decisions.lock().unwrap().insert(
        "restart".into(),
        Approval::Deny {
            reason: Some("peak traffic until 18:00".into()),
        },
    );
    let script = SCRIPT.replace(
        "EXPECTED",
        "Denied by the approver: restart changes production. The reviewer said: peak traffic until 18:00. Do not ask for this call again",
    );
    let out = agent(&s, desk, &script)
        .run(&Session::new("t"), "restart checkout")
        .await
        .unwrap();
    assert_eq!(out.cause, StopCause::Completed, "{out:?}");
    assert!(s.write.calls().is_empty());
}

#[tokio::test]
async fn an_edited_input_runs_and_is_judged_by_the_hooks_again() {
    let s = setup();
    let desk = Arc::new(Desk::default());
    desk.decisions.lock().unwrap().insert(
        "restart".into(),
        Approval::ApproveEdited {
            input: json!({"svc": "checkout", "canary": true}),
        },
    );
    let script = SCRIPT.replace("EXPECTED", "canary");
    let out = agent(&s, desk.clone(), &script)
        .run(&Session::new("t"), "restart checkout")
        .await
        .unwrap();
    assert_eq!(out.cause, StopCause::Completed, "{out:?}");
    assert_eq!(
        s.write.calls(),
        [json!({"svc": "checkout", "canary": true})]
    );
    // An edit the hooks refuse is refused, approved or not.
    let s = setup();
    desk.decisions.lock().unwrap().insert(
        "restart".into(),
        Approval::ApproveEdited {
            input: json!({"cmd": "rm -rf /var/lib/checkout"}),
        },
    );
    let script = SCRIPT.replace(
        "EXPECTED",
        "Blocked by a PreToolUse hook (edited input): rm is not allowed",
    );
    let out = agent(&s, desk, &script)
        .run(&Session::new("t"), "restart checkout")
        .await
        .unwrap();
    assert_eq!(out.cause, StopCause::Completed, "{out:?}");
    assert!(s.write.calls().is_empty());
}

#[tokio::test]
async fn an_approver_without_decide_keeps_its_yes_or_no() {
    struct Yes;
    #[async_trait]
    impl Approver for Yes {
        async fn approve(&self, _input: &HookInput, _reason: &str) -> bool {
            true
        }
    }
    let s = setup();
    let model =
        Arc::new(ScriptedModel::from_yaml(&SCRIPT.replace("EXPECTED", "ran with")).unwrap());
    let agent = AgentLoop::builder(model)
        .tool(s.write.clone())
        .tool(s.read.clone())
        .hook(FnHook::new("review", HookEvent::PreToolUse, |_| {
            HookDecision::ask("review")
        }))
        .approver(Arc::new(Yes))
        .build()
        .unwrap();
    let out = agent.run(&Session::new("t"), "go").await.unwrap();
    assert_eq!(out.cause, StopCause::Completed);
    assert_eq!(s.write.calls().len(), 1);
    let _: Value = json!(null);
}

#[tokio::test]
async fn a_parked_call_does_not_outlive_a_stop_in_the_same_turn() {
    let s = setup();
    let desk = Arc::new(Desk::default());
    let model = Arc::new(ScriptedModel::from_yaml(&SCRIPT.replace("EXPECTED", "x")).unwrap());
    let agent = AgentLoop::builder(model)
        .tool(s.write.clone())
        .tool(s.read.clone())
        .hook(FnHook::new(
            "review",
            HookEvent::PreToolUse,
            |input| match &input.payload {
                HookPayload::PreToolUse { tool_name, .. } if tool_name == "restart" => {
                    HookDecision::ask("restart changes production")
                }
                _ => HookDecision::stop("change freeze"),
            },
        ))
        .approver(desk.clone())
        .session_store(s.store.clone())
        .build()
        .unwrap();
    let out = agent.run(&Session::new("t"), "go").await.unwrap();
    assert_eq!(
        out.cause,
        StopCause::StoppedByHook {
            reason: "change freeze".into()
        },
        "{out:?}"
    );
    assert!(s.write.calls().is_empty());
    // The run is over: resuming does not run the parked call.
    let _ = agent.resume(&Session::new("t")).await;
    assert!(s.write.calls().is_empty());
    assert!(desk.parked.lock().unwrap().len() <= 1);
}
