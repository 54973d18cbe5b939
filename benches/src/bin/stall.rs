//! Does a slow disk stall other sessions? Many concurrent sessions write fsynced JSONL
//! transcripts while a ticker task, due every millisecond, measures how late the runtime
//! lets it run. Side by side in one run: the store as shipped (appends on tokio's blocking
//! pool) and the same store doing each append and fsync inline on the runtime thread (as
//! it did before), on a current-thread runtime and on a two-worker runtime.
//!
//! Run: `cargo run --release -p benches --bin stall [-- SESSIONS TURNS]`

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};
use sre_core::session::LoadedSession;
use sre_core::{
    Agent, AgentLoop, ContentBlock, JsonlSessionStore, Model, ModelError, ModelInfo, ModelRequest,
    ModelResponse, Role, Session, SessionLock, SessionRecord, SessionStore, StopReason, Tool,
    ToolContext, ToolError, ToolOutput, ToolSpec, Usage,
};

/// A tool call per turn until `turns`, then an answer.
struct Instant2 {
    info: ModelInfo,
    turns: usize,
}

#[async_trait]
impl Model for Instant2 {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let done = request
            .messages
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .count();
        let (content, stop_reason) = if done + 1 < self.turns {
            (
                vec![ContentBlock::ToolUse {
                    id: format!("c{done}"),
                    name: "noop".into(),
                    input: json!({}),
                }],
                StopReason::ToolUse,
            )
        } else {
            (vec![ContentBlock::text("done")], StopReason::EndTurn)
        };
        Ok(ModelResponse {
            content,
            stop_reason,
            usage: Usage::default(),
            request_id: None,
        })
    }
}

struct Noop(ToolSpec);

#[async_trait]
impl Tool for Noop {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }
    fn annotations(&self) -> sre_core::ToolAnnotations {
        sre_core::ToolAnnotations::read_only()
    }
    async fn call(&self, _input: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::ok("ok"))
    }
}

/// The shipped JSONL store, except that appends write and fsync inline on the calling
/// (runtime) thread.
struct Inline {
    inner: JsonlSessionStore,
    dir: PathBuf,
}

#[async_trait]
impl SessionStore for Inline {
    async fn load(&self, id: &str) -> sre_core::Result<LoadedSession> {
        self.inner.load(id).await
    }
    async fn append(&self, id: &str, records: &[SessionRecord]) -> sre_core::Result<()> {
        let path = self.dir.join(format!("{id}.jsonl"));
        let mut buf = Vec::new();
        for r in records {
            serde_json::to_writer(&mut buf, r)
                .map_err(|e| sre_core::Error::Config(e.to_string()))?;
            buf.push(b'\n');
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| sre_core::Error::io(&path, e))?;
        f.write_all(&buf)
            .map_err(|e| sre_core::Error::io(&path, e))?;
        f.sync_data().map_err(|e| sre_core::Error::io(&path, e))
    }
    async fn lock(&self, id: &str) -> sre_core::Result<SessionLock> {
        // Same lock semantics; appends above bypass the store's own file handle.
        self.inner.lock(id).await
    }
}

struct Figures {
    wall: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn measure(store: Arc<dyn SessionStore>, sessions: usize, turns: usize, workers: usize) -> Figures {
    let rt = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
    .expect("runtime");
    let agent = AgentLoop::builder(Arc::new(Instant2 {
        info: ModelInfo::new("instant", 1_000_000),
        turns,
    }))
    .tool(Arc::new(Noop(ToolSpec {
        name: "noop".into(),
        description: "does nothing".into(),
        input_schema: json!({"type": "object"}),
    })))
    .session_store(store)
    .max_turns(1000)
    .build()
    .expect("agent");
    let lateness = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let stop = tokio_util_token();
        let ticker = {
            let (lateness, stop) = (lateness.clone(), stop.clone());
            tokio::spawn(async move {
                let period = Duration::from_millis(1);
                let mut due = Instant::now() + period;
                while !stop.is_cancelled() {
                    tokio::time::sleep_until(due.into()).await;
                    let late = Instant::now().saturating_duration_since(due);
                    lateness
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(late);
                    due = Instant::now() + period;
                }
            })
        };
        let started = Instant::now();
        let runs: Vec<_> = (0..sessions)
            .map(|i| {
                let agent = agent.clone();
                tokio::spawn(async move {
                    let session = Session::new(format!("s{i}-{}", std::process::id()));
                    agent.run(&session, "go").await
                })
            })
            .collect();
        for r in runs {
            let outcome = r.await.expect("task").expect("run");
            assert_eq!(outcome.answer.as_deref(), Some("done"));
        }
        let wall = started.elapsed();
        stop.cancel();
        let _ = ticker.await;
        let mut l = lateness.lock().unwrap_or_else(|p| p.into_inner()).clone();
        l.sort();
        let at = |q: f64| {
            l.get(((l.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or_default()
        };
        Figures {
            wall,
            p50: at(0.5),
            p99: at(0.99),
            max: l.last().copied().unwrap_or_default(),
        }
    })
}

fn tokio_util_token() -> sre_core::CancellationToken {
    sre_core::CancellationToken::new()
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sessions = args.first().copied().unwrap_or(64);
    let turns = args.get(1).copied().unwrap_or(10);
    println!(
        "{sessions} concurrent sessions x {turns} turns, JSONL transcripts fsynced every step; \
         a ticker due every 1 ms measures how late the runtime lets it run\n"
    );
    println!("| runtime | appends | wall | ticker lateness p50 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    for (workers, label) in [(0, "current-thread"), (2, "2 workers")] {
        for inline in [false, true] {
            let dir = std::env::temp_dir().join(format!(
                "sre-stall-{}-{workers}-{inline}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            let jsonl = JsonlSessionStore::new(&dir).expect("store");
            let store: Arc<dyn SessionStore> = if inline {
                Arc::new(Inline {
                    inner: jsonl,
                    dir: dir.clone(),
                })
            } else {
                Arc::new(jsonl)
            };
            let f = measure(store, sessions, turns, workers);
            println!(
                "| {label} | {} | {:.0} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
                if inline {
                    "inline on the runtime thread (before)"
                } else {
                    "blocking pool (shipped)"
                },
                f.wall.as_secs_f64() * 1e3,
                f.p50.as_secs_f64() * 1e3,
                f.p99.as_secs_f64() * 1e3,
                f.max.as_secs_f64() * 1e3
            );
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
