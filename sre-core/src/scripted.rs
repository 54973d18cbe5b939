//! `ScriptedModel`: a deterministic [`Model`] that replays a script. It is for tests and for
//! the offline demo; everything it answers was written in advance, and it says so in its
//! [`ModelInfo::name`] (`scripted:<name>`).
//!
//! A script (YAML or JSON) lists, per agent, the steps the model takes:
//!
//! ```yaml
//! name: checkout-5xx
//! turns:                      # the main agent
//!   - say: Reading the log first.
//!     tool_calls:
//!       - tool: read_file
//!         args: {path: logs/app.log}
//!   - expect:
//!       last_message_contains: [PoolTimeoutError]   # assertion on what the model was sent
//!     final: "Root cause: ..."
//! agents:                     # other agents by name: subagents (`parent/db-pool` or
//!                             # `db-pool`), prompt-hook judges (`hook:quality` or `quality`)
//!   db-pool:
//!     - final: The pool is exhausted.
//! ```
//!
//! Which step answers a request is read off the request itself: the step after the one
//! that produced its last assistant message (tool-call ids are `call_<lane>_<step>_<k>`).
//! When the request holds no scripted assistant message (a fresh session, a prompt-hook
//! judge, or a session compacted to a summary), a lane whose steps say `when` picks the
//! first step whose `when` matches the request; other lanes take the step after the last
//! one this instance served. So a session resumed after a crash, even by a new process,
//! continues where the script left off, and a judge answers what it is shown:
//!
//! ```yaml
//! agents:
//!   quality:                  # a Stop prompt hook's judge
//!     - when: {last_message_contains: ["The database pool is too small."]}
//!       final: '{"ok": false, "reason": "no evidence"}'
//!     - when: {last_message_contains: ["## Root Cause"]}
//!       expect: {last_message_contains: ["158 `PoolTimeoutError`"]}
//!       final: '{"ok": true}'
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, ModelError, Result};
use crate::message::{ContentBlock, Role};
use crate::model::{Model, ModelInfo, ModelRequest, ModelResponse, StopReason};
use crate::prompt::{canonical_prompt, common_prefix_len};
use crate::usage::Usage;

/// A parsed script.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Name shown in `ModelInfo::name` as `scripted:<name>`.
    #[serde(default)]
    pub name: Option<String>,
    /// Model limits to report (context window etc.).
    #[serde(default)]
    pub model: Option<ScriptModelInfo>,
    /// Simulate a provider prompt cache (exact-prefix, per lane) in the reported usage.
    #[serde(default)]
    pub simulate_cache: bool,
    /// Steps of the main agent (lane `default`).
    #[serde(default)]
    pub turns: Vec<ScriptStep>,
    /// Steps of other agents, by agent name or by the last segment of it.
    #[serde(default)]
    pub agents: HashMap<String, Vec<ScriptStep>>,
}

/// Model limits a script reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptModelInfo {
    /// Context window in tokens.
    #[serde(default)]
    pub context_window: Option<u64>,
    /// Output cap.
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    /// Minimum cacheable prompt.
    #[serde(default)]
    pub min_cacheable_tokens: Option<u64>,
    /// Prices (US dollars per million tokens), so that runs report a cost.
    #[serde(default)]
    pub pricing: Option<crate::model::Pricing>,
}

/// One scripted model answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptStep {
    /// Text said before the tool calls (or the answer, if there are none and no `final`).
    #[serde(default)]
    pub say: Option<String>,
    /// Tool calls to make.
    #[serde(default)]
    pub tool_calls: Vec<ScriptToolCall>,
    /// The final answer.
    #[serde(default)]
    pub r#final: Option<String>,
    /// Assertions on the request that reaches this step.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// Selects this step for a request that holds no scripted assistant message (see the
    /// module documentation); same conditions as `expect`.
    #[serde(default)]
    pub when: Option<Expect>,
}

/// A scripted tool call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptToolCall {
    /// Tool name.
    pub tool: String,
    /// Arguments.
    #[serde(default = "empty_object")]
    pub args: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// Assertions on what the model was sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Each string must occur in the last message (text or tool results).
    #[serde(default)]
    pub last_message_contains: Vec<String>,
    /// Each string must occur somewhere in the canonical prompt.
    #[serde(default)]
    pub prompt_contains: Vec<String>,
    /// Each string must not occur in the canonical prompt.
    #[serde(default)]
    pub prompt_excludes: Vec<String>,
}

/// A deterministic model that replays a [`Script`].
pub struct ScriptedModel {
    info: ModelInfo,
    lanes: HashMap<String, Vec<ScriptStep>>,
    /// Lanes whose steps are chosen by `when` (computed once: scripts can be long).
    when_lanes: std::collections::HashSet<String>,
    simulate_cache: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    cursor: HashMap<String, usize>,
    last_prompt: HashMap<String, Vec<u8>>,
    recorded: Option<Vec<ModelRequest>>,
}

impl ScriptedModel {
    /// Parse a YAML (or JSON) script.
    pub fn from_yaml(text: &str) -> Result<Self> {
        Self::parse(text, "script")
    }

    /// Read a script file (`.json` is parsed as JSON, anything else as YAML).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    fn parse(text: &str, origin: &str) -> Result<Self> {
        let script: Script = if origin.ends_with(".json") {
            serde_json::from_str(text).map_err(|e| Error::Parse {
                location: format!("{origin}:{}:{}", e.line(), e.column()),
                message: e.to_string(),
            })?
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| Error::Parse {
                location: match e.location() {
                    Some(l) => format!("{origin}:{}:{}", l.line(), l.column()),
                    None => origin.to_string(),
                },
                message: e.to_string(),
            })?
        };
        Self::new(script, origin)
    }

    /// Build from a parsed script; checks every step.
    pub fn new(script: Script, origin: &str) -> Result<Self> {
        let mut lanes = script.agents;
        if lanes.contains_key("default") && !script.turns.is_empty() {
            return Err(Error::Parse {
                location: origin.into(),
                message: "both `turns` and `agents.default` are given; use one".into(),
            });
        }
        if !script.turns.is_empty() {
            lanes.insert("default".into(), script.turns);
        }
        for (lane, steps) in &lanes {
            for (i, step) in steps.iter().enumerate() {
                let where_ = || format!("{origin}: agent `{lane}`, step {}", i + 1);
                if step.r#final.is_some() && !step.tool_calls.is_empty() {
                    return Err(Error::Parse {
                        location: where_(),
                        message: "a step has either `final` or `tool_calls`, not both".into(),
                    });
                }
                if step.r#final.is_none() && step.tool_calls.is_empty() && step.say.is_none() {
                    return Err(Error::Parse {
                        location: where_(),
                        message: "a step needs `final`, `say` or `tool_calls`".into(),
                    });
                }
                for call in &step.tool_calls {
                    if !call.args.is_object() {
                        return Err(Error::Parse {
                            location: where_(),
                            message: format!(
                                "arguments of tool call `{}` must be a mapping",
                                call.tool
                            ),
                        });
                    }
                }
            }
        }
        let name = format!(
            "scripted:{}",
            script.name.unwrap_or_else(|| "script".into())
        );
        let mut info = ModelInfo::new(name, 200_000);
        if let Some(m) = script.model {
            info.context_window = m.context_window.unwrap_or(info.context_window);
            info.max_output_tokens = m.max_output_tokens.unwrap_or(info.max_output_tokens);
            info.min_cacheable_tokens = m.min_cacheable_tokens.unwrap_or(info.min_cacheable_tokens);
            if let Some(p) = &m.pricing {
                info.pricing = *p;
            }
        }
        let when_lanes = lanes
            .iter()
            .filter(|(_, steps)| steps.iter().any(|s| s.when.is_some()))
            .map(|(lane, _)| lane.clone())
            .collect();
        Ok(ScriptedModel {
            info,
            when_lanes,
            lanes,
            simulate_cache: script.simulate_cache,
            state: Mutex::new(State::default()),
        })
    }

    /// Replace the reported model info (context window, prices...).
    pub fn with_info(mut self, info: ModelInfo) -> Self {
        self.info = info;
        self
    }

    /// Keep a copy of every request received (see [`ScriptedModel::requests`]).
    pub fn recording(self) -> Self {
        self.lock().recorded = Some(Vec::new());
        self
    }

    /// The requests received so far, if recording.
    pub fn requests(&self) -> Vec<ModelRequest> {
        self.lock().recorded.clone().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lane_of(&self, agent: &str) -> Option<&str> {
        if let Some((k, _)) = self.lanes.get_key_value(agent) {
            return Some(k);
        }
        // `parent/child` subagents and `hook:name` judges are found by their last segment.
        let last = agent.rsplit(['/', ':']).next().unwrap_or(agent);
        if let Some((k, _)) = self.lanes.get_key_value(last) {
            return Some(k);
        }
        self.lanes.get_key_value("default").map(|(k, _)| k.as_str())
    }

    /// The step that produced the request's last assistant message, if it is scripted.
    fn identify(lane: &str, steps: &[ScriptStep], request: &ModelRequest) -> Option<usize> {
        let last = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::Assistant)?;
        let prefix = format!("call_{}_", id_safe(lane));
        for block in &last.content {
            if let ContentBlock::ToolUse { id, .. } = block {
                let step = id
                    .strip_prefix(&prefix)?
                    .split('_')
                    .next()?
                    .parse::<usize>()
                    .ok()?;
                return Some(step);
            }
        }
        let text = last.text();
        let mut found = steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.r#final.as_deref().or(s.say.as_deref()) == Some(&text));
        match (found.next(), found.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }
}

fn id_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn last_message_text(request: &ModelRequest) -> String {
    let last = request.messages.last().map(|m| {
        m.content
            .iter()
            .map(|b| match b {
                ContentBlock::Text { text } => text.clone(),
                ContentBlock::ToolResult { content, .. } => content.clone(),
                ContentBlock::ToolUse { input, .. } => input.to_string(),
                ContentBlock::Thinking { thinking, .. } => thinking.clone(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    last.unwrap_or_default()
}

fn check_expect(
    expect: &Expect,
    request: &ModelRequest,
    prompt: &str,
    step: usize,
    lane: &str,
) -> Result<(), ModelError> {
    let last = last_message_text(request);
    let fail = |what: String| ModelError::Script {
        message: format!("agent `{lane}`, step {}: {what}", step + 1),
    };
    for s in &expect.last_message_contains {
        if !last.contains(s.as_str()) {
            let shown: String = last.chars().take(300).collect();
            return Err(fail(format!(
                "expected the last message to contain {s:?}; it was: {shown:?}"
            )));
        }
    }
    for s in &expect.prompt_contains {
        if !prompt.contains(s.as_str()) {
            return Err(fail(format!("expected the prompt to contain {s:?}")));
        }
    }
    for s in &expect.prompt_excludes {
        if prompt.contains(s.as_str()) {
            return Err(fail(format!("expected the prompt not to contain {s:?}")));
        }
    }
    Ok(())
}

#[async_trait]
impl Model for ScriptedModel {
    fn provider(&self) -> &str {
        "sre.scripted"
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let lane = self
            .lane_of(&request.agent)
            .ok_or_else(|| ModelError::Script {
                message: format!(
                    "no script for agent `{}` and no `turns` for the main agent",
                    request.agent
                ),
            })?;
        let steps = &self.lanes[lane];
        let prompt_bytes = canonical_prompt(request);
        let mut state = self.lock();
        let index = match Self::identify(lane, steps, request) {
            Some(i) => i + 1,
            None if self.when_lanes.contains(lane) => {
                let prompt = String::from_utf8_lossy(&prompt_bytes);
                steps
                    .iter()
                    .position(|s| {
                        s.when
                            .as_ref()
                            .is_some_and(|w| check_expect(w, request, &prompt, 0, lane).is_ok())
                    })
                    .ok_or_else(|| ModelError::Script {
                        message: format!(
                            "agent `{lane}`: no step's `when` matches this request (last message: {:?})",
                            last_message_text(request).chars().take(300).collect::<String>()
                        ),
                    })?
            }
            None => state.cursor.get(lane).copied().unwrap_or(0),
        };
        let step = steps.get(index).ok_or_else(|| ModelError::Script {
            message: format!(
                "the script for agent `{lane}` has {} steps and a request asked for step {}",
                steps.len(),
                index + 1
            ),
        })?;
        if let Some(expect) = &step.expect {
            let prompt = String::from_utf8_lossy(&prompt_bytes);
            check_expect(expect, request, &prompt, index, lane)?;
        }
        state.cursor.insert(lane.to_string(), index + 1);

        let mut content: Vec<ContentBlock> = step
            .say
            .iter()
            .map(|t| ContentBlock::text(t.clone()))
            .collect();
        if let Some(answer) = &step.r#final {
            content.push(ContentBlock::text(answer.clone()));
        }
        let lane_id = id_safe(lane);
        for (k, call) in step.tool_calls.iter().enumerate() {
            content.push(ContentBlock::ToolUse {
                id: format!("call_{lane_id}_{index:02}_{k}"),
                name: call.tool.clone(),
                input: call.args.clone(),
            });
        }
        let stop_reason = if step.tool_calls.is_empty() {
            StopReason::EndTurn
        } else {
            StopReason::ToolUse
        };

        let prompt_tokens = (prompt_bytes.len() as u64).div_ceil(4);
        let output_bytes: usize = content
            .iter()
            .map(|b| match b {
                ContentBlock::Text { text } => text.len(),
                ContentBlock::ToolUse { name, input, .. } => name.len() + input.to_string().len(),
                _ => 0,
            })
            .sum();
        let mut usage = Usage {
            input_tokens: prompt_tokens,
            output_tokens: (output_bytes as u64).div_ceil(4),
            ..Usage::default()
        };
        if self.simulate_cache {
            let prefix = state
                .last_prompt
                .get(lane)
                .map(|p| common_prefix_len(p, &prompt_bytes))
                .unwrap_or(0);
            if prompt_tokens >= self.info.min_cacheable_tokens {
                let cached = (prefix as u64 / 4).min(prompt_tokens);
                usage.cache_read_tokens = cached;
                usage.cache_write_tokens = prompt_tokens - cached;
                usage.input_tokens = 0;
            }
            state.last_prompt.insert(lane.to_string(), prompt_bytes);
        }
        if let Some(rec) = &mut state.recorded {
            rec.push(request.clone());
        }
        Ok(ModelResponse {
            content,
            stop_reason,
            usage,
            request_id: Some(format!("scripted-{lane_id}-{index}")),
        })
    }
}
