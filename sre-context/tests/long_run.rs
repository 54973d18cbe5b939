//! A 200-turn scripted investigation through a real `AgentLoop` with a 16k window and
//! several-KB tool outputs: every request fits, prunes and compactions happen, the pinned
//! state survives them, and between rewrites each prompt is a byte prefix of the next.
//!
//! `cargo test -p sre-context --test long_run -- --nocapture` prints the figures table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests may fail loudly

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;
use sre_context::{
    BudgetConfig, CompactConfig, Connector, ConnectorsLayer, Estimator, PinnedState, TokenBudget,
    Topology, TopologyLayer,
};
use sre_core::prompt::common_prefix_len;
use sre_core::{
    Agent, AgentEvent, AgentLoop, BudgetVerdict, BudgetView, ContextBudget, EventKind,
    ModelRequest, Rewrite, ScriptedModel, Session, StopCause, Tool, ToolContext, ToolError,
    ToolOutput, ToolSpec, canonical_prompt,
};

const WINDOW: u64 = 16_000;
const MAX_OUTPUT: u64 = 2_000;
const TURNS: usize = 200;
const MAIN: &str = "investigator";

/// A log query tool returning several KB; every fifth answer looks offloaded.
struct QueryLogs {
    spec: ToolSpec,
}

impl QueryLogs {
    fn new() -> Arc<Self> {
        Arc::new(QueryLogs {
            spec: ToolSpec {
                name: "query_logs".into(),
                description: "Query the checkout service logs.".into(),
                input_schema: serde_json::json!({"type": "object", "properties": {"n": {"type": "integer"}}}),
            },
        })
    }
}

fn log_output(n: u64) -> String {
    let mut out = String::new();
    if n.is_multiple_of(5) {
        let _ = writeln!(
            out,
            "[output of `query_logs` was 48213 bytes (320 lines); stored in `scratch/offload/query_logs-{n:04}.txt`. Preview (head and tail):]"
        );
    }
    let mut x = n
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for i in 0..28 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let _ = writeln!(
            out,
            "2024-05-02T14:{:02}:{:02}.{:03}Z ERROR checkout-api pool=main active=10 idle=0 waiters={} msg=\"timeout acquiring connection after 30000 ms\" trace_id={:016x}",
            (n + i) % 60,
            (x >> 7) % 60,
            (x >> 13) % 1000,
            (x >> 21) % 40,
            x
        );
    }
    out
}

#[async_trait]
impl Tool for QueryLogs {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    async fn call(&self, input: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let n = input["n"].as_u64().unwrap_or(0);
        Ok(ToolOutput::ok(log_output(n)))
    }
}

/// The script: state updates at steps 1 and 100, log queries, a final answer at step 200.
/// With `expect`, steps assert the pinned state is in the prompt (it must survive every
/// prune and compaction).
fn script(expect: bool) -> String {
    let mut s = format!(
        "name: long-run\nsimulate_cache: true\nmodel: {{context_window: {WINDOW}, max_output_tokens: {MAX_OUTPUT}}}\nturns:\n"
    );
    for i in 0..TURNS {
        let step = i + 1;
        let mut expects: Vec<&str> = Vec::new();
        if expect && step >= 3 {
            expects.push("[H1]");
            expects.push("p99 checkout latency 2.31 s at 14:05 UTC");
        }
        if expect && step >= 102 {
            expects.push("[H1] (confirmed)");
            expects.push("[H2] (refuted)");
        }
        if !expects.is_empty() {
            let list: Vec<String> = expects.iter().map(|e| format!("{e:?}")).collect();
            let _ = writeln!(s, "  - expect: {{prompt_contains: [{}]}}", list.join(", "));
            s.push_str("    ");
        } else {
            s.push_str("  - ");
        }
        if step == 1 {
            s.push_str(
                "tool_calls:\n      - tool: update_investigation_state\n        args:\n          hypotheses: [{id: H1, statement: \"checkout-db connection pool exhausted\", status: open}, {id: H2, statement: \"bad deploy v1.4.2\", status: open}]\n          evidence: [{fact: \"p99 checkout latency 2.31 s at 14:05 UTC (baseline 180 ms)\", source: \"cloudwatch p99\"}]\n          timeline: [{time: \"14:02 UTC\", event: \"deploy v1.4.2\"}]\n          next_steps: [\"read pool metrics\"]\n",
            );
        } else if step == 100 {
            s.push_str(
                "tool_calls:\n      - tool: update_investigation_state\n        args:\n          hypotheses: [{id: H1, statement: \"checkout-db connection pool exhausted\", status: confirmed}, {id: H2, statement: \"bad deploy v1.4.2\", status: refuted}]\n          evidence: [{fact: \"pool max_size = 10, waiters peak 39\", source: \"query_logs\"}]\n          next_steps: [\"raise max_size to 40\"]\n",
            );
        } else if step == TURNS {
            s.push_str(
                "final: \"Root cause: checkout-db pool exhausted (max_size 10, waiters 39).\"\n",
            );
        } else {
            let _ = writeln!(
                s,
                "say: \"Step {step}: the waiters count keeps climbing while active stays pinned at 10, which fits H1; I will look at the next window of the checkout-api logs to see whether the timeouts cluster around the pool refresh interval.\"\n    tool_calls: [{{tool: query_logs, args: {{n: {step}}}}}]"
            );
        }
    }
    s.push_str("agents:\n  compactor:\n");
    for k in 0..40 {
        let _ = writeln!(
            s,
            "    - expect: {{prompt_contains: [\"<compaction-request>\"]}}\n      final: \"## Findings\\nSummary {k}: checkout-api times out acquiring connections (30000 ms); active=10 idle=0, waiters up to 39.\\n## Hypotheses\\nH1 pool exhaustion: see pinned state.\\n## Evidence\\np99 2.31 s.\\n## Timeline\\n14:02 deploy.\\n## Files and queries that mattered\\nquery_logs n=1..\\n## Open questions\\nWhy 10?\""
        );
    }
    s
}

#[derive(Default)]
struct Events(Mutex<Vec<EventKind>>);

impl Events {
    fn take(&self) -> Vec<EventKind> {
        self.0.lock().unwrap().clone()
    }
}

/// Baseline: drop the oldest messages every turn until the request fits (no pruning, no
/// summary). Breaks the cache at every turn once the window is full.
struct NaiveTruncation {
    est: Estimator,
}

#[async_trait]
impl ContextBudget for NaiveTruncation {
    fn assess(&self, view: &BudgetView<'_>) -> BudgetVerdict {
        if self.est.prompt(view).total() > WINDOW - MAX_OUTPUT {
            BudgetVerdict::Prune
        } else {
            BudgetVerdict::Fits
        }
    }
    async fn prune(&self, view: &BudgetView<'_>) -> sre_core::Result<Option<Rewrite>> {
        let before = self.est.with_margin(self.est.request(view.request));
        let mut messages = view.request.messages.clone();
        let fixed = self.est.prefix(&view.request.tools, &view.request.system);
        while messages.len() > 1
            && self.est.with_margin(fixed + self.est.messages(&messages)) > WINDOW - MAX_OUTPUT
        {
            messages.remove(0);
            while messages.len() > 1 && messages[0].role == sre_core::Role::Assistant {
                messages.remove(0);
            }
            messages = sre_context::transcript::repair(messages, "[earlier messages dropped]");
        }
        let after = self.est.with_margin(fixed + self.est.messages(&messages));
        Ok(Some(Rewrite {
            messages,
            tokens_before: before,
            tokens_after: after,
            note: "naive truncation".into(),
        }))
    }
    async fn compact(
        &self,
        _: &BudgetView<'_>,
        _: &dyn sre_core::Model,
    ) -> sre_core::Result<Rewrite> {
        unreachable!("never asks for compaction")
    }
}

enum Mode {
    Frugal,
    NoBudget,
    Naive,
}

struct RunResult {
    requests: Vec<ModelRequest>,
    events: Vec<EventKind>,
    outcome: sre_core::Outcome,
}

async fn run(mode: Mode, expect: bool) -> RunResult {
    let model = Arc::new(
        ScriptedModel::from_yaml(&script(expect))
            .unwrap()
            .recording(),
    );
    let pinned = PinnedState::new();
    let topology = Topology::from_yaml(
        "accounts:\n  - name: prod\n    provider: aws\n    id: '123456789012'\n    regions: [eu-west-1]\n    groups:\n      - name: payments\n        region: eu-west-1\n        services:\n          - {name: checkout-api, kind: ecs, depends_on: [checkout-db]}\n          - {name: checkout-db, kind: rds-postgres}\n",
        "topology.yaml",
    )
    .unwrap();
    let mut builder = AgentLoop::builder(model.clone())
        .name(MAIN)
        .system_prompt("You are an SRE agent investigating a production incident. Keep the investigation state current.")
        .layer(Arc::new(ConnectorsLayer::new([
            Connector::new("aws-prod", "stdio", 42).note("region", "eu-west-1"),
            Connector::new("logs", "builtin", 1),
        ])))
        .layer(Arc::new(TopologyLayer::new(topology)))
        .layer(pinned.layer())
        .tool(pinned.tool().unwrap())
        .tool(QueryLogs::new())
        .max_turns(TURNS as u32 + 10);
    match mode {
        Mode::Frugal => {
            let budget = TokenBudget::new(BudgetConfig {
                compact: CompactConfig {
                    summary_tokens: 1500,
                    ..CompactConfig::default()
                },
                ..BudgetConfig::default()
            })
            .unwrap()
            .with_pinned(pinned.clone());
            builder = builder.budget(Arc::new(budget));
        }
        Mode::NoBudget => {}
        Mode::Naive => {
            builder = builder.budget(Arc::new(NaiveTruncation {
                est: Estimator::heuristic(),
            }))
        }
    }
    let agent = builder.build().unwrap();
    let events = Arc::new(Events::default());
    let sink = events.clone();
    let session = Session::new("long-run").with_events(Arc::new(move |e: AgentEvent| {
        sink.0.lock().unwrap().push(e.kind)
    }));
    let outcome = agent
        .run(
            &session,
            "Checkout p99 latency tripled at 14:05 UTC. Find the root cause.",
        )
        .await
        .unwrap();
    RunResult {
        requests: model.requests(),
        events: events.take(),
        outcome,
    }
}

/// Prompt tokens as the ScriptedModel reports them (canonical bytes / 4).
fn tokens(r: &ModelRequest) -> u64 {
    (canonical_prompt(r).len() as u64).div_ceil(4)
}

#[derive(Debug, Default)]
struct Figures {
    requests: usize,
    sent: u64,
    cache_read: u64,
    cache_read_any_lane: u64,
    max_prompt: u64,
    overflow_turn: Option<usize>,
    mean_reuse: f64,
}

/// Totals under an exact-prefix cache per lane (what `simulate_cache` reports).
fn figures(requests: &[ModelRequest]) -> Figures {
    let mut f = Figures {
        requests: requests.len(),
        ..Figures::default()
    };
    let mut last: std::collections::HashMap<&str, Vec<u8>> = Default::default();
    let mut reuse = Vec::new();
    let mut main_turn = 0;
    let mut recent: Vec<Vec<u8>> = Vec::new();
    for r in requests {
        let bytes = canonical_prompt(r);
        let t = tokens(r);
        // A provider cache keyed by prefix only (not by agent): the longest prefix shared
        // with any of the last 4 requests.
        let best = recent
            .iter()
            .map(|p| common_prefix_len(p, &bytes))
            .max()
            .unwrap_or(0);
        if t >= 1024 {
            f.cache_read_any_lane += (best as u64 / 4).min(t);
        }
        recent.push(bytes.clone());
        if recent.len() > 4 {
            recent.remove(0);
        }
        f.sent += t;
        f.max_prompt = f.max_prompt.max(t);
        if let Some(prev) = last.get(r.agent.as_str()) {
            let common = common_prefix_len(prev, &bytes);
            if t >= 1024 {
                f.cache_read += (common as u64 / 4).min(t);
            }
            if r.agent == MAIN {
                reuse.push(common as f64 / prev.len() as f64);
            }
        }
        if r.agent == MAIN {
            main_turn += 1;
            if f.overflow_turn.is_none() && t + r.max_output_tokens > WINDOW {
                f.overflow_turn = Some(main_turn);
            }
        }
        last.insert(&r.agent, bytes);
    }
    f.mean_reuse = reuse.iter().sum::<f64>() / reuse.len().max(1) as f64;
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_turns_fit_a_16k_window_and_keep_the_cache() {
    let frugal = run(Mode::Frugal, true).await;
    assert_eq!(frugal.outcome.cause, StopCause::Completed);
    assert_eq!(frugal.outcome.turns as usize, TURNS);

    // Every request fits: the prompt as the model counts it plus the output allowance.
    for (i, r) in frugal.requests.iter().enumerate() {
        let t = tokens(r);
        assert!(
            t + r.max_output_tokens <= WINDOW,
            "request {i} ({}) has {t} prompt tokens + {} output > {WINDOW}",
            r.agent,
            r.max_output_tokens
        );
        sre_context::transcript::check(&r.messages).unwrap_or_else(|e| panic!("request {i}: {e}"));
    }

    // Prunes and compactions happened.
    let actions: Vec<(BudgetVerdict, u64, u64, String)> = frugal
        .events
        .iter()
        .filter_map(|e| match e {
            EventKind::BudgetAction {
                verdict,
                tokens_before,
                tokens_after,
                note,
            } => Some((*verdict, *tokens_before, *tokens_after, note.clone())),
            _ => None,
        })
        .collect();
    let prunes = actions
        .iter()
        .filter(|a| a.0 == BudgetVerdict::Prune)
        .count();
    let compactions = actions
        .iter()
        .filter(|a| a.0 == BudgetVerdict::Compact)
        .count();
    assert!(prunes >= 1, "no prune: {actions:#?}");
    assert!(compactions >= 2, "fewer than two compactions: {actions:#?}");
    for a in &actions {
        assert!(a.2 < a.1, "a rewrite must free tokens: {a:?}");
    }
    let compactor_requests = frugal
        .requests
        .iter()
        .filter(|r| r.agent == "compactor")
        .count();
    assert_eq!(compactor_requests, compactions);

    // The pinned state is verbatim in every request after each compaction (the script's
    // `expect` checks every step; this checks the rewritten transcripts directly too).
    let mains: Vec<&ModelRequest> = frugal.requests.iter().filter(|r| r.agent == MAIN).collect();
    for r in &mains[2..] {
        let prompt = String::from_utf8(canonical_prompt(r)).unwrap();
        assert!(prompt.contains("[H1]"), "pinned state missing");
    }

    // Prefix stability: between rewrites, prompt N is a byte prefix of prompt N+1.
    let mut boundary = vec![false; mains.len()];
    let mut turn = 0usize;
    let mut pending = false;
    for e in &frugal.events {
        match e {
            EventKind::BudgetAction { .. } => pending = true,
            EventKind::ModelRequest { .. } => {
                boundary[turn] = pending;
                pending = false;
                turn += 1;
            }
            _ => {}
        }
    }
    assert_eq!(turn, mains.len());
    let mut checked = 0;
    for k in 1..mains.len() {
        let (a, b) = (canonical_prompt(mains[k - 1]), canonical_prompt(mains[k]));
        if boundary[k] {
            assert!(
                !b.starts_with(&a),
                "a rewrite at turn {} changed nothing",
                k + 1
            );
        } else {
            assert!(
                b.starts_with(&a),
                "turn {} is not a prefix of turn {}",
                k,
                k + 1
            );
            checked += 1;
        }
    }
    assert!(checked >= 100, "only {checked} stable pairs");

    // Figures: frugal vs no budget vs naive truncation.
    let f = figures(&frugal.requests);
    let none = run(Mode::NoBudget, false).await;
    let n = figures(&none.requests);
    let naive = run(Mode::Naive, false).await;
    let v = figures(&naive.requests);
    assert!(
        n.overflow_turn.is_some(),
        "without a budget the window must overflow"
    );
    assert!(f.overflow_turn.is_none());
    assert!(v.overflow_turn.is_none());
    let naive_rewrites = naive
        .events
        .iter()
        .filter(|e| matches!(e, EventKind::BudgetAction { .. }))
        .count();
    let pct = |a: u64, b: u64| 100.0 * a as f64 / b.max(1) as f64;
    let mut table = String::new();
    let _ = writeln!(
        table,
        "\n200-turn run, {WINDOW}-token window, {MAX_OUTPUT} reserved for output, tokens = canonical bytes / 4"
    );
    let _ = writeln!(
        table,
        "| policy | requests | prompt tokens sent | cache reads (per lane) | share | uncached | cache reads (any lane) | share | max prompt | first overflow turn | rewrites | mean prefix reuse |"
    );
    let _ = writeln!(table, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, x, rewrites) in [
        ("sre-context TokenBudget", &f, actions.len()),
        ("no budget", &n, 0),
        ("naive truncation", &v, naive_rewrites),
    ] {
        let _ = writeln!(
            table,
            "| {name} | {} | {} | {} | {:.1}% | {} | {} | {:.1}% | {} | {} | {rewrites} | {:.1}% |",
            x.requests,
            x.sent,
            x.cache_read,
            pct(x.cache_read, x.sent),
            x.sent - x.cache_read,
            x.cache_read_any_lane,
            pct(x.cache_read_any_lane, x.sent),
            x.max_prompt,
            x.overflow_turn
                .map(|t| t.to_string())
                .unwrap_or_else(|| "none".into()),
            100.0 * x.mean_reuse
        );
    }
    let _ = writeln!(
        table,
        "sre-context: {prunes} prunes, {compactions} compactions, {checked} of {} consecutive main requests byte-prefix stable",
        mains.len() - 1
    );
    for a in actions.iter().take(4) {
        let _ = writeln!(table, "  {:?}: {}", a.0, a.3);
    }
    println!("{table}");
    // The frugal budget sends fewer tokens, and fewer uncached ones, than naive truncation
    // (while keeping the pinned state and a summary of everything dropped).
    assert!(f.sent < v.sent, "{table}");
    assert!(f.sent - f.cache_read < v.sent - v.cache_read, "{table}");
}
