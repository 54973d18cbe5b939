//! The reference safety hook: a shell-aware command allowlist. It blocks what got past the
//! old substring denylist (`kubectl  delete`, `rm -r -f`, `python -c 'os.system(...)'`),
//! lets the allowlisted commands through in any quoting, and survives fuzzing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Events, RecordingShell};
use pretty_assertions::assert_eq;
use sre_core::{Agent, AgentLoop, EventKind, ScriptedModel, Session};
use sre_hooks::{BuildContext, HookConfig, ShellPolicy};

const RESTART: &str =
    "az postgres flexible-server restart --resource-group rg-prod --name pg-orders";

const AGENT_YAML: &str = r#"
kind: AgentConfiguration
metadata: {name: db-agent}
spec:
  hooks:
    - name: shell-allowlist
      event: PreToolUse
      type: allowlist
      matcher: Bash
      allow:
        - kubectl get
        - kubectl describe
        - kubectl logs
        - psql -c SELECT*
        - az postgres flexible-server restart
        - grep
        - wc -l
"#;

fn policy() -> ShellPolicy {
    ShellPolicy::new([
        "kubectl get",
        "kubectl describe",
        "kubectl logs",
        "psql -c SELECT*",
        "az postgres flexible-server restart",
        "grep",
        "wc -l",
        "cat",
    ])
    .unwrap()
}

#[tokio::test]
async fn the_allowlist_hook_blocks_the_denylist_bypasses_in_the_loop() {
    let blocked = [
        "kubectl  delete pod -l app=checkout-api -n payments",
        "rm -r -f /var/lib/postgresql",
        "python -c 'import os; os.system(\"rm -rf /\")'",
        "python3 -c 'import os; os.system(\"id\")'",
        "kubectl get pods; kubectl delete ns payments",
    ];
    let allowed = [
        "kubectl get pods -n payments",
        "kubectl   'get'  pods -n payments | grep -c Running",
        "\"kubectl\" describe pod/checkout-api-7d9",
        "psql -c \"SELECT count(*) FROM orders WHERE status = 'stuck'\"",
        RESTART,
    ];
    let calls: String = blocked
        .iter()
        .chain(allowed.iter())
        .map(|c| format!("      - tool: Bash\n        args: {{command: {c:?}}}\n"))
        .collect();
    let script = format!("turns:\n  - tool_calls:\n{calls}  - final: done\n");
    let registry = HookConfig::from_yaml(AGENT_YAML, "agent.yaml")
        .unwrap()
        .build(&BuildContext::default())
        .unwrap();
    let shell = RecordingShell::default();
    let agent = AgentLoop::builder(Arc::new(ScriptedModel::from_yaml(&script).unwrap()))
        .name("db-agent")
        .tool(shell.tool())
        .hooks(registry.hooks_for("db-agent"))
        .build()
        .unwrap();
    let events = Events::default();
    agent
        .run(&Session::new("allow").with_events(events.sink()), "go")
        .await
        .unwrap();
    let mut ran = shell.ran();
    ran.sort();
    let mut expected: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(ran, expected);
    let refusals: Vec<String> = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolRefused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(refusals.len(), blocked.len(), "{refusals:?}");
    for needle in [
        "blocked `kubectl delete pod -l app=checkout-api -n payments`: not in the allowlist (allowed: `kubectl get`",
        "blocked `rm -r -f /var/lib/postgresql`: not in the allowlist",
        "inline code (`python -c`) cannot be checked",
        "inline code (`python3 -c`) cannot be checked",
        "blocked `kubectl delete ns payments`",
    ] {
        assert!(
            refusals.iter().any(|r| r.contains(needle)),
            "no refusal contains {needle:?}: {refusals:#?}"
        );
    }
}

#[test]
fn every_simple_command_must_be_allowlisted() {
    let p = policy();
    let allow = [
        // whitespace and quoting variants of allowlisted commands
        "kubectl get pods",
        "kubectl\tget pods",
        "  kubectl   get   pods  ",
        "kubectl 'get' pods",
        "kubectl g\"e\"t pods",
        "kubectl ge\\t pods",
        "kubectl \\\n  get pods",
        "kubectl get pods -n \"prod ns\" -o 'jsonpath={.items[*].metadata.name}'",
        "kubectl get pods -n $NS",
        "/usr/bin/kubectl get pods",
        "kubectl get pods # ; rm -rf /",
        // sequences, pipelines, groups, substitutions of allowlisted commands
        "kubectl get pods && kubectl describe pod x || kubectl logs x; kubectl get ns &",
        "kubectl get pods | grep -c Running | wc -l",
        "kubectl get pods |& grep x",
        "(kubectl get pods; kubectl get ns)",
        "{ kubectl get pods; kubectl get ns; }",
        "kubectl describe pod \"$(kubectl get pods -o name | grep api)\"",
        "kubectl describe pod `kubectl get pods -o name`",
        "grep -c x <(kubectl get pods)",
        "kubectl get pods 2>&1 >/dev/null < /dev/null",
        "kubectl get pods 2>/dev/null",
        // wrappers and recursion
        "env kubectl get pods",
        "/usr/bin/env -i kubectl get pods",
        "timeout 10 kubectl get pods",
        "nice -n 5 kubectl get pods",
        "command -v kubectl",
        "kubectl get pods -o name | xargs kubectl describe",
        "kubectl get pods -o name | xargs -n1 kubectl describe",
        "kubectl get pods -o name | xargs -I{} kubectl describe {}",
        "bash -c 'kubectl get pods | grep x'",
        "sh -ec \"kubectl get pods\"",
        "bash -c \"bash -c 'kubectl get pods'\"",
        // prefixes
        "psql -c 'SELECT count(*) FROM orders'",
        "psql -c SELECT\\ 1",
        "az postgres flexible-server restart --name pg-orders",
        "",
        "   ",
    ];
    for line in allow {
        assert!(
            p.check(line).is_ok(),
            "{line:?} should be allowed: {:?}",
            p.check(line)
        );
    }
    let block = [
        ("kubectl  delete pod x", "not in the allowlist"),
        ("kubectl delete pod x", "not in the allowlist"),
        ("rm -r -f /var/lib/postgresql", "not in the allowlist"),
        ("rm -rf /", "not in the allowlist"),
        (
            "python -c 'os.system(\"rm -rf /\")'",
            "inline code (`python -c`)",
        ),
        ("python3.12 -c 'print(1)'", "inline code (`python3.12 -c`)"),
        ("kubectl get pods; rm -rf /", "blocked `rm -rf /`"),
        ("kubectl get pods\nrm -rf /", "blocked `rm -rf /`"),
        ("kubectl get pods && rm -rf /", "blocked `rm -rf /`"),
        ("kubectl get pods || rm -rf /", "blocked `rm -rf /`"),
        ("kubectl get pods | sh", "`sh` without `-c`"),
        ("kubectl get pods & rm -rf /", "blocked `rm -rf /`"),
        ("kubectl get pods $(rm -rf /)", "blocked `rm -rf /`"),
        ("kubectl get pods `rm -rf /`", "blocked `rm -rf /`"),
        ("kubectl get pods \"$(rm -rf /)\"", "blocked `rm -rf /`"),
        ("(kubectl get pods; rm x)", "blocked `rm x`"),
        ("cat <(rm -rf /)", "blocked `rm -rf /`"),
        ("kubectl get pods > /tmp/pods.txt", "writes a file"),
        ("kubectl get pods >> ~/.bashrc", "writes a file"),
        ("(kubectl get pods) > out", "writes a file"),
        ("$CMD get pods", "is not a literal word"),
        ("kubectl $VERB pods", "not in the allowlist"),
        ("kubectl g* pods", "not in the allowlist"),
        ("./kubectl get pods", "not in the allowlist"),
        ("/tmp/kubectl get pods", "not in the allowlist"),
        (
            "PATH=/tmp kubectl get pods",
            "setting `PATH` is not allowed",
        ),
        (
            "PATH=/tmp; kubectl get pods",
            "setting `PATH` is not allowed",
        ),
        (
            "env PATH=/tmp kubectl get pods",
            "setting `PATH` is not allowed",
        ),
        ("env -S 'kubectl delete pod x'", "`env -S` is not allowed"),
        ("sudo kubectl get pods", "`sudo` is not allowed"),
        (
            "bash -c 'kubectl delete pod x'",
            "blocked `kubectl delete pod x`",
        ),
        ("sh -c \"kubectl get pods; rm -rf /\"", "blocked `rm -rf /`"),
        ("bash -c \"$SCRIPT\"", "is not a literal word"),
        ("bash script.sh", "`bash` without `-c`"),
        ("bash -k -c 'kubectl get pods'", "unrecognised shell option"),
        ("eval 'kubectl delete pod x'", "not in the allowlist"),
        ("exec kubectl delete pod x", "not in the allowlist"),
        ("nohup rm -rf / &", "blocked `nohup rm -rf /`"),
        ("timeout 5 rm -rf /", "not in the allowlist"),
        ("xargs kubectl delete pod", "not in the allowlist"),
        (
            "grep -o delete x | xargs -I get kubectl get pods",
            "blocked `xargs -I get kubectl get pods`: not in the allowlist",
        ),
        ("kubectl get pods | xargs", "blocked `xargs`"),
        (
            "grep -o delete x | xargs -I get sh -c 'kubectl get pods'",
            "would replace `get`",
        ),
        ("xargs -I{} sh -c '{}'", "would replace `{}`"),
        ("psql -c 'DROP TABLE orders'", "not in the allowlist"),
        (
            "psql -c \"SELECT * FROM t WHERE id=$ID\"",
            "not in the allowlist",
        ),
        (
            "az postgres flexible-server delete --name pg-orders",
            "not in the allowlist",
        ),
        ("cat <<EOF\nx\nEOF", "here-documents"),
        (
            "for i in a b; do kubectl get $i; done",
            "control structures",
        ),
        ("kubectl get pods $((1+1))", "arithmetic"),
        ("kubectl get ${X:-$(rm -rf /)}", "parameter expansion"),
        ("kubectl get 'pods", "unterminated single quote"),
        ("f() { rm -rf /; }", "function definitions"),
    ];
    for (line, why) in block {
        let refusal = p
            .check(line)
            .err()
            .unwrap_or_else(|| panic!("{line:?} should be blocked"));
        assert!(
            refusal.to_string().contains(why),
            "{line:?}: expected {why:?} in {refusal}"
        );
    }
}

#[test]
fn env_assignments_and_sudo_can_be_allowed_explicitly() {
    let p = policy()
        .allow_env(["PGPASSWORD", "KUBECONFIG"])
        .allow_sudo(true);
    for ok in [
        "PGPASSWORD=x psql -c 'SELECT 1'",
        "env KUBECONFIG=/etc/kube/prod kubectl get pods",
        "sudo kubectl get pods",
        "sudo -u postgres psql -c 'SELECT 1'",
        "sudo -E KUBECONFIG=/k kubectl get pods",
    ] {
        assert!(p.check(ok).is_ok(), "{ok:?}: {:?}", p.check(ok));
    }
    for (bad, why) in [
        ("PATH=/tmp kubectl get pods", "setting `PATH`"),
        ("sudo rm -rf /", "not in the allowlist"),
        ("sudo -s", "`sudo -s` is not allowed"),
        ("sudo -i kubectl get pods", "`sudo -i` is not allowed"),
        ("sudo", "`sudo` without a command"),
    ] {
        let r = p.check(bad).unwrap_err().to_string();
        assert!(r.contains(why), "{bad:?}: {r}");
    }
}

#[test]
fn allowlist_configs_give_precise_errors() {
    let base = "kind: AgentConfiguration\nmetadata: {name: a}\nspec:\n  hooks:\n    - ";
    let cases = [
        (
            "{event: PreToolUse, type: allowlist, matcher: Bash, allow: [kubectl get, 'rm -rf / ; ls']}",
            "agent.yaml: spec.hooks[0].allow[1]: must be exactly one command",
        ),
        (
            "{event: PreToolUse, type: allowlist, matcher: Bash, allow: ['kubectl $X']}",
            "agent.yaml: spec.hooks[0].allow[0]: the word `$X` is not literal",
        ),
        (
            "{event: PreToolUse, type: allowlist, matcher: Bash, allow: []}",
            "agent.yaml: spec.hooks[0].allow: must not be empty",
        ),
        (
            "{event: PreToolUse, type: allowlist, matcher: Bash}",
            "agent.yaml: spec.hooks[0].allow: missing",
        ),
        (
            "{event: PreToolUse, type: allowlist, allow: [ls]}",
            "agent.yaml: spec.hooks[0].matcher: missing: an allowlist hook needs a matcher",
        ),
        (
            "{event: Stop, type: allowlist, matcher: Bash, allow: [ls]}",
            "agent.yaml: spec.hooks[0].event: an allowlist hook runs at PreToolUse",
        ),
        (
            "{event: PreToolUse, command: x, allow: [ls]}",
            "agent.yaml: spec.hooks[0].allow: only for `type: allowlist` hooks",
        ),
        (
            "{event: PreToolUse, type: allowlist, matcher: Bash, allow: [ls], allowSudo: yes}",
            "agent.yaml: spec.hooks[0].allowSudo: must be true or false",
        ),
    ];
    for (hook, expected) in cases {
        let err = HookConfig::from_yaml(&format!("{base}{hook}\n"), "agent.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(expected),
            "for {hook}:\n  got      {err}\n  expected {expected}..."
        );
    }
    // The same hook in settings JSON (our extension type); it fails closed by default.
    let json = HookConfig::from_settings_json(
        r#"{"hooks": {"PreToolUse": [{"matcher": "shell", "hooks": [
            {"type": "allowlist", "allow": ["kubectl get"], "allowEnv": ["KUBECONFIG"], "inputField": "cmd"}]}]}}"#,
        "settings.json",
    )
    .unwrap();
    let spec = &json.global[0];
    assert_eq!(spec.fail_mode, sre_hooks::FailMode::Block);
    match &spec.kind {
        sre_hooks::HookKind::Allowlist(a) => {
            assert_eq!(a.allow_env, ["KUBECONFIG"]);
            assert_eq!(a.input_field.as_deref(), Some("cmd"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        spec.name.starts_with("PreToolUse-allowlist-"),
        "{}",
        spec.name
    );
    json.build(&BuildContext::default()).unwrap();
}

/// A tool call matched by the hook but without the command field is blocked (fail closed).
#[test]
fn a_call_without_a_command_line_is_blocked() {
    let hook = sre_hooks::CommandAllowlist::new("a", "shell", policy()).unwrap();
    let d = hook.decide(&serde_json::json!({"script": "rm -rf /"}));
    assert!(
        matches!(d.action, sre_core::HookAction::Block { .. }),
        "{d:?}"
    );
    let hook = hook.input_field("script");
    let d = hook.decide(&serde_json::json!({"script": "kubectl get pods"}));
    assert_eq!(d, sre_core::HookDecision::allow());
}

/// xorshift64*: a deterministic generator, so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ALPHABET: &[char] = &[
    '\'', '"', '\\', '$', '(', ')', '`', '{', '}', ';', '|', '&', '<', '>', '#', '\n', '\t', ' ',
    '*', '?', '[', ']', '=', '~', '!', '-', 'a', 'c', '0', '2', 'é', '😀', '\u{a0}', '\r',
];

/// Seeded mutations of real command lines: no input panics, each check is fast, and the
/// whole run is bounded.
#[test]
fn fuzzed_command_lines_never_panic_and_stay_fast() {
    let p = policy().allow_env(["PGPASSWORD"]).allow_sudo(true);
    let seeds = [
        "kubectl get pods -n prod | grep -c Running && wc -l < x",
        "bash -c 'kubectl get pods; echo \"$(kubectl get ns)\"' 2>&1",
        "env A=1 sudo -u pg timeout 5 xargs -I{} kubectl describe {} <(cat x) `ls`",
        "psql -c \"SELECT * FROM t WHERE a = '$X'\" > /dev/null; (a) && { b; }",
        "python3 -c 'import os; os.system(\"rm -rf /\")' # c\nrm -r -f $'x\\y' ${A} $1",
    ];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut allowed = 0;
    for _ in 0..30_000 {
        let mut s: Vec<char> = seeds[rng.below(seeds.len())].chars().collect();
        for _ in 0..1 + rng.below(6) {
            let at = rng.below(s.len() + 1);
            match rng.below(5) {
                0 | 1 => s.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
                2 if at < s.len() => {
                    s.remove(at);
                }
                3 => {
                    let other: Vec<char> = seeds[rng.below(seeds.len())].chars().collect();
                    let from = rng.below(other.len());
                    let to = (from + rng.below(20)).min(other.len());
                    s.splice(at..at, other[from..to].iter().copied());
                }
                _ => s.truncate(at),
            }
        }
        let line: String = s.into_iter().collect();
        let t = Instant::now();
        let verdict = p.check(&line);
        slowest = slowest.max(t.elapsed());
        if verdict.is_ok() {
            allowed += 1;
            // Anything allowed is still allowed when run through `bash -c '...'`.
            let wrapped = format!("bash -c '{}'", line.replace('\'', "'\\''"));
            assert!(
                p.check(&wrapped).is_ok(),
                "{line:?} allowed but not {wrapped:?}: {:?}",
                p.check(&wrapped)
            );
        }
    }
    // Pathological inputs: deep nesting and long lines.
    let nasty = [
        "$(".repeat(30_000),
        "(".repeat(30_000),
        "`".repeat(30_000),
        "\\`".repeat(20_000),
        "a;".repeat(30_000),
        "'".repeat(30_001),
        "x".repeat(70_000),
        format!("kubectl get {}", "\"$(".repeat(10_000)),
    ];
    for line in &nasty {
        let t = Instant::now();
        assert!(p.check(line).is_err(), "{}", &line[..20]);
        slowest = slowest.max(t.elapsed());
    }
    assert!(allowed > 0, "the mutations kept some allowed lines");
    assert!(
        slowest < Duration::from_millis(500),
        "slowest check took {slowest:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "fuzzing took {:?}",
        start.elapsed()
    );
}
