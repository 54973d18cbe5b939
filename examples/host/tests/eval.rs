//! `sre eval` end to end on the starter suite (examples/evals/starter): 21 cases on real
//! workspaces (files, git repositories made by setup scripts) and mocked tools (HolmesGPT's
//! format), run by the default investigator with scripted models: one that investigates
//! well, one that answers at once and wrongly, one that never concludes. The scoring must
//! tell them apart; an LLM judge (scripted) decides and its reasoning is kept.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn suite() -> std::path::PathBuf {
    repo().join("examples/evals/starter")
}

fn results(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_starter_suite_tells_a_right_model_from_a_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let (right, wrong) = (dir.path().join("right"), dir.path().join("wrong"));
    let (code, stdout, stderr) = output(
        sre()
            .arg("eval")
            .arg(suite())
            .args(["--script", "right", "--jobs", "2", "--out"])
            .arg(&right),
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("21 of 21 runs passed (100.0%)"), "{stdout}");
    let r = results(&right);
    assert_eq!(r["runs"].as_array().unwrap().len(), 21);
    // Real tools ran: the git cases read their repositories, the mocked ones their mocks.
    let tools_of = |case: &str| -> Vec<String> {
        r["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["case"] == case)
            .unwrap()["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect()
    };
    assert!(tools_of("02_bad_deploy").contains(&"git_log".to_string()));
    assert!(tools_of("18_crashloop_missing_env").contains(&"kubectl_describe".to_string()));
    for name in ["results.json", "report.md", "report.html"] {
        assert!(right.join(name).is_file(), "{name}");
    }
    let (code, stdout, _) = output(
        sre()
            .arg("eval")
            .arg(suite())
            .args(["--script", "wrong", "--jobs", "2", "--out"])
            .arg(&wrong),
    );
    assert_eq!(code, 3, "{stdout}");
    assert!(stdout.contains("0 of 21 runs passed (0.0%)"), "{stdout}");
    let w = results(&wrong);
    let noisy = w["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["case"] == "10_noisy_alert")
        .unwrap();
    let reasons = noisy["reasons"].to_string();
    assert!(
        reasons.contains("the answer mentions `restart`") && reasons.contains("missing:"),
        "{reasons}"
    );
    // Side by side.
    let (code, stdout, stderr) = output(sre().args(["eval", "compare"]).arg(&wrong).arg(&right));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("pass rate 0.0% -> 100.0% (+100.0 pts)"),
        "{stdout}"
    );
    assert!(stdout.contains("01_pool_exhaustion"), "{stdout}");
}

#[test]
fn a_model_that_never_concludes_fails_on_the_turn_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(
        sre()
            .arg("eval")
            .arg(suite())
            .args(["--script", "never-stops", "--only", "07_config", "--out"])
            .arg(dir.path()),
    );
    assert_eq!(code, 3, "{stdout}\n{stderr}");
    let r = results(dir.path());
    let run = &r["runs"][0];
    assert_eq!(run["status"], "failed");
    assert!(
        run["reasons"].to_string().contains("MaxTurns"),
        "{}",
        run["reasons"]
    );
    assert_eq!(run["turns"], 50);
}

#[test]
fn an_llm_judge_decides_and_its_reasoning_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let judge = dir.path().join("judge.yaml");
    std::fs::write(
        &judge,
        r#"agents:
  eval-judge:
    - when: {last_message_contains: ["active 10, idle 0", "~28 s"]}
      final: '{"elements": [{"element": "pool", "present": true, "why": "says the pool is exhausted"}, {"element": "numbers", "present": true, "why": "waiting 39"}, {"element": "ledger", "present": true, "why": "names the ledger call"}], "pass": true}'
    - when: {last_message_contains: ["<answer>"]}
      final: '{"elements": [{"element": "pool", "present": false, "why": "blames the network"}], "pass": false}'
"#,
    )
    .unwrap();
    let judge_arg = format!("script:{}", judge.display());
    for (script, want) in [("right", 0), ("wrong", 3)] {
        let out = dir.path().join(script);
        let (code, stdout, stderr) = output(
            sre()
                .arg("eval")
                .arg(suite())
                .args([
                    "--script", script, "--only", "01_pool", "--judge", &judge_arg,
                ])
                .arg("--out")
                .arg(&out),
        );
        assert_eq!(code, want, "{stdout}\n{stderr}");
        let run = &results(&out)["runs"][0];
        let reasoning = run["verdict"]["reasoning"].as_str().unwrap();
        if want == 0 {
            assert!(reasoning.contains("names the ledger call"), "{reasoning}");
        } else {
            assert!(reasoning.contains("blames the network"), "{reasoning}");
            assert!(run["reasons"].to_string().contains("missing: pool"));
        }
        assert!(stdout.contains("judge model scripted"), "{stdout}");
    }
}

#[test]
fn repeat_runs_each_case_and_a_broken_suite_names_every_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    // A relative suite path: the setup script of a case is still found from the run's
    // workspace.
    let (code, stdout, stderr) = output(
        sre()
            .current_dir(repo())
            .args(["eval", "examples/evals/starter", "--script", "right"])
            .args(["--only", "02_bad", "--only", "16_feature"])
            .args(["--repeat", "2", "--jobs", "2", "--out"])
            .arg(dir.path().join("r")),
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("4 of 4 runs passed"), "{stdout}");
    let bad = dir.path().join("bad");
    for (case, yaml, mock) in [
        ("01_a", "expected_output: [x]\n", None),
        (
            "02_b",
            "user_prompt: hi\nexpected_output: [\"x\"]\n",
            Some("{\"tool_name\": 3}\nout\n"),
        ),
        ("03_c", "user_prompt: hi\nexpected: [x]\n", None),
    ] {
        std::fs::create_dir_all(bad.join(case)).unwrap();
        std::fs::write(bad.join(case).join("test_case.yaml"), yaml).unwrap();
        if let Some(m) = mock {
            std::fs::write(bad.join(case).join("m.txt"), m).unwrap();
        }
    }
    let (code, _, stderr) = output(sre().arg("eval").arg(&bad).args(["--script", "right"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("01_a/test_case.yaml: `user_prompt` is required"),
        "{stderr}"
    );
    // A .txt that is not a mock is skipped with a warning, as HolmesGPT does.
    assert!(!stderr.contains("02_b"), "{stderr}");
    assert!(
        stderr.contains("03_c/test_case.yaml: unknown field `expected`"),
        "{stderr}"
    );
}
