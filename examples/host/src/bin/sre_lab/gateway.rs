//! The gateway's request log over two weeks: each incoming request is built into a prompt
//! by the gateway version deployed at its time (that commit's own prompt builder, run by
//! Python), sent through sre-core's OpenAI provider to the prefix-caching server, and
//! logged with the usage the provider reported.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use sre_core::providers::openai::{OpenAiConfig, OpenAiModel};
use sre_core::{Message, Model, ModelRequest, SystemBlock};

use crate::prefix_cache::{PrefixCache, serve};

/// Reads the `gateway` package of a commit and builds prompts from JSON requests on stdin.
const BUILD: &str = "import json, sys\nfrom gateway.prompt import build\nfor line in sys.stdin:\n    print(json.dumps(build(json.loads(line))))\n";

struct Deploy {
    version: String,
    commit: String,
    at: String,
}

fn read_jsonl(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

fn field(v: &Value, name: &str, at: &str) -> Result<String, String> {
    v[name]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{at}: `{name}` is missing or not a string"))
}

/// The prompts the `gateway` package at `commit` builds for `requests`.
fn build_prompts(
    repo: &Path,
    commit: &str,
    requests: &[&Value],
    scratch: &Path,
) -> Result<Vec<Value>, String> {
    let dir = scratch.join(commit);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let archive = Command::new("sh")
        .arg("-c")
        .arg("git -C \"$1\" archive \"$2\" | tar -x -C \"$3\"")
        .args(["sh"])
        .arg(repo)
        .arg(commit)
        .arg(&dir)
        .status()
        .map_err(|e| format!("git archive: {e}"))?;
    if !archive.success() {
        return Err(format!("git archive {commit} failed"));
    }
    let mut child = Command::new("python3")
        .args(["-c", BUILD])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
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
        return Err(format!("the prompt builder of {commit} failed"));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("prompt builder output: {e}")))
        .collect()
}

/// Generate `out/requests.jsonl` and `out/bodies/`.
pub async fn traffic(
    repo: &Path,
    deploys: &Path,
    requests: &Path,
    out: &Path,
) -> Result<(), String> {
    let mut history = Vec::new();
    for (i, d) in read_jsonl(deploys)?.iter().enumerate() {
        let at = format!("{}:{}", deploys.display(), i + 1);
        history.push(Deploy {
            version: field(d, "version", &at)?,
            commit: field(d, "commit", &at)?,
            at: field(d, "deployed_at", &at)?,
        });
    }
    history.sort_by(|a, b| a.at.cmp(&b.at));
    let incoming = read_jsonl(requests)?;
    // The deploy live at each request's time (RFC 3339 UTC strings compare as times).
    let mut live = Vec::with_capacity(incoming.len());
    for (i, r) in incoming.iter().enumerate() {
        let time = field(r, "time", &format!("{}:{}", requests.display(), i + 1))?;
        let d = history
            .iter()
            .rev()
            .find(|d| d.at <= time)
            .ok_or_else(|| format!("no deploy was live at {time}"))?;
        live.push((time, d));
    }
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut prompts: Vec<Option<Value>> = vec![None; incoming.len()];
    let mut by_commit: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (_, d)) in live.iter().enumerate() {
        by_commit.entry(&d.commit).or_default().push(i);
    }
    for (commit, idx) in &by_commit {
        let reqs: Vec<&Value> = idx.iter().map(|&i| &incoming[i]).collect();
        let built = build_prompts(repo, commit, &reqs, scratch.path())?;
        for (&i, p) in idx.iter().zip(built) {
            prompts[i] = Some(p);
        }
    }
    let base = serve(PrefixCache::new(out.join("bodies"))?).await?;
    let mut models: BTreeMap<String, OpenAiModel> = BTreeMap::new();
    let log_path = out.join("requests.jsonl");
    let mut log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    for (n, ((time, deploy), prompt)) in live.iter().zip(prompts).enumerate() {
        let prompt = prompt.ok_or("a request was not built")?;
        let model_name = field(&prompt, "model", "prompt")?;
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
            let text = m["content"].as_str().unwrap_or_default();
            match m["role"].as_str() {
                Some("system") => request.system.push(SystemBlock {
                    name: "system".into(),
                    text: text.into(),
                }),
                _ => request.messages.push(Message::user(text)),
            }
        }
        let response = models[&model_name]
            .complete(&request)
            .await
            .map_err(|e| format!("request {}: {e}", n + 1))?;
        let u = response.usage;
        let record = json!({
            "request_id": format!("req-{:04}", n + 1),
            "time": time,
            "route": incoming[n]["route"],
            "model": model_name,
            "prompt_tokens": u.prompt_tokens(),
            "cached_tokens": u.cache_read_tokens,
            "deploy_version": deploy.version,
        });
        writeln!(log, "{record}").map_err(|e| e.to_string())?;
    }
    Ok(())
}
