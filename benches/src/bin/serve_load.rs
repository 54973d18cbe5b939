//! `sre serve` under load, over real HTTP on 127.0.0.1, the server a child process:
//!
//! - `--mode burst --n 1000`: N Alertmanager webhooks posted at once; each one's
//!   acknowledgement latency, then a check that every one is stored (the API lists N
//!   incidents) and acknowledged 202. `--routed` sends them to a plan's agent, so that
//!   investigations (against `--model-url`) run while the burst is taken.
//! - `--mode investigations --n N --model-url URL`: N triggers, each an investigation by an
//!   agent with `read_file` against `slow_model`, `--concurrency N`; wall time until all
//!   completed, and the server's peak RSS.
//! - `--mode restart --n 100 --model-url URL` (N at most 1000): N Review investigations
//!   park on a write; the server is killed (-9) and started again; the time until it
//!   listens (after its recovery pass) and its API lists all N requests pending, then, all
//!   approved at once, until all N threads completed; the write ran once each.
//!
//! Prints one JSON line. `run_concurrency_bench.sh` runs every mode.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::flag;
use serde_json::{Value, json};

const TOKEN: &str = "bench-token-0123456789abcdef";

type Failure = Box<dyn std::error::Error>;

/// A running `sre serve`.
struct Served {
    child: Child,
    base: String,
}

impl Served {
    fn start(
        sre: &Path,
        home: &Path,
        concurrency: usize,
        model_url: &str,
    ) -> Result<Self, Failure> {
        let mut child = Command::new(sre)
            .args(["serve", &home.to_string_lossy(), "--listen", "127.0.0.1:0"])
            .args(["--concurrency", &concurrency.to_string()])
            .env("SRE_API_TOKEN", TOKEN)
            .env("OPENAI_BASE_URL", model_url)
            .env("OPENAI_API_KEY", "bench-key")
            .env("SRE_MODEL", "slow-model")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_string());
                } else if std::env::var_os("SERVE_LOAD_VERBOSE").is_some() {
                    eprintln!("serve: {line}");
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| "the server did not start")?;
        Ok(Served {
            child,
            base: format!("http://{addr}"),
        })
    }

    /// Peak RSS of the server process, MB.
    fn peak_rss_mb(&self) -> f64 {
        benches::peak_rss_mb(&self.child.id().to_string())
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> Result<reqwest::Client, Failure> {
    let mut settings = sre_core::providers::HttpSettings::new("http://127.0.0.1");
    settings.read_timeout = Duration::from_secs(120);
    Ok(sre_core::providers::http_client(&settings)?)
}

async fn post(c: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<(u16, Duration), Failure> {
    let t = Instant::now();
    let r = c
        .post(url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    r.bytes().await?;
    Ok((status, t.elapsed()))
}

async fn get(c: &reqwest::Client, url: &str) -> Result<String, Failure> {
    Ok(c.get(url).bearer_auth(TOKEN).send().await?.text().await?)
}

/// `sre_threads{status="..."}` from `/metrics`.
async fn threads_in(c: &reqwest::Client, base: &str, status: &str) -> Result<u64, Failure> {
    let text = get(c, &format!("{base}/metrics")).await?;
    let key = format!("sre_threads{{status=\"{status}\"}} ");
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0))
}

/// Poll until `status` holds `n` threads; the time it took.
async fn until_threads(
    c: &reqwest::Client,
    base: &str,
    status: &str,
    n: u64,
) -> Result<Duration, Failure> {
    let t = Instant::now();
    while threads_in(c, base, status).await? < n {
        if threads_in(c, base, "failed").await? > 0 {
            return Err(format!("threads failed while waiting for {n} {status}").into());
        }
        if t.elapsed() > Duration::from_secs(900) {
            return Err(format!("never reached {n} {status} threads").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(t.elapsed())
}

/// Post all `bodies` to `url` at once; each one's status and latency.
async fn burst(
    c: &reqwest::Client,
    url: &str,
    bodies: Vec<Vec<u8>>,
) -> Vec<Result<(u16, Duration), String>> {
    let c = Arc::new(c.clone());
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|b| {
            let (c, url) = (c.clone(), url.to_string());
            tokio::spawn(async move { post(&c, &url, b).await.map_err(|e| e.to_string()) })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap_or_else(|e| Err(e.to_string())));
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A home: one agent with `tools`, one plan sending `platform` (and `service`) to it.
fn home(
    root: &Path,
    tools: &str,
    platform: &str,
    service: Option<&str>,
    mode: &str,
) -> Result<PathBuf, Failure> {
    let h = root.join("home");
    std::fs::create_dir_all(h.join(".sre/workspace/scratch"))?;
    std::fs::write(
        h.join(".sre/workspace/notes.txt"),
        "checkout: pool size 10, p99 840 ms\n",
    )?;
    std::fs::write(
        h.join("agent.yaml"),
        format!(
            "kind: ExtendedAgent\nspec:\n  name: investigator\n  system_prompt: You investigate checkout.\n  tools: [{tools}]\n"
        ),
    )?;
    let service = service
        .map(|s| format!("  impactedService: {s}\n"))
        .unwrap_or_default();
    std::fs::write(
        h.join("plan.yaml"),
        format!(
            "kind: IncidentFilter\nmetadata: {{name: all}}\nspec:\n  incidentPlatform: {platform}\n{service}  handlingAgent: investigator\n  agentMode: {mode}\n"
        ),
    )?;
    Ok(h)
}

fn alert(i: usize, service: &str) -> Vec<u8> {
    json!({
        "version": "4", "status": "firing", "receiver": "sre", "groupKey": format!("g{i}"),
        "alerts": [{"status": "firing",
                    "labels": {"alertname": format!("CheckoutErrors{i}"), "severity": "critical", "service": service},
                    "annotations": {"summary": "5xx above 5%"}, "startsAt": "2026-11-30T08:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "fingerprint": format!("f{i}")}]
    })
    .to_string()
    .into_bytes()
}

fn trigger(i: usize) -> Vec<u8> {
    json!({"id": format!("bench-{i}"), "title": format!("checkout slow #{i}"), "service": "checkout"})
        .to_string()
        .into_bytes()
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let mode = flag(&args, "--mode", "burst");
    let n: usize = flag(&args, "--n", "1000").parse()?;
    let model_url = flag(&args, "--model-url", "http://127.0.0.1:9/v1");
    let sre = PathBuf::from(flag(
        &args,
        "--sre",
        &std::env::current_exe()?
            .with_file_name("sre")
            .to_string_lossy(),
    ));
    let routed = args.iter().any(|a| a == "--routed");
    let root = std::env::temp_dir().join(format!("sre-serve-load-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        match mode.as_str() {
            "burst" => burst_mode(&sre, &root, n, routed, &model_url).await,
            "investigations" => investigations_mode(&sre, &root, n, &model_url).await,
            "restart" => restart_mode(&sre, &root, n, &model_url).await,
            other => Err(format!("--mode {other}: burst, investigations or restart").into()),
        }
    });
    let _ = std::fs::remove_dir_all(&root);
    println!("{}", result?);
    Ok(())
}

async fn burst_mode(
    sre: &Path,
    root: &Path,
    n: usize,
    routed: bool,
    model_url: &str,
) -> Result<Value, Failure> {
    let h = home(root, "Read", "Prometheus", Some("routed"), "Autonomous")?;
    let server = Served::start(sre, &h, 8, model_url)?;
    let c = client()?;
    let service = if routed { "routed" } else { "unrouted" };
    let bodies = (0..n).map(|i| alert(i, service)).collect();
    let t = Instant::now();
    let results = burst(
        &c,
        &format!("{}/webhooks/alertmanager", server.base),
        bodies,
    )
    .await;
    let wall = t.elapsed();
    let mut ms: Vec<f64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|(_, d)| d.as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    let accepted = results.iter().filter(|r| matches!(r, Ok((202, _)))).count();
    let errors: Vec<String> = results
        .iter()
        .filter_map(|r| match r {
            Ok((202, _)) => None,
            Ok((s, _)) => Some(format!("status {s}")),
            Err(e) => Some(e.clone()),
        })
        .take(3)
        .collect();
    let listed: Value = serde_json::from_str(
        &get(&c, &format!("{}/api/incidents?limit=1000", server.base)).await?,
    )?;
    let stored = listed["incidents"].as_array().map_or(0, Vec::len);
    let rss = server.peak_rss_mb();
    server.kill();
    Ok(json!({
        "mode": "burst", "config": if routed { "routed to an agent (investigations run meanwhile, concurrency 8)" } else { "stored, no plan matches" },
        "deliveries": n, "acknowledged_202": accepted, "stored": stored, "errors": errors,
        "ack_ms_p50": percentile(&ms, 0.5), "ack_ms_p99": percentile(&ms, 0.99), "ack_ms_max": percentile(&ms, 1.0),
        "wall_s": wall.as_secs_f64(), "server_peak_rss_mb": rss,
    }))
}

async fn investigations_mode(
    sre: &Path,
    root: &Path,
    n: usize,
    model_url: &str,
) -> Result<Value, Failure> {
    let h = home(root, "Read", "Trigger", None, "Autonomous")?;
    let server = Served::start(sre, &h, n, model_url)?;
    let c = client()?;
    let t = Instant::now();
    let bodies = (0..n).map(trigger).collect();
    let results = burst(&c, &format!("{}/triggers/bench", server.base), bodies).await;
    let accepted = results.iter().filter(|r| matches!(r, Ok((202, _)))).count();
    let waited = until_threads(&c, &server.base, "completed", n as u64).await;
    let wall = t.elapsed();
    let rss = server.peak_rss_mb();
    server.kill();
    waited?;
    Ok(json!({
        "mode": "investigations", "harness": "sre serve (SQLite store, JSONL sessions fsynced)",
        "sessions": n, "accepted": accepted, "completed": n, "wall_s": wall.as_secs_f64(),
        "peak_rss_mb": rss,
    }))
}

async fn restart_mode(
    sre: &Path,
    root: &Path,
    n: usize,
    model_url: &str,
) -> Result<Value, Failure> {
    let h = home(root, "Bash", "Trigger", None, "Review")?;
    let server = Served::start(sre, &h, n, model_url)?;
    let c = client()?;
    let bodies = (0..n).map(trigger).collect();
    burst(&c, &format!("{}/triggers/bench", server.base), bodies).await;
    let parked_in = until_threads(&c, &server.base, "parked", n as u64).await?;
    server.kill(); // -9
    let t = Instant::now();
    let server = Served::start(sre, &h, n, model_url)?;
    let listening = t.elapsed();
    let mut pending = 0;
    while pending < n {
        let list: Value = serde_json::from_str(
            &get(&c, &format!("{}/api/approvals?limit=1000", server.base)).await?,
        )?;
        pending = list["approvals"].as_array().map_or(0, Vec::len);
        if t.elapsed() > Duration::from_secs(300) {
            return Err(format!("only {pending} of {n} requests listed after the restart").into());
        }
    }
    let resumable = t.elapsed();
    let t2 = Instant::now();
    let urls: Vec<String> = (1..=n)
        .map(|i| format!("{}/api/approvals/apr-{i}/approve", server.base))
        .collect();
    let mut decided = 0;
    for chunk in urls.chunks(100) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|u| {
                let (c, u) = (c.clone(), u.clone());
                tokio::spawn(async move {
                    post(&c, &u, b"{}".to_vec())
                        .await
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        for t in tasks {
            if matches!(t.await, Ok(Ok((200, _)))) {
                decided += 1;
            }
        }
    }
    let completed_in = until_threads(&c, &server.base, "completed", n as u64).await;
    let done = t2.elapsed();
    server.kill();
    completed_in?;
    let writes =
        std::fs::read_to_string(h.join(".sre/workspace/scratch/fix.txt")).unwrap_or_default();
    Ok(json!({
        "mode": "restart", "parked": n, "parked_after_s": parked_in.as_secs_f64(),
        "restart_listening_s": listening.as_secs_f64(), "restart_all_resumable_s": resumable.as_secs_f64(),
        "approved": decided, "approve_to_all_completed_s": done.as_secs_f64(),
        "writes_done": writes.lines().count(),
    }))
}
