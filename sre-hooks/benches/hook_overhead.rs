//! Per-call overhead of a hook, side by side: an in-process closure, the command
//! allowlist, the audit hook (HMAC chain + anchor), a prompt hook on a ScriptedModel judge
//! (no network), and bash and Python command hooks (a trivial one and the real safety
//! guard fixture).
//!
//! Run: `cargo bench -p sre-hooks --bench hook_overhead`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benches may

use std::sync::Arc;

use divan::Bencher;
use serde_json::json;
use sre_core::{Hook, HookContext, HookDecision, HookEvent, HookInput, HookPayload, ScriptedModel};
use sre_hooks::{
    AuditHook, AuditKey, CommandAllowlist, CommandHook, FnHook, HookFilter, PromptHook,
    ShellPolicy, ToolMatcher,
};

fn main() {
    divan::main();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn input() -> HookInput {
    HookInput {
        session_id: "bench".into(),
        transcript_path: None,
        cwd: None,
        agent_name: "db-agent".into(),
        current_turn: 3,
        max_turns: 50,
        payload: HookPayload::PreToolUse {
            tool_name: "Bash".into(),
            tool_input: json!({"command": "az postgres flexible-server restart --resource-group rg-prod --name pg-orders"}),
            tool_use_id: "call_1".into(),
            annotations: None,
        },
    }
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn filter() -> HookFilter {
    HookFilter::new(
        "bench",
        [HookEvent::PreToolUse],
        ToolMatcher::new(Some("Bash")).unwrap(),
    )
}

fn bench_hook(bencher: Bencher, hook: &dyn Hook) {
    let rt = runtime();
    let input = input();
    assert!(hook.handles(&input));
    let ctx = HookContext::detached();
    bencher.bench_local(|| rt.block_on(hook.run(&input, &ctx)).unwrap());
}

#[divan::bench]
fn in_process_closure(bencher: Bencher) {
    let hook = FnHook::new(
        "bench",
        [HookEvent::PreToolUse],
        "Bash",
        |input| async move {
            let cmd = input.to_json()["tool_input"]["command"]
                .as_str()
                .unwrap_or_default()
                .contains("rm -rf");
            Ok(if cmd {
                HookDecision::block("no")
            } else {
                HookDecision::allow()
            })
        },
    )
    .unwrap();
    bench_hook(bencher, &hook);
}

/// The reference allowlist on a pipeline with a substitution (parse + match, in process).
#[divan::bench]
fn allowlist_in_process(bencher: Bencher) {
    let policy = ShellPolicy::new([
        "kubectl get",
        "kubectl describe",
        "kubectl logs",
        "grep",
        "az postgres flexible-server restart",
    ])
    .unwrap();
    let hook = CommandAllowlist::new("bench", "Bash", policy).unwrap();
    let rt = runtime();
    let mut input = input();
    if let HookPayload::PreToolUse { tool_input, .. } = &mut input.payload {
        *tool_input = json!({"command": "kubectl get pods -n payments -o name | grep api | xargs -n1 kubectl describe \"$(kubectl get ns -o name | grep pay)\""});
    }
    let ctx = HookContext::detached();
    bencher.bench_local(|| {
        let d = rt.block_on(hook.run(&input, &ctx)).unwrap();
        assert_eq!(d, HookDecision::allow());
    });
}

fn audit_hook(dir: &std::path::Path, durable: bool) -> AuditHook {
    let key = AuditKey::from_bytes(vec![7u8; 32]).unwrap();
    AuditHook::new(dir.join("audit.jsonl"), key, dir.join("audit.anchor"))
        .with_requests()
        .durable(durable)
}

/// One audit record: lock, read the last line, HMAC, append, replace the anchor.
#[divan::bench]
fn audit_append(bencher: Bencher) {
    let dir = tempfile::tempdir().unwrap();
    bench_hook(bencher, &audit_hook(dir.path(), false));
}

/// The same with `durable(true)`: fdatasync of the line, fsync of the anchor and its folder.
#[divan::bench(sample_count = 40, sample_size = 1)]
fn audit_append_durable(bencher: Bencher) {
    let dir = tempfile::tempdir().unwrap();
    bench_hook(bencher, &audit_hook(dir.path(), true));
}

#[divan::bench]
fn prompt_hook_scripted_judge(bencher: Bencher) {
    // A judge with enough answers for every iteration divan may run.
    let steps: String = (0..200_000)
        .map(|_| "  - final: '{\"ok\": true}'\n")
        .collect();
    let judge = Arc::new(ScriptedModel::from_yaml(&format!("turns:\n{steps}")).unwrap());
    let hook = PromptHook::new(filter(), "Is this safe? $ARGUMENTS", judge);
    bench_hook(bencher, &hook);
}

#[divan::bench(sample_count = 40, sample_size = 1)]
fn bash_command_trivial(bencher: Bencher) {
    bench_hook(
        bencher,
        &CommandHook::command(filter(), fixture("echo_ok.sh")),
    );
}

#[divan::bench(sample_count = 40, sample_size = 1)]
fn bash_command_safety_guard(bencher: Bencher) {
    bench_hook(
        bencher,
        &CommandHook::command(filter(), fixture("safety_guard.sh")),
    );
}

#[divan::bench(sample_count = 40, sample_size = 1)]
fn python_command_trivial(bencher: Bencher) {
    bench_hook(
        bencher,
        &CommandHook::command(filter(), fixture("echo_ok.py")),
    );
}

#[divan::bench(sample_count = 40, sample_size = 1)]
fn python_command_safety_guard(bencher: Bencher) {
    bench_hook(
        bencher,
        &CommandHook::command(filter(), fixture("safety_guard.py")),
    );
}

/// The floor of any command hook: spawn `/bin/true` (no interpreter), write the JSON to
/// its stdin, read its (empty) output, reap it.
#[divan::bench(sample_count = 40, sample_size = 1)]
fn exec_bin_true_floor(bencher: Bencher) {
    bench_hook(bencher, &CommandHook::command(filter(), "/bin/true"));
}
