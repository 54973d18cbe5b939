//! Replaying: models answer from the cassette, each session's calls in recorded order, and
//! every request is compared with the recorded one; tools answer from the cassette (by name
//! and arguments) or run for real and are compared. Differences are collected, not fatal:
//! the first one says where the runs parted.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use serde_json::Value;

use super::record::{tool_error_of, tool_error_text};
use super::{Cassette, Entry, Redactor};
use crate::error::ModelError;
use crate::model::{Model, ModelInfo, ModelRequest, ModelResponse, ResponseAssembler, StreamEvent};
use crate::tool::{Tool, ToolContext, ToolError, ToolOutput};

/// Where replayed tools' outputs come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolSource {
    /// The cassette: matched by tool name and arguments; a call it does not hold gets an
    /// error result saying so. Nothing touches the world.
    Recorded,
    /// The tools run for real; each output is compared with the recorded one.
    Live,
}

/// One difference between the recorded run and the replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The replay's step (model and tool calls, counted from 1) where it showed.
    pub step: usize,
    /// The session it happened in.
    pub session_id: String,
    /// What differed: `model request`, `model call`, `tool call`, `tool output`.
    pub what: String,
    /// How (for a request: the first differing JSON path and the bytes around it).
    pub detail: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "step {} ({}): {} differs: {}",
            self.step, self.session_id, self.what, self.detail
        )
    }
}

/// A cassette being replayed.
pub struct Replay {
    cassette: Cassette,
    /// Each model entry's request as bytes, by entry index (compared on every call).
    requests: Vec<Vec<u8>>,
    /// (live, recorded) texts that differ by design (the replay's transcript folder): the
    /// live side is rewritten before it is compared.
    aliases: Vec<(String, String)>,
    /// Requests compared with their timings left out (tools run live: their outputs' timings
    /// reach the transcript).
    steady: bool,
    redactor: Redactor,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Per session, the indices of its recorded model calls not yet served.
    models: HashMap<String, VecDeque<usize>>,
    /// Recorded tool calls already served.
    used: Vec<bool>,
    step: usize,
    model_calls: usize,
    tool_calls: usize,
    divergences: Vec<Divergence>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("entries", &self.cassette.entries.len())
            .finish_non_exhaustive()
    }
}

impl Replay {
    /// Replay `cassette`; the live side is redacted like the recording was (the
    /// environment's credentials and `secrets`) before it is compared.
    pub fn new(cassette: Cassette, secrets: Vec<(String, String)>) -> Self {
        let mut state = State {
            used: vec![false; cassette.entries.len()],
            ..State::default()
        };
        for (i, e) in cassette.entries.iter().enumerate() {
            if let Entry::Model { session_id, .. } = e {
                state
                    .models
                    .entry(session_id.clone())
                    .or_default()
                    .push_back(i);
            }
        }
        let requests = cassette
            .entries
            .iter()
            .map(|e| match e {
                Entry::Model { request, .. } => serde_json::to_vec(request).unwrap_or_default(),
                _ => Vec::new(),
            })
            .collect();
        Replay {
            cassette,
            requests,
            aliases: Vec::new(),
            steady: false,
            redactor: Redactor::from_env(secrets),
            state: Mutex::new(state),
        }
    }

    /// Compare `live` in the replay's requests as `recorded` (a path that differs by
    /// design, such as the folder the replay keeps its transcripts in).
    pub fn with_alias(mut self, live: impl Into<String>, recorded: impl Into<String>) -> Self {
        self.aliases.push((live.into(), recorded.into()));
        self
    }

    /// Compare requests with timings (`0.02s`, `26 ms`) left out: for a replay whose tools
    /// run live, whose outputs' timings reach the transcript.
    pub fn with_steady_timings(mut self) -> Self {
        self.steady = true;
        self
    }

    /// `request` as the recording would have it: redacted, aliases applied, as bytes.
    fn as_recorded(&self, request: &ModelRequest) -> Vec<u8> {
        let mut live = self.redactor.redact(request);
        if !self.aliases.is_empty() {
            // Through JSON and back: the bytes are the struct's, in its field order, as
            // the recorded side's are.
            let v = alias(
                serde_json::to_value(&live).unwrap_or_default(),
                &self.aliases,
            );
            live = serde_json::from_value(v).unwrap_or(live);
        }
        serde_json::to_vec(&live).unwrap_or_default()
    }

    /// The cassette.
    pub fn cassette(&self) -> &Cassette {
        &self.cassette
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A model that answers from the cassette, with the facts of the first model the
    /// recording used.
    pub fn model(self: &Arc<Self>) -> Arc<dyn Model> {
        let (info, provider) = self
            .cassette
            .entries
            .iter()
            .find_map(|e| match e {
                Entry::ModelInfo { info, provider } => Some((info.clone(), provider.clone())),
                _ => None,
            })
            .unwrap_or_else(|| (ModelInfo::new("replay", 200_000), String::new()));
        Arc::new(ReplayModel {
            replay: self.clone(),
            info,
            provider,
        })
    }

    /// `tool`, replayed: answered from the cassette, or run and compared.
    pub fn tool(self: &Arc<Self>, tool: Arc<dyn Tool>, source: ToolSource) -> Arc<dyn Tool> {
        Arc::new(ReplayTool {
            inner: tool,
            replay: self.clone(),
            source,
        })
    }

    /// Every difference seen so far, in order.
    pub fn divergences(&self) -> Vec<Divergence> {
        self.lock().divergences.clone()
    }

    /// The first difference, if any.
    pub fn first_divergence(&self) -> Option<Divergence> {
        self.lock().divergences.first().cloned()
    }

    /// (model calls, tool calls) replayed so far.
    pub fn replayed(&self) -> (usize, usize) {
        let s = self.lock();
        (s.model_calls, s.tool_calls)
    }

    /// Recorded model calls the replay never asked for, by session.
    pub fn unused_model_calls(&self) -> usize {
        self.lock().models.values().map(VecDeque::len).sum()
    }

    fn diverged(&self, state: &mut State, session_id: &str, what: &str, detail: String) {
        let step = state.step;
        state.divergences.push(Divergence {
            step,
            session_id: session_id.to_string(),
            what: what.into(),
            detail,
        });
    }

    /// The recorded answer to `request`: the first call of its session not yet served
    /// whose request is the same bytes (calls a session makes at once, prompt hooks in
    /// parallel, were recorded in the order they ended), else the session's next one,
    /// the two requests compared. `Ok(None)`: the recorded caller stopped waiting.
    fn answer(&self, request: &ModelRequest) -> Result<(Vec<StreamEvent>, bool), ModelError> {
        let live = self.as_recorded(request);
        let mut state = self.lock();
        state.step += 1;
        state.model_calls += 1;
        let entries = &self.cassette.entries;
        let next = state.models.get_mut(&request.session_id).and_then(|queue| {
            let same = queue.iter().position(|&i| self.requests[i] == live);
            match same {
                Some(p) => queue.remove(p),
                None => queue.pop_front(),
            }
        });
        let Some(index) = next else {
            let detail = format!(
                "the cassette holds no more model calls of session `{}`",
                request.session_id
            );
            self.diverged(
                &mut state,
                &request.session_id,
                "model call",
                detail.clone(),
            );
            return Err(ModelError::InvalidRequest { message: detail });
        };
        let Entry::Model { events, error, .. } = &entries[index] else {
            unreachable!("indices of model entries")
        };
        let (recorded, live) = if self.steady {
            let steady = |b: &[u8]| steady_text(&String::from_utf8_lossy(b)).into_bytes();
            (steady(&self.requests[index]), steady(&live))
        } else {
            (self.requests[index].clone(), live)
        };
        let recorded = &recorded;
        if *recorded != live {
            let report = crate::cache::prefix_report(recorded, &live);
            let at = report.common_bytes;
            let path = report
                .first_difference
                .unwrap_or_else(|| "one is a prefix of the other".into());
            let around = |bytes: &[u8]| {
                let start = at.saturating_sub(40).min(bytes.len());
                let end = (at + 60).min(bytes.len());
                String::from_utf8_lossy(&bytes[start..end]).into_owned()
            };
            let nth = entries[..=index]
                .iter()
                .filter(|e| matches!(e, Entry::Model { session_id, .. } if *session_id == request.session_id))
                .count();
            let detail = format!(
                "request {nth} of the session differs from byte {at} ({path}): recorded …{}… now …{}…",
                around(recorded),
                around(&live),
            );
            self.diverged(&mut state, &request.session_id, "model request", detail);
        }
        match error {
            Some(e) if e == super::record::DROPPED => Ok((events.clone(), true)),
            Some(e) => Err(ModelError::InvalidRequest {
                message: format!("recorded failure: {e}"),
            }),
            None => Ok((events.clone(), false)),
        }
    }

    /// The recorded output of a call of `name` with `input`: the same session's same call
    /// first, else the first unused call with that name and input.
    fn recorded_tool(
        &self,
        state: &mut State,
        ctx: &ToolContext,
        name: &str,
        input: &Value,
    ) -> Option<(Option<super::RecordedOutput>, Option<String>)> {
        let input = self.redactor.value(input.clone());
        let matching = |e: &Entry| matches!(e, Entry::Tool { name: n, input: i, .. } if n == name && *i == input);
        let exact = self.cassette.entries.iter().enumerate().position(|(i, e)| {
            !state.used[i]
                && matching(e)
                && matches!(e, Entry::Tool { session_id, call_id, .. } if *session_id == ctx.session_id && *call_id == ctx.tool_use_id)
        });
        let index = exact.or_else(|| {
            self.cassette
                .entries
                .iter()
                .enumerate()
                .position(|(i, e)| !state.used[i] && matching(e))
        })?;
        state.used[index] = true;
        match &self.cassette.entries[index] {
            Entry::Tool { output, error, .. } => Some((output.clone(), error.clone())),
            _ => None,
        }
    }
}

/// A tool's outcome as text, its timings (`0.02s`, `26 ms`) left out: they differ on every
/// run and say nothing of what the tool found.
fn steady_outcome(output: &Option<super::RecordedOutput>, error: &Option<String>) -> String {
    let text = match (output, error) {
        (Some(o), _) => format!("{}{}", if o.is_error { "error: " } else { "" }, o.content),
        (None, Some(e)) => format!("failed: {e}"),
        (None, None) => String::new(),
    };
    steady_text(&text)
}

/// `text` with its timings (`0.02s`, `26 ms`) replaced by `<time>`.
fn steady_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric());
        if starts {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            let mut k = j;
            while k < chars.len() && chars[k] == ' ' {
                k += 1;
            }
            let unit = ["ms", "s"].iter().find(|u| {
                let u: Vec<char> = u.chars().collect();
                chars.get(k..k + u.len()) == Some(&u[..])
                    && chars.get(k + u.len()).is_none_or(|c| !c.is_alphanumeric())
            });
            if let Some(u) = unit {
                out.push_str("<time>");
                i = k + u.len();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `v` with each alias's live text replaced by its recorded one, in every string.
fn alias(v: Value, aliases: &[(String, String)]) -> Value {
    match v {
        Value::String(s) => Value::String(
            aliases
                .iter()
                .fold(s, |s, (live, recorded)| s.replace(live.as_str(), recorded)),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| alias(x, aliases)).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, x)| (k, alias(x, aliases))).collect())
        }
        other => other,
    }
}

struct ReplayModel {
    replay: Arc<Replay>,
    info: ModelInfo,
    provider: String,
}

#[async_trait]
impl Model for ReplayModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn provider(&self) -> &str {
        &self.provider
    }

    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let (events, dropped) = self.replay.answer(request)?;
        if dropped {
            // The recorded caller stopped waiting (its timeout, a cancellation): so does
            // this one.
            futures::future::pending::<()>().await;
        }
        let mut asm = ResponseAssembler::default();
        for e in events {
            asm.push(e)?;
        }
        asm.finish()
    }

    async fn stream(
        &self,
        request: &ModelRequest,
    ) -> Result<BoxStream<'static, Result<StreamEvent, ModelError>>, ModelError> {
        let (events, dropped) = self.replay.answer(request)?;
        let arrived = stream::iter(events.into_iter().map(Ok));
        Ok(if dropped {
            Box::pin(arrived.chain(stream::pending()))
        } else {
            Box::pin(arrived)
        })
    }
}

struct ReplayTool {
    inner: Arc<dyn Tool>,
    replay: Arc<Replay>,
    source: ToolSource,
}

#[async_trait]
impl Tool for ReplayTool {
    forward_tool_metadata!();

    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let name = self.inner.spec().name.clone();
        // A tool that runs agents runs them: their model calls replay from the cassette.
        let runs_agents = !self
            .inner
            .child_sessions(&ctx.session_id, &ctx.agent_name, &ctx.tool_use_id, &input)
            .is_empty();
        let recorded = {
            let mut state = self.replay.lock();
            state.step += 1;
            state.tool_calls += 1;
            let found = self.replay.recorded_tool(&mut state, ctx, &name, &input);
            if found.is_none() {
                let detail = format!(
                    "no recording of `{name}` with {}",
                    self.replay.redactor.value(input.clone())
                );
                self.replay
                    .diverged(&mut state, &ctx.session_id, "tool call", detail);
            }
            found
        };
        if self.source == ToolSource::Live || runs_agents {
            let result = self.inner.call(input, ctx).await;
            if let Some((output, error)) = recorded {
                let now = match &result {
                    Ok(o) => (
                        Some(super::RecordedOutput {
                            content: self.replay.redactor.text(&o.content),
                            is_error: o.is_error,
                        }),
                        None,
                    ),
                    Err(e) => (None, Some(tool_error_text(e))),
                };
                let (was, is) = (
                    steady_outcome(&output, &error),
                    steady_outcome(&now.0, &now.1),
                );
                if was != is {
                    let mut state = self.replay.lock();
                    let line = was
                        .lines()
                        .zip(is.lines().chain(std::iter::repeat("")))
                        .find(|(a, b)| a != b)
                        .map(|(a, b)| format!(": recorded `{a}`, now `{b}`"))
                        .unwrap_or_default();
                    let detail = format!(
                        "`{name}` (call {}) returned something else than recorded{line}",
                        ctx.tool_use_id
                    );
                    self.replay
                        .diverged(&mut state, &ctx.session_id, "tool output", detail);
                }
            }
            return result;
        }
        match recorded {
            Some((Some(o), _)) => Ok(ToolOutput {
                content: o.content,
                is_error: o.is_error,
            }),
            Some((None, Some(e))) => Err(tool_error_of(&e)),
            Some((None, None)) => Err(ToolError::Invalid("recorded without an outcome".into())),
            None => Ok(ToolOutput::error(format!(
                "no recording for this call: the cassette holds no call of `{name}` with these arguments"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_do_not_make_tool_outputs_differ() {
        let out = |c: &str| {
            Some(super::super::RecordedOutput {
                content: c.into(),
                is_error: false,
            })
        };
        let a = steady_outcome(&out("[exit code 0 | 0.01s | sandbox]\nok in 26 ms"), &None);
        let b = steady_outcome(&out("[exit code 0 | 0.12s | sandbox]\nok in 3 ms"), &None);
        assert_eq!(a, b);
        let c = steady_outcome(&out("[exit code 0 | 0.01s | sandbox]\n3 errors"), &None);
        let d = steady_outcome(&out("[exit code 0 | 0.01s | sandbox]\n4 errors"), &None);
        assert_ne!(c, d);
    }
}
