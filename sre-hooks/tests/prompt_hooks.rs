//! Prompt hooks on their own: rendering, verdict parsing, failures in both fail modes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{input, pre};
use sre_core::{
    Hook, HookAction, HookContext, HookEvent, HookPayload, Model, ModelError, ModelInfo,
    ModelRequest, ModelResponse, ScriptedModel,
};
use sre_hooks::{FailMode, HookFilter, PromptHook, ToolMatcher};

fn filter() -> HookFilter {
    HookFilter::new(
        "judge",
        [HookEvent::PreToolUse, HookEvent::Stop],
        ToolMatcher::all(),
    )
}

fn judge(answers: &[&str]) -> Arc<ScriptedModel> {
    let steps: String = answers
        .iter()
        .map(|a| format!("  - final: {}\n", serde_json::to_string(a).unwrap()))
        .collect();
    Arc::new(ScriptedModel::from_yaml(&format!("turns:\n{steps}")).unwrap())
}

#[test]
fn arguments_are_substituted_or_appended() {
    let with = PromptHook::new(
        filter(),
        "Check this: $ARGUMENTS -- end",
        judge(&["{\"ok\": true}"]),
    );
    let text = with.render(&input(pre("ls -la"), None));
    assert!(text.starts_with("Check this: {"), "{text}");
    assert!(text.ends_with("} -- end"), "{text}");
    assert!(text.contains("\"command\": \"ls -la\""), "{text}");
    let without = PromptHook::new(filter(), "Check this.", judge(&["{\"ok\": true}"]));
    let text = without.render(&input(pre("ls -la"), None));
    assert!(text.starts_with("Check this.\n\n{"), "{text}");
}

#[tokio::test]
async fn verdicts_map_to_decisions() {
    let hook = PromptHook::new(
        filter(),
        "$ARGUMENTS",
        judge(&[
            "Looks fine. {\"ok\": true}",
            "{\"ok\": false, \"reason\": \"too risky\"}",
            "{\"ok\": false}",
        ]),
    );
    assert_eq!(
        hook.run(&input(pre("ls"), None), &HookContext::detached())
            .await
            .unwrap()
            .action,
        HookAction::Continue
    );
    assert_eq!(
        hook.run(&input(pre("rm"), None), &HookContext::detached())
            .await
            .unwrap()
            .action,
        HookAction::Block {
            reason: "too risky".into()
        }
    );
    let d = hook
        .run(&input(pre("rm"), None), &HookContext::detached())
        .await
        .unwrap();
    assert!(
        matches!(d.action, HookAction::Block { reason } if reason.contains("rejected by prompt hook `judge`"))
    );
}

#[tokio::test]
async fn a_non_answer_follows_the_fail_mode() {
    let hook = PromptHook::new(
        filter(),
        "$ARGUMENTS",
        judge(&["I would rather not say.", "Still no JSON."]),
    );
    let err = hook
        .run(&input(pre("ls"), None), &HookContext::detached())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("did not answer"), "{err}");
    // failMode block: the loop blocks the call the judge could not judge.
    let hook = PromptHook::new(
        HookFilter::new("judge", [HookEvent::PreToolUse], ToolMatcher::all()),
        "$ARGUMENTS",
        judge(&["Still no JSON."]),
    )
    .fail_mode(FailMode::Block);
    let (ran, refusals, _) = common::run_bash_once(Arc::new(hook), None, "ls").await;
    assert!(ran.is_empty());
    assert!(
        refusals
            .iter()
            .any(|r| r.contains("did not answer") && r.contains("failMode: block")),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn a_model_error_follows_the_fail_mode() {
    let hook = PromptHook::new(filter(), "$ARGUMENTS", judge(&[])); // empty script: every call fails
    let err = hook
        .run(&input(pre("ls"), None), &HookContext::detached())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("model call failed"), "{err}");
    let hook = hook.fail_mode(FailMode::Block);
    assert_eq!(sre_core::Hook::fail_mode(&hook), FailMode::Block);
}

struct Hanging(ModelInfo);

#[async_trait::async_trait]
impl Model for Hanging {
    fn info(&self) -> &ModelInfo {
        &self.0
    }
    async fn complete(&self, _request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_hanging_model_times_out() {
    let hook = PromptHook::new(
        filter(),
        "$ARGUMENTS",
        Arc::new(Hanging(ModelInfo::new("hanging", 1000))),
    )
    .timeout(Duration::from_millis(300))
    .fail_mode(FailMode::Block);
    let started = Instant::now();
    let err = hook
        .run(&input(pre("ls"), None), &HookContext::detached())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.to_string().contains("timed out after 300 ms"), "{err}");
    assert_eq!(sre_core::Hook::fail_mode(&hook), FailMode::Block);
}

#[tokio::test]
async fn at_max_rejections_the_judge_is_not_asked() {
    // An empty script would fail if called.
    let hook = PromptHook::new(filter(), "$ARGUMENTS", judge(&[]))
        .max_rejections(2)
        .fail_mode(FailMode::Block);
    let stop = |n| HookPayload::Stop {
        final_output: "x".into(),
        stop_hook_active: n > 0,
        rejection_count: n,
        subagent: false,
    };
    // Below the limit the judge is asked (and fails: an error the loop applies the fail
    // mode to); at the limit it is not asked at all.
    assert!(
        hook.run(&input(stop(1), None), &HookContext::detached())
            .await
            .is_err()
    );
    assert_eq!(
        hook.run(&input(stop(2), None), &HookContext::detached())
            .await
            .unwrap()
            .action,
        HookAction::Continue
    );
}
