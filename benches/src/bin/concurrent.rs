//! Many investigations at once in one process: `--sessions N` runs of one agent (the
//! OpenAI-compatible provider against `slow_model`, one in-process tool), all started
//! together on a 2-worker runtime. Prints one JSON line: wall time, runs completed, peak
//! RSS. `run_concurrency_bench.sh` runs it beside the Python peer.
//!
//! ```text
//! concurrent --base-url http://127.0.0.1:PORT/v1 --sessions 1000 [--store memory|jsonl]
//! ```
//!
//! `--store jsonl` writes every session's transcript to its own JSONL file, fsynced at each
//! step (the reference host's durable default); `memory` keeps transcripts in memory, as
//! the Python peer does.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use benches::flag;
use serde_json::{Value, json};
use sre_core::providers::HttpSettings;
use sre_core::providers::openai::{OpenAiConfig, OpenAiModel};
use sre_core::{
    Agent, AgentLoop, InMemorySessionStore, JsonlSessionStore, Session, SessionStore, StopCause,
    Tool, ToolContext, ToolError, ToolOutput, ToolSpec,
};

/// The investigation's one tool: an instant lookup, as the peer's.
struct Lookup(ToolSpec);

#[async_trait]
impl Tool for Lookup {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }
    async fn call(&self, input: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::ok(format!(
            "step {}: 12 rows, p99 latency 840 ms",
            input["step"]
        )))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let base_url = flag(&args, "--base-url", "http://127.0.0.1:8000/v1");
    let sessions: usize = flag(&args, "--sessions", "10").parse()?;
    let store_kind = flag(&args, "--store", "memory");
    let dir = tempdir()?;
    let store: Arc<dyn SessionStore> = match store_kind.as_str() {
        "memory" => Arc::new(InMemorySessionStore::new()),
        "jsonl" => Arc::new(JsonlSessionStore::new(&dir)?),
        other => return Err(format!("--store {other}: memory or jsonl").into()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut config = OpenAiConfig::new(&base_url, "slow-model");
    config.http = HttpSettings::new(&base_url);
    config.api_key = Some("bench-key".into());
    let tool: Arc<dyn Tool> = Arc::new(Lookup(ToolSpec {
        name: "lookup".into(),
        description: "Look up one step of the investigation.".into(),
        input_schema: json!({"type": "object", "properties": {"step": {"type": "integer"}},
                             "required": ["step"]}),
    }));
    let agent = Arc::new(
        AgentLoop::builder(Arc::new(OpenAiModel::new(config)?))
            .system_prompt("You investigate checkout latency. Use lookup, then answer.")
            .tools(vec![tool])
            .session_store(store)
            .max_turns(50)
            .build()?,
    );
    let completed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    rt.block_on(async {
        let mut runs = Vec::with_capacity(sessions);
        for i in 0..sessions {
            let (agent, completed) = (agent.clone(), completed.clone());
            runs.push(tokio::spawn(async move {
                let session = Session::new(format!("inv-{i}"));
                match agent
                    .run(&session, "Checkout p99 latency doubled at 08:00. Why?")
                    .await
                {
                    Ok(o) if o.cause == StopCause::Completed => {
                        completed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(o) => eprintln!("inv-{i}: ended {:?}", o.cause),
                    Err(e) => eprintln!("inv-{i}: {e}"),
                }
            }));
        }
        for r in runs {
            let _ = r.await;
        }
    });
    let wall = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "harness": format!("sre-harness ({store_kind})"),
            "sessions": sessions,
            "completed": completed.load(Ordering::Relaxed),
            "wall_s": wall,
            "peak_rss_mb": benches::peak_rss_mb("self"),
        })
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A fresh folder for the JSONL transcripts.
fn tempdir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("sre-concurrent-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
