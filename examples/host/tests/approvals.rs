//! Durable review-mode approvals through the `sre` command: a `Review` agent's write parks
//! the run (the process exits), the request waits in the store, a person approves, edits,
//! denies or allows it for the thread from another process, and `--resume` continues.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::path::Path;
use std::process::Command;

fn sre(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sre"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn agent(name: &str) -> String {
    format!(
        "kind: ExtendedAgent\nspec:\n  name: {name}\n  system_prompt: You fix things.\n  agent_type: Review\n  tools: [Bash]\n"
    )
}

/// A home with three Review agents and their scripts.
fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    std::fs::create_dir_all(h.join("agents")).unwrap();
    for name in ["fixer", "refused", "repeater"] {
        std::fs::write(h.join(format!("agents/{name}.yaml")), agent(name)).unwrap();
    }
    let write = |file: &str| {
        format!(
            "    - tool_calls:\n        - {{tool: shell, args: {{command: 'echo fixed > scratch/{file}'}}}}\n"
        )
    };
    let script = format!(
        "agents:\n  fixer:\n{}    - final: fixed\n  refused:\n{}    - expect: {{last_message_contains: [\"The reviewer said: not during the freeze\"]}}\n      final: gave up\n  repeater:\n{}{}    - final: twice\n",
        write("fix.txt"),
        write("refused.txt"),
        write("again.txt"),
        write("again.txt")
    );
    std::fs::write(h.join("script.yaml"), script).unwrap();
    dir
}

fn run(h: &Path, agent: &str, session: &str, resume: bool) -> (i32, String, String) {
    let home = h.to_str().unwrap();
    let script = h.join("script.yaml");
    let mut args = vec![
        "run",
        home,
        "--agent",
        agent,
        "--script",
        script.to_str().unwrap(),
        "--approve",
        "durable",
        "--session",
        session,
    ];
    if resume {
        args.push("--resume");
    } else {
        args.push("fix it");
    }
    sre(&args)
}

fn scratch(h: &Path, file: &str) -> std::path::PathBuf {
    h.join(".sre/workspace/scratch").join(file)
}

#[test]
fn a_write_waits_for_a_person_across_processes_then_runs_once() {
    let dir = home();
    let h = dir.path();
    let home = h.to_str().unwrap();
    // The write parks the run: the process ends, nothing was written.
    let (code, _, err) = run(h, "fixer", "t1", false);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("waiting for approval: apr-1"), "{err}");
    assert!(err.contains("--resume --session t1"), "{err}");
    assert!(!scratch(h, "fix.txt").exists());
    // Resuming before anyone decided parks again, with the same request.
    let (code, _, err) = run(h, "fixer", "t1", true);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("waiting for approval: apr-1"), "{err}");
    // The request, as a person sees it from another process.
    let (code, out, _) = sre(&["approvals", home]);
    assert_eq!(code, 0);
    assert!(out.starts_with("apr-1\tpending\t"), "{out}");
    assert!(
        out.contains("agent fixer\tshell {\"command\":\"echo fixed > scratch/fix.txt\"}"),
        "{out}"
    );
    let (code, out, _) = sre(&["approve", home, "apr-1"]);
    assert_eq!(code, 0);
    assert!(out.contains("apr-1: approved"), "{out}");
    assert!(
        out.contains("continue the run with: sre run ... --resume --session t1"),
        "{out}"
    );
    // Deciding twice is refused and says how it was decided.
    let (code, _, err) = sre(&["deny", home, "apr-1", "--reason", "late"]);
    assert_eq!(code, 1);
    assert!(err.contains("apr-1 was already approved"), "{err}");
    // A new process resumes the thread: the write runs, once.
    let (code, out, err) = run(h, "fixer", "t1", true);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "fixed");
    assert_eq!(
        std::fs::read_to_string(scratch(h, "fix.txt")).unwrap(),
        "fixed\n"
    );
    let (_, out, _) = sre(&["approvals", home]);
    assert_eq!(out.trim(), "no pending approval requests");
}

#[test]
fn a_denial_reaches_the_agent_and_an_edit_runs_instead() {
    let dir = home();
    let h = dir.path();
    let home = h.to_str().unwrap();
    let (code, _, err) = run(h, "refused", "t2", false);
    assert_eq!(code, 3, "{err}");
    // While a server holds the data folder, it is the one that continues the thread.
    let lock = std::fs::File::create(h.join(".sre/data/serve.lock")).unwrap();
    lock.lock().unwrap();
    let (code, out, _) = sre(&["deny", home, "apr-1", "--reason", "not during the freeze"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("a running `sre serve` on this data folder continues thread t2"),
        "{out}"
    );
    drop(lock);
    let (code, out, err) = run(h, "refused", "t2", true);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "gave up");
    assert!(!scratch(h, "refused.txt").exists());
    // Approved with an edited input: the edit runs, not what the agent asked.
    let (code, _, err) = run(h, "fixer", "t3", false);
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = sre(&[
        "approve",
        home,
        "apr-2",
        "--input",
        r#"{"command": "echo edited > scratch/fix.txt"}"#,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(h, "fixer", "t3", true);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(scratch(h, "fix.txt")).unwrap(),
        "edited\n"
    );
    let (code, _, err) = sre(&["approve", home, "apr-9", "--input", "{not json"]);
    assert_eq!(code, 1);
    assert!(err.contains("--input is not JSON"), "{err}");
}

#[test]
fn always_allow_holds_for_the_rest_of_the_thread_only() {
    let dir = home();
    let h = dir.path();
    let home = h.to_str().unwrap();
    let (code, _, err) = run(h, "repeater", "t4", false);
    assert_eq!(code, 3, "{err}");
    let (code, out, _) = sre(&["approve", home, "apr-1", "--always"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("is allowed for the rest of thread t4"),
        "{out}"
    );
    // The same command again in the same thread runs without asking.
    let (code, out, err) = run(h, "repeater", "t4", true);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "twice");
    // Another thread still asks.
    let (code, _, err) = run(h, "repeater", "t5", false);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("apr-2"), "{err}");
}

#[test]
fn policies_judge_every_command_of_a_line() {
    use sre_host::store::approvals::judge;
    use sre_host::store::{Effect, PolicyRecord};
    let policy = |effect: Effect, prefix: Option<&str>| PolicyRecord {
        id: 0,
        thread: None,
        tool: "shell".into(),
        prefix: prefix.map(str::to_string),
        exact: false,
        effect,
    };
    let get = [policy(Effect::Allow, Some("kubectl get"))];
    for (line, want) in [
        ("kubectl get pods -n checkout", Some(Effect::Allow)),
        ("kubectl  'get' pods", Some(Effect::Allow)),
        ("kubectl get pods; kubectl delete pod x", None),
        ("kubectl get pods > /etc/hosts", None),
        ("kubectl getx", None),
        ("kubectl get $(rm -rf /)", None),
        ("kubectl get pods <<EOF", None),
    ] {
        assert_eq!(judge(&get, Some(line)), want, "{line}");
    }
    // Environment assignments are not the command the prefix names.
    assert_eq!(
        judge(&get, Some("KUBECONFIG=/prod-admin kubectl get pods")),
        None
    );
    assert_eq!(
        judge(&get, Some("/usr/bin/kubectl get pods")),
        Some(Effect::Allow)
    );
    let both = [
        policy(Effect::Allow, Some("kubectl get")),
        policy(Effect::Deny, Some("kubectl delete")),
    ];
    assert_eq!(
        judge(&both, Some("kubectl get pods && kubectl delete pod x")),
        Some(Effect::Deny)
    );
    // A deny finds its words in order anywhere, and in a nested shell's text.
    for line in [
        "kubectl -n prod delete pod x",
        "/usr/bin/kubectl delete pod x",
        "sh -c 'kubectl  delete pod x'",
        "kubectl get pods && kubectl  delete pod x",
    ] {
        assert_eq!(judge(&both, Some(line)), Some(Effect::Deny), "{line}");
    }
    // "Always" allows the approved command exactly, not a longer one.
    let exact = [PolicyRecord {
        exact: true,
        ..policy(Effect::Allow, Some("kubectl scale deploy web --replicas=3"))
    }];
    assert_eq!(
        judge(&exact, Some("kubectl  scale deploy web --replicas=3")),
        Some(Effect::Allow)
    );
    assert_eq!(
        judge(
            &exact,
            Some("kubectl scale deploy web --replicas=3 --replicas=0")
        ),
        None
    );
    // Fail closed: an unparsable line naming a denied command is denied.
    assert_eq!(
        judge(&both, Some("kubectl delete pod x <<EOF")),
        Some(Effect::Deny)
    );
    // A tool-wide policy holds whatever the input.
    assert_eq!(
        judge(&[policy(Effect::Allow, None)], None),
        Some(Effect::Allow)
    );
    assert_eq!(judge(&get, None), None, "a prefix needs a command");
}
