//! The GenAI metrics on `sre serve`'s `/metrics` (Prometheus text), tallied from the runs'
//! events whether or not OTLP export is on: token usage and operation duration as the
//! OpenTelemetry GenAI conventions define them (their bucket boundaries), tool call
//! durations, hook decisions, cost, and the cache counters of cacheable requests.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;

use sre_core::{AgentEvent, EventKind};

use sre_core::telemetry::{SECONDS_BUCKETS, TOKEN_BUCKETS};

struct Histogram {
    bounds: &'static [f64],
    /// Observations at or below each bound (not cumulative; summed when rendered).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (b, n) in self.bounds.iter().zip(&self.counts) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
struct Tally {
    /// The model each session asked last.
    models: HashMap<String, String>,
    tokens: BTreeMap<(String, &'static str), Histogram>,
    duration: BTreeMap<String, Histogram>,
    tools: BTreeMap<(String, bool), Histogram>,
    hooks: BTreeMap<(String, String, String), u64>,
    cost: BTreeMap<String, f64>,
    cacheable: BTreeMap<String, (u64, u64)>,
}

impl Tally {
    /// One model call of `model`: its tokens, duration and cost.
    fn model_call(
        &mut self,
        model: &str,
        usage: &sre_core::Usage,
        duration: std::time::Duration,
        cost_usd: f64,
    ) {
        for (kind, n) in [
            ("input", usage.prompt_tokens()),
            ("output", usage.output_tokens),
        ] {
            self.tokens
                .entry((model.to_string(), kind))
                .or_insert_with(|| Histogram::new(TOKEN_BUCKETS))
                .observe(n as f64);
        }
        self.duration
            .entry(model.to_string())
            .or_insert_with(|| Histogram::new(SECONDS_BUCKETS))
            .observe(duration.as_secs_f64());
        *self.cost.entry(model.to_string()).or_default() += cost_usd;
    }
}

/// The tallies; cheap to share.
#[derive(Default)]
pub struct GenAiMetrics {
    tally: Mutex<Tally>,
}

/// A label value as Prometheus text wants it.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl GenAiMetrics {
    /// Count what `e` says.
    pub fn record(&self, e: &AgentEvent) {
        if matches!(e.kind, EventKind::TextDelta { .. }) {
            return;
        }
        let mut t = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        match &e.kind {
            EventKind::ModelRequest { model, .. } => {
                t.models.insert(e.session_id.clone(), model.clone());
            }
            EventKind::ModelResponse {
                usage,
                duration,
                cost_usd,
                cacheable,
                ..
            } => {
                let model = t.models.get(&e.session_id).cloned().unwrap_or_default();
                t.model_call(&model, usage, *duration, *cost_usd);
                if *cacheable {
                    let c = t.cacheable.entry(model).or_default();
                    c.0 += usage.prompt_tokens();
                    c.1 += usage.cache_read_tokens;
                }
            }
            // A judge's or a compaction's call: its tokens and cost are the run's.
            EventKind::AuxiliaryModelCall {
                model,
                usage,
                cost_usd,
                duration,
                ..
            } => t.model_call(model, usage, *duration, *cost_usd),
            EventKind::ToolFinished {
                name,
                is_error,
                duration,
                ..
            } => t
                .tools
                .entry((name.clone(), *is_error))
                .or_insert_with(|| Histogram::new(SECONDS_BUCKETS))
                .observe(duration.as_secs_f64()),
            EventKind::HookDecision {
                event,
                hook,
                action,
                ..
            } => {
                // The kind only: a reason as a label would make a series per reason.
                *t.hooks
                    .entry((
                        hook.clone(),
                        event.as_str().to_string(),
                        action.kind().to_string(),
                    ))
                    .or_default() += 1;
            }
            EventKind::Finished { .. } | EventKind::Failed { .. } => {
                t.models.remove(&e.session_id);
            }
            _ => {}
        }
    }

    /// The Prometheus text of the tallies.
    pub fn render(&self) -> String {
        let t = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# TYPE gen_ai_client_token_usage histogram\n");
        for ((model, kind), h) in &t.tokens {
            let labels = format!(
                "gen_ai_request_model=\"{}\",gen_ai_token_type=\"{kind}\"",
                label(model)
            );
            h.render(&mut out, "gen_ai_client_token_usage", &labels);
        }
        out.push_str("# TYPE gen_ai_client_operation_duration_seconds histogram\n");
        for (model, h) in &t.duration {
            let labels = format!(
                "gen_ai_operation_name=\"chat\",gen_ai_request_model=\"{}\"",
                label(model)
            );
            h.render(
                &mut out,
                "gen_ai_client_operation_duration_seconds",
                &labels,
            );
        }
        out.push_str("# TYPE sre_tool_duration_seconds histogram\n");
        for ((tool, error), h) in &t.tools {
            let labels = format!("gen_ai_tool_name=\"{}\",error=\"{error}\"", label(tool));
            h.render(&mut out, "sre_tool_duration_seconds", &labels);
        }
        out.push_str("# TYPE sre_hook_decisions_total counter\n");
        for ((hook, event, action), n) in &t.hooks {
            let _ = writeln!(
                out,
                "sre_hook_decisions_total{{hook=\"{}\",event=\"{}\",action=\"{}\"}} {n}",
                label(hook),
                label(event),
                label(action)
            );
        }
        out.push_str("# TYPE sre_cost_usd_total counter\n");
        for (model, usd) in &t.cost {
            let _ = writeln!(
                out,
                "sre_cost_usd_total{{gen_ai_request_model=\"{}\"}} {usd}",
                label(model)
            );
        }
        // One family at a time, as the text format wants.
        out.push_str("# TYPE sre_cache_cacheable_prompt_tokens_total counter\n");
        for (model, (prompt, _)) in &t.cacheable {
            let m = label(model);
            let _ = writeln!(
                out,
                "sre_cache_cacheable_prompt_tokens_total{{gen_ai_request_model=\"{m}\"}} {prompt}"
            );
        }
        out.push_str("# TYPE sre_cache_read_tokens_total counter\n");
        for (model, (_, read)) in &t.cacheable {
            let m = label(model);
            let _ = writeln!(
                out,
                "sre_cache_read_tokens_total{{gen_ai_request_model=\"{m}\"}} {read}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets_sum_and_count() {
        let mut h = Histogram::new(SECONDS_BUCKETS);
        for v in [0.005, 0.015, 0.015, 100.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "m=\"a\"");
        assert!(out.contains("x_bucket{m=\"a\",le=\"0.01\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{m=\"a\",le=\"0.02\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{m=\"a\",le=\"81.92\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{m=\"a\",le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("x_sum{m=\"a\"} 100.035\n"), "{out}");
        assert!(out.contains("x_count{m=\"a\"} 4\n"), "{out}");
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
    #[test]
    fn a_judges_call_counts_in_tokens_and_cost() {
        let metrics = GenAiMetrics::default();
        let usage = sre_core::Usage {
            input_tokens: 1200,
            output_tokens: 40,
            ..Default::default()
        };
        metrics.record(&AgentEvent {
            agent: "lead/stop-gate".into(),
            session_id: "t-1".into(),
            kind: EventKind::AuxiliaryModelCall {
                model: "judge-model".into(),
                provider: "openai".into(),
                usage,
                cost_usd: 0.25,
                duration: std::time::Duration::from_millis(300),
            },
        });
        let out = metrics.render();
        assert!(
            out.contains("sre_cost_usd_total{gen_ai_request_model=\"judge-model\"} 0.25"),
            "{out}"
        );
        assert!(out.contains("judge-model"), "{out}");
        assert!(
            out.lines()
                .any(|l| l.starts_with("gen_ai_client_token_usage_sum")
                    && l.contains("judge-model")
                    && l.ends_with(" 1200")),
            "{out}"
        );
    }
}
