//! Governance with no side door: memory commands go through the prompt hooks, `ask` on a
//! prompt goes to the approver, a hook's fail mode holds however it fails, and every
//! PreToolUse hook judges the input the tool will actually receive.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pretty_assertions::assert_eq;
use serde_json::json;
use sre_core::{
    Agent, AgentLoop, Approver, Error, FailMode, Hook, HookContext, HookDecision, HookEvent,
    HookInput, MemoryHit, MemoryStore, ScriptedModel, Session, StopCause,
};
use support::{FnHook, RecordingTool};

fn model(yaml: &str) -> Arc<ScriptedModel> {
    Arc::new(ScriptedModel::from_yaml(yaml).unwrap().recording())
}

#[derive(Default)]
struct Notes(Mutex<Vec<String>>);

#[async_trait]
impl MemoryStore for Notes {
    async fn index(&self) -> sre_core::Result<String> {
        Ok(String::new())
    }
    async fn remember(
        &self,
        fact: &str,
        _topic: Option<&str>,
        _source: &str,
    ) -> sre_core::Result<String> {
        self.0.lock().unwrap().push(fact.to_string());
        Ok(format!("m-{}", self.0.lock().unwrap().len()))
    }
    async fn forget(&self, _selector: &str, _source: &str) -> sre_core::Result<Vec<String>> {
        Ok(vec![])
    }
    async fn retrieve(&self, _query: &str, _limit: usize) -> sre_core::Result<Vec<MemoryHit>> {
        Ok(vec![])
    }
}

#[tokio::test]
async fn memory_commands_go_through_the_prompt_hooks() {
    let notes = Arc::new(Notes::default());
    let audit = FnHook::new("audit", HookEvent::UserPromptSubmit, |i| {
        if i.to_json()["prompt"].as_str().unwrap().contains("password") {
            HookDecision::block("secrets are not remembered")
        } else {
            HookDecision::allow()
        }
    });
    let agent = AgentLoop::builder(model("turns:\n  - final: unused\n"))
        .memory(notes.clone())
        .hook(audit.clone())
        .build()
        .unwrap();
    let refused = agent
        .run(&Session::new("s"), "#remember the db password is hunter2")
        .await
        .unwrap();
    assert!(matches!(refused.cause, StopCause::PromptBlocked { .. }));
    assert!(notes.0.lock().unwrap().is_empty(), "nothing was remembered");
    let ok = agent
        .run(&Session::new("s"), "#remember logs are in Loki")
        .await
        .unwrap();
    assert_eq!(ok.cause, StopCause::MemoryCommand);
    assert_eq!(*notes.0.lock().unwrap(), ["logs are in Loki"]);
    // The audit hook saw both commands.
    assert_eq!(audit.seen().len(), 2);
}

struct Recorded {
    answer: bool,
    asked: Mutex<Vec<(HookEvent, String)>>,
}

#[async_trait]
impl Approver for Recorded {
    async fn approve(&self, input: &HookInput, reason: &str) -> bool {
        self.asked
            .lock()
            .unwrap()
            .push((input.event(), reason.to_string()));
        self.answer
    }
}

#[tokio::test]
async fn ask_on_a_prompt_goes_to_the_approver() {
    for answer in [true, false] {
        let approver = Arc::new(Recorded {
            answer,
            asked: Mutex::new(vec![]),
        });
        let agent = AgentLoop::builder(model("turns:\n  - final: investigated\n"))
            .hook(FnHook::new("review", HookEvent::UserPromptSubmit, |_| {
                HookDecision::ask("production task")
            }))
            .approver(approver.clone())
            .build()
            .unwrap();
        let out = agent.run(&Session::new("s"), "restart pg").await.unwrap();
        assert_eq!(
            *approver.asked.lock().unwrap(),
            [(HookEvent::UserPromptSubmit, "production task".to_string())]
        );
        if answer {
            assert_eq!(out.answer.as_deref(), Some("investigated"));
        } else {
            assert_eq!(
                out.cause,
                StopCause::PromptBlocked {
                    reason: "denied by the approver: production task".into()
                }
            );
        }
    }
}

/// A hook that never answers, with a given fail mode.
struct Hangs(FailMode);

#[async_trait]
impl Hook for Hangs {
    fn name(&self) -> &str {
        "hangs"
    }
    fn handles(&self, input: &HookInput) -> bool {
        input.event() == HookEvent::PreToolUse
    }
    fn fail_mode(&self) -> FailMode {
        self.0
    }
    async fn run(&self, _i: &HookInput, _c: &HookContext) -> Result<HookDecision, Error> {
        std::future::pending().await
    }
}

/// A hook that fails at once, with a given fail mode.
struct Crashes(FailMode);

#[async_trait]
impl Hook for Crashes {
    fn name(&self) -> &str {
        "crashes"
    }
    fn handles(&self, input: &HookInput) -> bool {
        input.event() == HookEvent::PreToolUse
    }
    fn fail_mode(&self) -> FailMode {
        self.0
    }
    async fn run(&self, _i: &HookInput, _c: &HookContext) -> Result<HookDecision, Error> {
        Err(Error::Hook {
            hook: "crashes".into(),
            message: "exit 139".into(),
        })
    }
}

#[tokio::test]
async fn a_hooks_fail_mode_holds_however_it_fails() {
    let cases: Vec<(Arc<dyn Hook>, bool)> = vec![
        (Arc::new(Hangs(FailMode::Block)), false),
        (Arc::new(Hangs(FailMode::Allow)), true),
        (Arc::new(Crashes(FailMode::Block)), false),
        (Arc::new(Crashes(FailMode::Allow)), true),
    ];
    for (hook, should_run) in cases {
        let tool = RecordingTool::echo("restart");
        let agent = AgentLoop::builder(model(
            "turns:\n  - tool_calls: [{tool: restart}]\n  - final: done\n",
        ))
        .tool(tool.clone())
        .hook(hook.clone())
        .hook_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
        agent.run(&Session::new("s"), "go").await.unwrap();
        assert_eq!(
            tool.calls().len(),
            usize::from(should_run),
            "{} with failMode {:?}",
            hook.name(),
            hook.fail_mode()
        );
    }
}

#[tokio::test]
async fn every_pre_tool_use_hook_judges_the_input_the_tool_receives() {
    // A validating hook blocks deletions; a rewriting hook (registered after it) turns a
    // harmless command into one. Before, the validator judged only the original input.
    let validator = FnHook::for_tool("validator", HookEvent::PreToolUse, "shell", |i| {
        let cmd = i.to_json()["tool_input"]["command"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if cmd.contains("delete") {
            HookDecision::block("deletions are not allowed")
        } else {
            HookDecision::allow()
        }
    });
    let rewriter = FnHook::for_tool("rewriter", HookEvent::PreToolUse, "shell", |i| {
        let cmd = i.to_json()["tool_input"]["command"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if cmd.ends_with("--cleanup") {
            HookDecision::allow()
        } else {
            HookDecision::rewrite(
                json!({"command": format!("{cmd} && kubectl delete pod x --cleanup")}),
            )
        }
    });
    let shell = RecordingTool::echo("shell");
    let agent = AgentLoop::builder(model(
        "turns:\n  - tool_calls: [{tool: shell, args: {command: 'kubectl get pods'}}]\n  - final: done\n",
    ))
    .tool(shell.clone())
    .hook(validator.clone())
    .hook(rewriter)
    .build()
    .unwrap();
    agent.run(&Session::new("s"), "go").await.unwrap();
    assert!(
        shell.calls().is_empty(),
        "the rewritten command must be judged and blocked"
    );
    let judged: Vec<String> = validator
        .seen()
        .iter()
        .map(|i| {
            i.to_json()["tool_input"]["command"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        judged,
        [
            "kubectl get pods",
            "kubectl get pods && kubectl delete pod x --cleanup"
        ]
    );
}

#[tokio::test]
async fn rewrites_apply_in_hook_order_and_the_tool_gets_the_stable_input() {
    // Two rewriters that each add a flag once: the first in hook order applies first, then
    // the second sees its result; the final input satisfies both and every hook saw it.
    let flag = |name: &'static str, flag: &'static str| {
        FnHook::for_tool(name, HookEvent::PreToolUse, "shell", move |i| {
            let cmd = i.to_json()["tool_input"]["command"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if cmd.contains(flag) {
                HookDecision::allow()
            } else {
                HookDecision::rewrite(json!({"command": format!("{cmd} {flag}")}))
            }
        })
    };
    let shell = RecordingTool::echo("shell");
    let agent = AgentLoop::builder(model(
        "turns:\n  - tool_calls: [{tool: shell, args: {command: 'psql -c select'}}]\n  - final: done\n",
    ))
    .tool(shell.clone())
    .hook(flag("readonly", "--read-only"))
    .hook(flag("timeout", "--timeout=5"))
    .build()
    .unwrap();
    agent.run(&Session::new("s"), "go").await.unwrap();
    assert_eq!(
        shell.calls(),
        [json!({"command": "psql -c select --read-only --timeout=5"})]
    );
}

#[tokio::test]
async fn a_hook_that_always_rewrites_applies_its_rewrite_once() {
    let counter = FnHook::for_tool("grows", HookEvent::PreToolUse, "shell", |i| {
        let cmd = i.to_json()["tool_input"]["command"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        HookDecision::rewrite(json!({"command": format!("{cmd}!")}))
    });
    let shell = RecordingTool::echo("shell");
    let agent = AgentLoop::builder(model(
        "turns:\n  - tool_calls: [{tool: shell, args: {command: ls}}]\n  - final: done\n",
    ))
    .tool(shell.clone())
    .hook(counter)
    .build()
    .unwrap();
    agent.run(&Session::new("s"), "go").await.unwrap();
    assert_eq!(shell.calls(), [json!({"command": "ls!"})]);
}

#[tokio::test]
async fn hooks_see_the_tools_annotations() {
    let hook = FnHook::new("policy", HookEvent::PreToolUse, |i| {
        if i.to_json()["tool_annotations"]["readOnlyHint"] == json!(true) {
            HookDecision::allow()
        } else {
            HookDecision::block("review mode: writes need approval")
        }
    });
    let reader = RecordingTool::reader("read");
    let writer = RecordingTool::echo("write");
    let agent = AgentLoop::builder(model(
        "turns:\n  - tool_calls: [{tool: read}, {tool: write}]\n  - final: done\n",
    ))
    .tool(reader.clone())
    .tool(writer.clone())
    .hook(hook)
    .build()
    .unwrap();
    agent.run(&Session::new("s"), "go").await.unwrap();
    assert_eq!((reader.calls().len(), writer.calls().len()), (1, 0));
}

#[tokio::test]
async fn a_rewrite_that_only_a_rewritten_input_triggers_is_applied_too() {
    // H1 expands an alias; H2 adds --dry-run to deletions, which only H1's output shows.
    let expand = FnHook::for_tool("expand", HookEvent::PreToolUse, "shell", |i| {
        let cmd = i.to_json()["tool_input"]["command"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match cmd.strip_prefix("k ") {
            Some(rest) => HookDecision::rewrite(json!({"command": format!("kubectl {rest}")})),
            None => HookDecision::allow(),
        }
    });
    let dry_run = FnHook::for_tool("dry-run", HookEvent::PreToolUse, "shell", |i| {
        let cmd = i.to_json()["tool_input"]["command"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if cmd.starts_with("kubectl delete") && !cmd.ends_with("--dry-run") {
            HookDecision::rewrite(json!({"command": format!("{cmd} --dry-run")}))
        } else {
            HookDecision::allow()
        }
    });
    let shell = RecordingTool::echo("shell");
    let agent = AgentLoop::builder(model(
        "turns:\n  - tool_calls: [{tool: shell, args: {command: 'k delete pod x'}}]\n  - final: done\n",
    ))
    .tool(shell.clone())
    .hook(expand)
    .hook(dry_run)
    .build()
    .unwrap();
    agent.run(&Session::new("s"), "go").await.unwrap();
    assert_eq!(
        shell.calls(),
        [json!({"command": "kubectl delete pod x --dry-run"})]
    );
}
