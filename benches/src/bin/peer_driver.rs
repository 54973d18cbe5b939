//! Driver for the shared peer benchmark (`../shared/bench`): runs the scenario's
//! investigation with sre-harness (OpenAI-compatible provider against the scripted mock,
//! `read_file` and `grep` from sre-tools on the benchmark workspace) and writes the result
//! JSON that `bench.py --external` reads.
//!
//! Two configurations, labelled in the result: with output offload (the default: results
//! over the offload threshold go to `scratch/.offload` and the model gets a preview and
//! the path) and `--no-offload` (every result enters the prompt whole, as in harnesses
//! without an offload feature). `final_ok` is true only when the run completed and its
//! answer is exactly the scenario's final answer.
//!
//! ```text
//! cargo build --release -p benches --bin peer_driver
//! python3 bench.py --harness none --out /tmp/peer-results \
//!   --external 'sre-harness=target/release/peer_driver --base-url {base_url} --workspace {workspace} --scenario {scenario} --out {out}' \
//!   --external 'sre-harness-no-offload=target/release/peer_driver --no-offload --base-url {base_url} --workspace {workspace} --scenario {scenario} --out {out}' \
//!   --external-mock 'sre-harness=--set grep.fixed_strings=true' \
//!   --external-mock 'sre-harness-no-offload=--set grep.fixed_strings=true'
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use sre_core::providers::HttpSettings;
use sre_core::providers::openai::{OpenAiConfig, OpenAiModel};
use sre_core::{
    Agent, AgentEvent, AgentLoop, EventKind, InMemorySessionStore, Session, StopCause, Tool,
};
use sre_tools::{MountMode, OffloadConfig, OffloadStore, ToolSet, Workspace};

fn arg(args: &[String], name: &str) -> String {
    match args
        .iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
    {
        Some(v) => v.clone(),
        None => {
            eprintln!(
                "usage: peer_driver --base-url URL --workspace DIR --scenario FILE [--out FILE] [--no-offload]"
            );
            std::process::exit(2);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let base_url = arg(&args, "--base-url");
    let root = arg(&args, "--workspace");
    let scenario: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(arg(&args, "--scenario"))?)?;
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let offload = !args.iter().any(|a| a == "--no-offload");
    let expected_final = scenario["turns"]
        .as_array()
        .and_then(|t| t.last())
        .and_then(|t| t["final"].as_str())
        .unwrap_or_default()
        .to_string();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let t_run_start = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64();
    let started = Instant::now();

    // The scenario addresses files as "/logs/app.log": rooted paths. Offloads go to scratch/.
    let ws = Workspace::builder(&root)
        .mount("scratch", MountMode::Writable)
        .create_writable_mounts(true)
        .rooted_paths(true)
        .build()?;
    let tools: Vec<Arc<dyn Tool>> = ToolSet::new(ws.clone())
        .read_only(true)
        .process_tools(false)
        .build()?
        .into_iter()
        .filter(|t| matches!(t.spec().name.as_str(), "read_file" | "grep"))
        .collect();
    let mut config = OpenAiConfig::new(&base_url, "mock-model");
    config.http = HttpSettings::new(&base_url);
    config.api_key = Some("mock-key".into());
    let mut builder = AgentLoop::builder(Arc::new(OpenAiModel::new(config)?))
        .system_prompt(scenario["system_prompt"].as_str().unwrap_or_default())
        .tools(tools)
        .session_store(Arc::new(InMemorySessionStore::new()))
        .max_turns(100);
    if offload {
        builder = builder.offload(Arc::new(OffloadStore::new(ws, OffloadConfig::default())?));
    }
    let agent = builder.build()?;

    let tool_s = Arc::new(Mutex::new((
        0.0f64,
        0usize,
        (String::new(), String::new(), 0.0f64),
    )));
    let tally = tool_s.clone();
    let session = Session::new("peer-bench").with_events(Arc::new(move |e: AgentEvent| {
        if let EventKind::ToolFinished { name, duration, .. } = &e.kind {
            let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
            t.0 += duration.as_secs_f64();
            t.1 += 1;
            if duration.as_secs_f64() > t.2.2 {
                t.2 = (name.clone(), String::new(), duration.as_secs_f64());
            }
        }
    }));
    let outcome = rt.block_on(agent.run(
        &session,
        scenario["user_prompt"].as_str().unwrap_or_default(),
    ))?;
    let run_s = started.elapsed().as_secs_f64();
    let (tool_s, calls, slowest) = tool_s.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let completed = outcome.cause == StopCause::Completed;
    let answer = outcome.answer.unwrap_or_default();
    let result = serde_json::json!({
        "harness": if offload { "sre-harness" } else { "sre-harness-no-offload" },
        "offload": offload,
        "api_mode": "chat_completions",
        "run_s": run_s,
        "t_run_start": t_run_start,
        "tool_s": tool_s,
        "tool_calls": calls,
        "slowest_tool_call": [slowest.0, slowest.1, slowest.2],
        // Judged, not assumed: the run completed with exactly the scenario's final answer.
        "final_ok": completed && !expected_final.is_empty() && answer == expected_final,
        "final_head": answer.chars().take(120).collect::<String>(),
    });
    match out {
        Some(path) => std::fs::write(path, serde_json::to_vec_pretty(&result)?)?,
        None => println!("{result}"),
    }
    Ok(())
}
