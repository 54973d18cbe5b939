//! Harness overhead per turn: an instant model and an instant tool, with 10, 100 and 1000
//! messages already in the transcript. Each iteration resumes the session and runs 100
//! turns (99 tool turns and a final answer); divan's item counter reports the time per turn.
//!
//! Two configurations, side by side in one run:
//! - the bare loop (no hooks, layers, budget, events or offload), with an in-memory
//!   transcript, a JSONL transcript written through to the OS, and one fsynced per step;
//! - the full reference assembly of `investigate` (four context layers including the pinned
//!   state, the token budget, the YAML hooks, offload, subagents offered, an event sink,
//!   JSONL with fsync), its model replaced by the instant one calling the in-process
//!   `update_investigation_state` tool each turn.
//!
//! And telemetry, in-memory transcript of 10 messages on a 2-worker runtime: off; the GenAI
//! sink on OpenTelemetry's no-op tracer (no SDK installed); the sink with the SDK exporting
//! OTLP/HTTP to a receiver on 127.0.0.1 (batched, as `sre run` does).
//!
//! Run: `cargo bench -p benches --bench loop_overhead`

use std::sync::Arc;

use async_trait::async_trait;
use divan::{Bencher, counter::ItemsCount};
use serde_json::{Value, json};
use sre_core::{
    Agent, AgentLoop, ContentBlock, Durability, InMemorySessionStore, JsonlSessionStore, Message,
    Model, ModelError, ModelInfo, ModelRequest, ModelResponse, Role, Session, SessionRecord,
    SessionStore, StopReason, Tool, ToolContext, ToolError, ToolOutput, ToolSpec, Usage,
};

const TURNS: usize = 100;

fn main() {
    divan::main();
}

/// Answers instantly: a tool call until `TURNS` turns have been made in this run, then a
/// final answer. Stateless: it counts the messages it is sent.
struct InstantModel {
    info: ModelInfo,
    preloaded: usize,
    /// The tool it calls and its input.
    call: (&'static str, Value),
    /// Turns per run (the last one answers).
    turns: usize,
}

#[async_trait]
impl Model for InstantModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let n = request.messages.len();
        // Turns of this run: the assistant messages after the preloaded transcript.
        let turns_done = request.messages[self.preloaded.min(n)..]
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .count();
        let content = if turns_done + 1 < self.turns {
            vec![ContentBlock::ToolUse {
                id: format!("c{n}"),
                name: self.call.0.into(),
                input: self.call.1.clone(),
            }]
        } else {
            vec![ContentBlock::text("done")]
        };
        let stop_reason = if turns_done + 1 < self.turns {
            StopReason::ToolUse
        } else {
            StopReason::EndTurn
        };
        Ok(ModelResponse {
            content,
            stop_reason,
            usage: Usage {
                input_tokens: 100,
                output_tokens: 10,
                ..Usage::default()
            },
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
    async fn call(&self, _input: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::ok("12 lines matched"))
    }
}

/// A transcript of `messages` messages: a task, then tool-call/result pairs.
fn transcript(messages: usize) -> Vec<SessionRecord> {
    let mut records = vec![
        SessionRecord::Start {
            agent: "bench".into(),
            system: vec![],
        },
        SessionRecord::Task {
            text: "INCIDENT-4711".into(),
            message: Message::user("INCIDENT-4711: 503s since 14:02Z"),
        },
    ];
    let mut i = 1;
    while i + 1 < messages {
        let call = Message {
            role: Role::Assistant,
            content: vec![
                ContentBlock::text("Checking the log."),
                ContentBlock::ToolUse {
                    id: format!("p{i}"),
                    name: "noop".into(),
                    input: json!({"path": "logs/app.log"}),
                },
            ],
        };
        let result = Message {
            role: Role::User,
            content: vec![ContentBlock::ToolResult {
                tool_use_id: format!("p{i}"),
                content: "x".repeat(400),
                is_error: false,
            }],
        };
        records.push(SessionRecord::Message {
            message: call,
            turn: 0,
            usage: None,
            stop_reason: None,
        });
        records.push(SessionRecord::Message {
            message: result,
            turn: 0,
            usage: None,
            stop_reason: None,
        });
        i += 2;
    }
    records
}

fn agent(preloaded: usize, store: Arc<dyn SessionStore>) -> AgentLoop {
    let model = Arc::new(InstantModel {
        info: ModelInfo::new("instant", 1_000_000),
        preloaded,
        call: ("noop", json!({"path": "logs/app.log"})),
        turns: TURNS,
    });
    let noop = Arc::new(Noop(ToolSpec {
        name: "noop".into(),
        description: "does nothing".into(),
        input_schema: json!({"type": "object"}),
    }));
    AgentLoop::builder(model)
        .system_prompt("You are an SRE agent.")
        .tool(noop)
        .max_turns(1000)
        .session_store(store)
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// In-memory transcript store: the loop's own cost.
#[divan::bench(args = [10, 100, 1000])]
fn per_turn_in_memory(bencher: Bencher, messages: usize) {
    let rt = runtime();
    let records = transcript(messages);
    let preloaded = records.len() - 1;
    bencher
        .counter(ItemsCount::new(TURNS))
        .with_inputs(|| {
            let store = Arc::new(InMemorySessionStore::new());
            store.insert("s", records.clone());
            agent(preloaded, store)
        })
        .bench_local_values(|agent| {
            let outcome = rt.block_on(agent.resume(&Session::new("s"))).unwrap();
            assert_eq!(outcome.answer.as_deref(), Some("done"));
        });
}

/// JSONL transcript on disk, written through to the OS after every step (no fsync).
#[divan::bench(args = [10, 100, 1000])]
fn per_turn_jsonl(bencher: Bencher, messages: usize) {
    jsonl(bencher, messages, Durability::Flush);
}

/// JSONL transcript on disk, fsynced after every step (the default store).
#[divan::bench(args = [10, 100], sample_count = 10, sample_size = 1)]
fn per_turn_jsonl_fsync(bencher: Bencher, messages: usize) {
    jsonl(bencher, messages, Durability::Fsync);
}

fn jsonl(bencher: Bencher, messages: usize, durability: Durability) {
    let rt = runtime();
    let dir = std::env::temp_dir().join(format!("sre-bench-{}-{durability:?}", std::process::id()));
    let store = Arc::new(
        JsonlSessionStore::new(&dir)
            .unwrap()
            .with_durability(durability),
    );
    let records = transcript(messages);
    let preloaded = records.len() - 1;
    let mut n = 0u64;
    bencher
        .counter(ItemsCount::new(TURNS))
        .with_inputs(|| {
            n += 1;
            let id = format!("s{messages}-{n}");
            rt.block_on(store.append(&id, &records)).unwrap();
            (agent(preloaded, store.clone()), id)
        })
        .bench_local_values(|(agent, id)| {
            let outcome = rt.block_on(agent.resume(&Session::new(id))).unwrap();
            assert_eq!(outcome.answer.as_deref(), Some("done"));
        });
    let _ = std::fs::remove_dir_all(dir);
}

/// Turns per run of the full assembly (its turn limit is 30).
const FULL_TURNS: usize = 25;

/// The full reference assembly of `investigate` from a fresh session: 25 turns, each
/// calling the in-process pinned-state tool; with its own store (JSONL, fsynced every
/// step) and with an in-memory store (the other parts alone).
#[divan::bench(args = ["jsonl-fsync", "in-memory"], sample_count = 10, sample_size = 1)]
fn per_turn_full_reference_assembly(bencher: Bencher, store: &str) {
    let rt = runtime();
    let dir = tempfile_dir(&format!("assembly-{store}"));
    rt.block_on(examples::investigate::prepare_workspace(&dir))
        .unwrap();
    let model = Arc::new(InstantModel {
        info: ModelInfo::new("instant", 1_000_000),
        preloaded: 0,
        call: (
            "update_investigation_state",
            json!({"hypotheses": [{"id": "H1", "statement": "pool exhausted", "status": "open"}]}),
        ),
        turns: FULL_TURNS,
    });
    let models = examples::investigate::Models {
        agent: model.clone(),
        judge: model,
    };
    let assembly = if store == "in-memory" {
        examples::investigate::assemble_with_store(
            &dir,
            models,
            Arc::new(InMemorySessionStore::new()),
            dir.join("none"),
        )
    } else {
        examples::investigate::assemble(&dir, models)
    }
    .unwrap();
    let events = Arc::new(|_e: sre_core::AgentEvent| {});
    let mut n = 0u64;
    bencher
        .counter(ItemsCount::new(FULL_TURNS))
        .with_inputs(|| {
            n += 1;
            Session::new(format!("bench-{n}")).with_events(events.clone())
        })
        .bench_local_values(|session| {
            let outcome = rt.block_on(assembly.agent.run(&session, "go")).unwrap();
            assert_eq!(outcome.answer.as_deref(), Some("done"));
        });
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sre-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A receiver that takes OTLP/HTTP posts and answers 200 (what it costs is not measured).
fn otlp_sink(rt: &tokio::runtime::Runtime) -> String {
    rt.block_on(async {
        let app = axum::Router::new().fallback(|| async { "" });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    })
}

/// Telemetry off, on a no-op tracer, and exporting over OTLP (per turn).
#[divan::bench(args = ["off", "noop tracer", "otlp export"])]
fn per_turn_telemetry(bencher: Bencher, mode: &str) {
    use sre_core::telemetry::GenAiTelemetry;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let records = transcript(10);
    let preloaded = records.len() - 1;
    let telemetry = (mode == "otlp export").then(|| {
        let url = otlp_sink(&rt);
        let _guard = rt.enter();
        sre_host::telemetry::Telemetry::to_collector(&url).unwrap()
    });
    let sink: Option<Arc<GenAiTelemetry>> = match (mode, &telemetry) {
        ("noop tracer", _) => Some(Arc::new(GenAiTelemetry::new(
            opentelemetry::global::tracer("bench"),
            &opentelemetry::global::meter("bench"),
        ))),
        (_, Some(t)) => Some(Arc::new(t.sink())),
        _ => None,
    };
    bencher
        .counter(ItemsCount::new(TURNS))
        .with_inputs(|| {
            let store = Arc::new(InMemorySessionStore::new());
            store.insert("s", records.clone());
            agent(preloaded, store)
        })
        .bench_local_values(|agent| {
            let mut session = Session::new("s");
            if let Some(s) = &sink {
                session = session.with_events(s.clone());
            }
            let outcome = rt.block_on(agent.resume(&session)).unwrap();
            assert_eq!(outcome.answer.as_deref(), Some("done"));
        });
    if let Some(t) = telemetry {
        rt.block_on(t.shutdown());
    }
}
