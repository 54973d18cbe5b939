//! A day of ticketbot's agent sessions, run by the harness against the fault-injecting
//! provider: each session is an sre-core `AgentLoop` on the OpenAI provider behind a
//! `RetryModel`, configured as ticketbot's own code says (model, streaming, timeout,
//! attempts, tools). Their events, each stamped with the time of the day it happened, are
//! the day's event log: what the daily LLM-error triage reads.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sre_core::providers::openai::{OpenAiConfig, OpenAiModel};
use sre_core::{
    Agent, AgentEvent, AgentLoop, EventSink, RetryModel, RetryPolicy, Session, Tool, ToolContext,
    ToolError, ToolOutput, ToolSpec,
};

use crate::faults::serve;
use crate::wire::{read_jsonl, text, time};

/// A tool of ticketbot as the model sees it (the lab's model never calls one).
struct Declared(ToolSpec);

#[async_trait]
impl Tool for Declared {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }

    async fn call(&self, _input: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::error("not available in the lab"))
    }
}

/// Keeps events with the time of the simulated day at which they happened.
struct Stamped {
    start: DateTime<Utc>,
    real: Instant,
    events: Mutex<Vec<Value>>,
}

impl EventSink for Stamped {
    fn emit(&self, event: AgentEvent) {
        let at = self.start + self.real.elapsed();
        let mut v = serde_json::to_value(&event).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut v {
            map.insert(
                "at".into(),
                json!(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            );
        }
        if let Ok(mut events) = self.events.lock() {
            events.push(v);
        }
    }
}

/// Run every session of `sessions` (JSONL, in time order) and append their events to `out`.
pub async fn day(sessions: &Path, out: &Path) -> Result<(), String> {
    let plan = read_jsonl(sessions)?;
    let base = serve().await?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    for (line, s) in plan {
        let at = format!("{}:{line}", sessions.display());
        let start = time(&s, "time", &at)?;
        let mut config = OpenAiConfig::new(base.clone(), text(&s, "model", &at)?);
        let timeout = s["timeout_s"].as_f64().unwrap_or(60.0);
        config.http.read_timeout = Duration::try_from_secs_f64(timeout)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| {
                format!("{at}: `timeout_s` {timeout} is not a positive number of seconds")
            })?;
        config.http.headers.push((
            "x-lab-time".into(),
            start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ));
        let provider = OpenAiModel::new(config).map_err(|e| format!("{at}: {e}"))?;
        let attempts = s["max_attempts"].as_u64().unwrap_or(3);
        let max_attempts = u32::try_from(attempts)
            .ok()
            .filter(|a| (1..=20).contains(a))
            .ok_or_else(|| format!("{at}: `max_attempts` {attempts} is not between 1 and 20"))?;
        // The attempts are ticketbot's; the waits are cut short (a day replays in seconds).
        let policy = RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            max_elapsed: Duration::from_secs(600),
            jitter: false,
        };
        let model = Arc::new(RetryModel::new(Arc::new(provider)).with_policy(policy));
        let mut tools: Vec<Arc<dyn Tool>> = Vec::new();
        for t in s["tools"].as_array().into_iter().flatten() {
            tools.push(Arc::new(Declared(ToolSpec {
                name: text(t, "name", &format!("{at}: a tool"))?,
                description: t["description"].as_str().unwrap_or_default().to_string(),
                input_schema: t["input_schema"].clone(),
            })));
        }
        let agent = AgentLoop::builder(model)
            .name(text(&s, "route", &at)?)
            .system_prompt(text(&s, "system", &at)?)
            .tools(tools)
            .streaming(s["stream"] == json!(true))
            .max_turns(2)
            .build()
            .map_err(|e| format!("{at}: {e}"))?;
        let sink = Arc::new(Stamped {
            start,
            real: Instant::now(),
            events: Mutex::new(Vec::new()),
        });
        let session = Session::new(text(&s, "session_id", &at)?).with_events(sink.clone());
        // A failed session is part of the day: its events say why.
        let _ = agent.run(&session, &text(&s, "task", &at)?).await;
        let events = sink.events.lock().map(|e| e.clone()).unwrap_or_default();
        for e in events {
            writeln!(log, "{e}").map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
