//! The gateway's request log over two weeks: each incoming request is built into a prompt
//! by the gateway version deployed at its time (that commit's own prompt builder, run by
//! Python), sent through sre-core's OpenAI provider to the prefix-caching server, and
//! logged with the usage the provider reported and the id it gave the request.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sre_core::providers::openai::{OpenAiConfig, OpenAiModel};
use sre_core::{Message, Model, ModelRequest, SystemBlock};

use crate::prefix_cache::{PrefixCache, serve};
use crate::wire::{read_jsonl, text, time};

/// Reads the `gateway` package of a commit and builds prompts from JSON requests on stdin.
const BUILD: &str = "import json, sys\nfrom gateway.prompt import build\nfor n, line in enumerate(sys.stdin, 1):\n    try:\n        print(json.dumps(build(json.loads(line))))\n    except Exception as e:\n        sys.exit(f'request {n}: {type(e).__name__}: {e}')\n";

struct Deploy {
    version: String,
    commit: String,
    at: DateTime<Utc>,
}

/// A commit id as the deploy history must give it (hex, 7 to 40 digits): nothing git could
/// read as an option or a path.
fn commit_id(c: &str, at: &str) -> Result<String, String> {
    if (7..=40).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(c.to_string())
    } else {
        Err(format!(
            "{at}: `commit` {c:?} is not a commit id (7 to 40 hex digits)"
        ))
    }
}

/// The prompts the `gateway` package at `commit` builds for `requests`, extracted into
/// `dir`.
fn build_prompts(
    repo: &Path,
    commit: &str,
    requests: &[&Value],
    dir: &Path,
) -> Result<Vec<Value>, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let archive = Command::new("bash")
        .arg("-c")
        .arg("set -o pipefail; git -C \"$1\" archive --end-of-options \"$2\" | tar -x -C \"$3\"")
        .arg("bash")
        .arg(repo)
        .arg(commit)
        .arg(dir)
        .status()
        .map_err(|e| format!("git archive: {e}"))?;
    if !archive.success() {
        return Err(format!("git archive {commit} failed"));
    }
    let mut child = Command::new("python3")
        .args(["-c", BUILD])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("python3: {e}"))?;
    let mut input = String::new();
    for r in requests {
        input.push_str(&r.to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(format!(
            "the prompt builder of {commit} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let prompts: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("prompt builder of {commit}: {e}")))
        .collect::<Result<_, _>>()?;
    if prompts.len() != requests.len() {
        return Err(format!(
            "the prompt builder of {commit} built {} prompts for {} requests",
            prompts.len(),
            requests.len()
        ));
    }
    Ok(prompts)
}

/// Generate `out/requests.jsonl` and `out/bodies/` (which must not hold bodies yet).
pub async fn traffic(
    repo: &Path,
    deploys: &Path,
    requests: &Path,
    out: &Path,
) -> Result<(), String> {
    let bodies = out.join("bodies");
    if std::fs::read_dir(&bodies).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!(
            "{} holds bodies of an earlier run",
            bodies.display()
        ));
    }
    let mut history = Vec::new();
    for (line, d) in read_jsonl(deploys)? {
        let at = format!("{}:{line}", deploys.display());
        history.push(Deploy {
            version: text(&d, "version", &at)?,
            commit: commit_id(&text(&d, "commit", &at)?, &at)?,
            at: time(&d, "deployed_at", &at)?,
        });
    }
    history.sort_by_key(|d| d.at);
    let incoming = read_jsonl(requests)?;
    // The deploy live at each request's time.
    let mut live = Vec::with_capacity(incoming.len());
    for (line, r) in &incoming {
        let at = format!("{}:{line}", requests.display());
        let t = time(r, "time", &at)?;
        let d = history
            .iter()
            .rev()
            .find(|d| d.at <= t)
            .ok_or_else(|| format!("{at}: no deploy was live at {t}"))?;
        live.push((t, d));
    }
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut prompts: Vec<Option<Value>> = vec![None; incoming.len()];
    let mut by_commit: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (_, d)) in live.iter().enumerate() {
        by_commit.entry(&d.commit).or_default().push(i);
    }
    for (k, (commit, idx)) in by_commit.iter().enumerate() {
        let reqs: Vec<&Value> = idx.iter().map(|&i| &incoming[i].1).collect();
        let built = build_prompts(repo, commit, &reqs, &scratch.path().join(k.to_string()))?;
        for (&i, p) in idx.iter().zip(built) {
            prompts[i] = Some(p);
        }
    }
    let base = serve(PrefixCache::new(bodies)?).await?;
    let mut models: BTreeMap<String, OpenAiModel> = BTreeMap::new();
    let log_path = out.join("requests.jsonl");
    let mut log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    for (n, ((t, deploy), prompt)) in live.iter().zip(prompts).enumerate() {
        let at = format!("{}:{}", requests.display(), incoming[n].0);
        let prompt = prompt.ok_or_else(|| format!("{at}: not built"))?;
        let model_name = text(&prompt, "model", &format!("{at}: its prompt"))?;
        if !models.contains_key(&model_name) {
            let m = OpenAiModel::new(OpenAiConfig::new(base.clone(), model_name.clone()))
                .map_err(|e| e.to_string())?;
            models.insert(model_name.clone(), m);
        }
        let mut request = ModelRequest {
            max_output_tokens: 256,
            agent: "gateway".into(),
            ..ModelRequest::default()
        };
        for m in prompt["messages"].as_array().into_iter().flatten() {
            let content = m["content"].as_str().unwrap_or_default();
            match m["role"].as_str() {
                Some("system") => request.system.push(SystemBlock {
                    name: "system".into(),
                    text: content.into(),
                }),
                _ => request.messages.push(Message::user(content)),
            }
        }
        let response = models[&model_name]
            .complete(&request)
            .await
            .map_err(|e| format!("{at}: {e}"))?;
        let u = response.usage;
        let record = json!({
            "request_id": response.request_id,
            "time": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "route": incoming[n].1["route"],
            "model": model_name,
            "prompt_tokens": u.prompt_tokens(),
            "cached_tokens": u.cache_read_tokens,
            "deploy_version": deploy.version,
        });
        writeln!(log, "{record}").map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_must_be_hex_and_nothing_git_reads_as_an_option_or_a_path() {
        assert!(commit_id("3ab47ca54ef9", "d:1").is_ok());
        for bad in ["--output=/tmp/x", "../../x", "HEAD", "abc", &"a".repeat(41)] {
            assert!(
                commit_id(bad, "d:1")
                    .unwrap_err()
                    .starts_with("d:1: `commit`"),
                "{bad}"
            );
        }
    }
}
