//! Reference agent (b): the prompt-cache regression, "the agent that investigates itself".
//! `examples/team/lab/gateway-lab.sh` builds an LLM gateway's repository (one pull request
//! among ordinary commits reorders the prompt's sections) and two weeks of its request log,
//! produced by running each deploy's own prompt builder through sre-core's OpenAI provider
//! against `sre-lab`'s prefix-caching server. Offline, with the scripted model of
//! `examples/scripts/team-gateway-cache.yaml`, the prompt-cache-analyst must find both
//! published findings and write both fixes on a new branch with a test, without pushing.
//! This test checks its figures against the log itself, and its fixes for real: the new
//! test fails on the old code, the fixed prompt builder gets the hit rate back through the
//! same server, and the fixed alert stops paging on the small model.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::*;
use serde_json::Value;

fn lab_script() -> std::path::PathBuf {
    repo().join("examples/team/lab/gateway-lab.sh")
}

fn log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Hit rate in percent (cached / prompt tokens) of `model`'s requests that `keep` keeps.
fn rate(rows: &[Value], model: &str, keep: impl Fn(&Value) -> bool) -> f64 {
    let (mut prompt, mut cached) = (0u64, 0u64);
    for r in rows.iter().filter(|r| r["model"] == model && keep(r)) {
        prompt += r["prompt_tokens"].as_u64().unwrap();
        cached += r["cached_tokens"].as_u64().unwrap();
    }
    cached as f64 * 100.0 / prompt as f64
}

/// The same, as the agent prints it (one decimal).
fn hit_rate(rows: &[Value], model: &str, keep: impl Fn(&Value) -> bool) -> String {
    format!("{:.1}%", rate(rows, model, keep))
}

/// What `python3 -c CODE` prints in `dir`, and whether it succeeded.
fn python(dir: &Path, code: &str) -> (bool, String) {
    let out = Command::new("python3")
        .args(["-c", code])
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn prompt_cache_analyst_finds_both_causes_and_writes_both_fixes_unpushed() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let out = Command::new(lab_script())
        .arg(&ws)
        .env("SRE_LAB", env!("CARGO_BIN_EXE_sre-lab"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the lab did not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gateway = ws.join("repos/llm-gateway");
    let main_before = git(&gateway, &["rev-parse", "main"]);
    let rows = log(&ws.join("data/requests.jsonl"));
    assert_eq!(rows.len(), 336);

    // The published findings hold in the log the provider produced.
    let small: Vec<&Value> = rows
        .iter()
        .filter(|r| r["model"] == "gpt-4.1-mini")
        .collect();
    assert_eq!(small.len(), 112);
    assert!(
        small
            .iter()
            .all(|r| r["prompt_tokens"].as_u64().unwrap() < 1024)
    );
    assert!(small.iter().all(|r| r["cached_tokens"] == 0));
    let by_version = |v: &'static str| move |r: &Value| r["deploy_version"] == v;
    assert_eq!(hit_rate(&rows, "gpt-4.1", by_version("v1.7.1")), "71.9%");
    assert_eq!(hit_rate(&rows, "gpt-4.1", by_version("v1.8.0")), "49.7%");

    let ran = Instant::now();
    let (code, stdout, stderr) = output(
        sre()
            .args([
                "run",
                "--agent",
                "prompt-cache-analyst",
                "--json",
                "--approve",
                "none",
            ])
            .arg("--script")
            .arg(repo().join("examples/scripts/team-gateway-cache.yaml"))
            .arg("--workspace")
            .arg(&ws)
            .arg(team_home())
            .arg("The prompt-cache hit rate alert of llm-gateway fires. Investigate."),
    );
    let wall = ran.elapsed();
    assert_eq!(code, 0, "stderr:\n{stderr}");
    let events = events(&stdout);
    let calls: Vec<(String, String)> = finished_calls(&events)
        .into_iter()
        .map(|c| (c.name, c.output))
        .collect();
    let outputs_of = |tool: &str| -> Vec<&str> {
        calls
            .iter()
            .filter(|(n, _)| n == tool)
            .map(|(_, o)| o.as_str())
            .collect()
    };
    // The one push was refused before it ran, by the no-push hook.
    let refused = of_type(&events, "tool_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    let reason = refused[0]["kind"]["reason"].as_str().unwrap();
    assert!(reason.contains("pushing is not allowed"), "{reason}");

    // The answer's figures: each one computed here from the log and the repository.
    let answer = answer(&events, "prompt-cache-analyst");
    let day = |d: &'static str| move |r: &Value| r["time"].as_str().unwrap().starts_with(d);
    let pr = git(
        &gateway,
        &[
            "log",
            "--all",
            "--no-merges",
            "--format=%H",
            "--grep=Put the tenant context ahead",
        ],
    );
    let merge = git(
        &gateway,
        &["log", "--format=%H", "--grep=Merge pull request #42"],
    );
    let deploys = log(&ws.join("data/deploys.jsonl"));
    let v180 = deploys.iter().find(|d| d["version"] == "v1.8.0").unwrap();
    for figure in [
        "All 112 of its requests".to_string(),
        format!(
            "{}..{} prompt tokens",
            small
                .iter()
                .map(|r| r["prompt_tokens"].as_u64().unwrap())
                .min()
                .unwrap(),
            small
                .iter()
                .map(|r| r["prompt_tokens"].as_u64().unwrap())
                .max()
                .unwrap()
        ),
        format!(
            "v1.7.0 {}",
            hit_rate(&rows, "gpt-4.1", by_version("v1.7.0"))
        ),
        format!(
            "v1.7.1 {}",
            hit_rate(&rows, "gpt-4.1", by_version("v1.7.1"))
        ),
        format!(
            "v1.8.0 {}",
            hit_rate(&rows, "gpt-4.1", by_version("v1.8.0"))
        ),
        format!(
            "v1.8.1 {}",
            hit_rate(&rows, "gpt-4.1", by_version("v1.8.1"))
        ),
        format!(
            "{} on 2026-11-08",
            hit_rate(&rows, "gpt-4.1", day("2026-11-08"))
        ),
        format!(
            "{} on 2026-11-09",
            hit_rate(&rows, "gpt-4.1", day("2026-11-09"))
        ),
        format!("commit {}", &v180["commit"].as_str().unwrap()[..12]),
        v180["deployed_at"].as_str().unwrap().to_string(),
        format!("commit {}", &pr[..12]),
        format!("merged as {}", &merge[..12]),
    ] {
        assert!(answer.contains(&figure), "{figure} not in:\n{answer}");
    }
    for d in ["2026-11-10", "2026-11-15"] {
        assert_eq!(hit_rate(&rows, "gpt-4.1", day(d)), "49.7%", "{d}");
    }
    // Cached tokens per request around the deploy, and the two prefix reports.
    let cached = |id: &str| {
        rows.iter().find(|r| r["request_id"] == id).unwrap()["cached_tokens"]
            .as_u64()
            .unwrap()
    };
    assert_eq!([cached("req-0181"), cached("req-0182")], [1664, 1664]);
    assert_eq!([cached("req-0184"), cached("req-0185")], [1152, 1152]);
    // (The two calls run at once: their results come in either order.)
    let mut reports = outputs_of("prefix_report");
    reports.sort_by_key(|r| !r.contains("data/bodies/0181.json"));
    assert_eq!(reports.len(), 2);
    assert!(
        reports[0].contains("common prefix: 7153 bytes") && answer.contains("7153 bytes"),
        "{}",
        reports[0]
    );
    assert!(
        reports[0].contains("from after the change.\\n\\n# Context"),
        "{}",
        reports[0]
    );
    assert!(reports[1].contains("common prefix: 4720 bytes") && answer.contains("4720 bytes"));
    assert!(
        reports[1].contains("RFC 3339 start\\n\\n# Context"),
        "{}",
        reports[1]
    );
    let body = |n: &str| std::fs::read(ws.join(format!("data/bodies/{n}.json"))).unwrap();
    let before = sre_core::prefix_report(&body("0181"), &body("0182"));
    let after = sre_core::prefix_report(&body("0184"), &body("0185"));
    assert_eq!((before.common_bytes, after.common_bytes), (7153, 4720));

    // The fixes: one commit on a new branch of the agent's clone, nothing pushed.
    let clone = ws.join("scratch/llm-gateway");
    assert_eq!(
        git(&clone, &["branch", "--show-current"]),
        "fix/prompt-cache-prefix"
    );
    assert_eq!(git(&clone, &["rev-list", "--count", "main..HEAD"]), "1");
    assert_eq!(
        git(&clone, &["diff", "--name-only", "main", "HEAD"]),
        "gateway/alerts.py\ngateway/prompt.py\ntests/test_prompt_cache.py"
    );
    assert_eq!(git(&gateway, &["rev-parse", "main"]), main_before);
    assert_eq!(
        git(&gateway, &["branch", "--list", "--format=%(refname:short)"]),
        "main"
    );
    let remote = ws.join("remote/llm-gateway.git");
    assert_eq!(
        git(
            &remote,
            &[
                "for-each-ref",
                "--format=%(refname) %(objectname)",
                "refs/heads"
            ]
        ),
        format!("refs/heads/main {main_before}")
    );
    let patches: Vec<_> = std::fs::read_dir(ws.join("scratch"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".patch"))
        .collect();
    assert_eq!(patches.len(), 1);
    // The new test passes on the branch and fails on main's code.
    let unittest = "import sys, unittest; r = unittest.TextTestRunner(verbosity=0).run(unittest.defaultTestLoader.loadTestsFromName('tests.test_prompt_cache')); sys.exit(not r.wasSuccessful())";
    assert!(python(&clone, unittest).0);
    git(&clone, &["checkout", "-q", "main", "--", "gateway"]);
    let (ok, printed) = python(&clone, unittest);
    assert!(!ok && printed.contains("failures=2"), "{printed}");
    git(&clone, &["checkout", "-q", "HEAD", "--", "gateway"]);
    // The fixed alert over the real log: the small model no longer pages.
    let alerts = "import json, sys\nfrom gateway.alerts import cache_hit_rate_alerts\nrows = [json.loads(l) for l in open(sys.argv[1])]\nprint(cache_hit_rate_alerts(rows))";
    let run_alerts = |dir: &Path| {
        let out = Command::new("python3")
            .args(["-c", alerts])
            .arg(ws.join("data/requests.jsonl"))
            .current_dir(dir)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        run_alerts(&gateway),
        "['prompt-cache hit rate of gpt-4.1-mini is 0% (floor 50%)']"
    );
    assert_eq!(run_alerts(&clone), "[]");
    // The fixed prompt builder, deployed, through the same provider and server: the hit
    // rate of the large model is back.
    let fixed = dir.path().join("fixed");
    std::fs::create_dir_all(&fixed).unwrap();
    let head = git(&clone, &["rev-parse", "HEAD"]);
    std::fs::write(
        fixed.join("deploys.jsonl"),
        format!("{{\"version\": \"v1.8.2\", \"commit\": \"{head}\", \"deployed_at\": \"2026-11-16T00:00:00Z\"}}\n"),
    )
    .unwrap();
    let incoming = Command::new("python3")
        .arg(repo().join("examples/team/lab/gateway_requests.py"))
        .args(["2026-11-16", "2"])
        .output()
        .unwrap();
    std::fs::write(fixed.join("incoming.jsonl"), incoming.stdout).unwrap();
    let traffic = Command::new(env!("CARGO_BIN_EXE_sre-lab"))
        .arg("gateway-traffic")
        .arg("--repo")
        .arg(&clone)
        .arg("--deploys")
        .arg(fixed.join("deploys.jsonl"))
        .arg("--requests")
        .arg(fixed.join("incoming.jsonl"))
        .arg("--out")
        .arg(&fixed)
        .output()
        .unwrap();
    assert!(
        traffic.status.success(),
        "{}",
        String::from_utf8_lossy(&traffic.stderr)
    );
    let fixed_rows = log(&fixed.join("requests.jsonl"));
    let warm = |r: &Value| r["time"].as_str().unwrap() >= "2026-11-17";
    let restored = hit_rate(&fixed_rows, "gpt-4.1", warm);
    assert!(rate(&fixed_rows, "gpt-4.1", warm) > 70.0, "{restored}");

    // The figures of this reference agent (tokens estimated by the scripted model: bytes/4).
    let (mut input, mut output_tokens, mut turns) = (0, 0, 0);
    for e in &events {
        if e["kind"]["type"] == "model_response" {
            turns += 1;
            input += e["kind"]["usage"]["input_tokens"].as_u64().unwrap();
            output_tokens += e["kind"]["usage"]["output_tokens"].as_u64().unwrap();
        }
    }
    println!(
        "reference agent (b) prompt-cache-analyst, offline: {:.2} s wall, {turns} model turns, {} tool calls, {input} input + {output_tokens} output tokens (estimated, bytes/4); gpt-4.1 hit rate {} on v1.7.1, {} on v1.8.0, {restored} with the fix",
        wall.as_secs_f64(),
        calls.len(),
        hit_rate(&rows, "gpt-4.1", by_version("v1.7.1")),
        hit_rate(&rows, "gpt-4.1", by_version("v1.8.0")),
    );
}

/// The PreToolUse hook that keeps the agent from pushing: a push anywhere in a command line
/// is refused (exit 2), a command that only mentions one is not.
#[test]
fn the_no_push_hook_refuses_pushes_and_nothing_else() {
    let hook = repo().join("examples/team/hooks/no-push.py");
    let cases = [
        ("git push origin fix", true),
        ("cd scratch/x && git -C . -c a=b push -u origin fix", true),
        ("git log; /usr/bin/git --no-pager push", true),
        ("bash -c 'git status && git push'", true),
        ("bash -lc 'git push'", true),
        ("sh -ec \"cd x; git push\"", true),
        ("if true; then git push; fi", true),
        ("{ git push; }", true),
        ("! git push", true),
        ("sudo -u dev git push", true),
        ("env -C dir git push", true),
        ("timeout -s KILL 30 git push", true),
        ("GIT=git; $GIT push", true),
        ("git -c alias.ship=push ship", true),
        ("git send-pack origin", true),
        (
            "python3 -c 'import subprocess; subprocess.run([\"git\", \"push\"])'",
            true,
        ),
        ("eval git push", true),
        ("git 'unterminated", true),
        ("echo git push", true),
        ("git status", false),
        (
            "git commit -q -m 'Restore the cacheable prompt prefix'",
            false,
        ),
        (
            "git clone -q repos/x scratch/x && git -C scratch/x checkout -b fix/y",
            false,
        ),
        ("python3 -m unittest discover -s tests -t .", false),
    ];
    for (command, refused) in cases {
        let input = serde_json::json!({"tool_name": "shell", "tool_input": {"command": command}});
        let out = run_hook(&hook, &input);
        assert_eq!(out.status.code() == Some(2), refused, "{command}: {out:?}");
    }
    // Python code through ExecutePythonCode.
    for (code, refused) in [
        ("import subprocess\nsubprocess.run(['git', 'push'])", true),
        ("import os; os.system('GIT_DIR=x git push')", true),
        ("print(sum(range(10)))", false),
    ] {
        let input = serde_json::json!({"tool_name": "python", "tool_input": {"code": code}});
        let out = run_hook(&hook, &input);
        assert_eq!(out.status.code() == Some(2), refused, "{code}: {out:?}");
    }
}

fn run_hook(hook: &Path, input: &Value) -> std::process::Output {
    let mut child = Command::new(hook)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.to_string().as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}
