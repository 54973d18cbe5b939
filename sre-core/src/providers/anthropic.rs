//! Anthropic Messages API: request building with prompt-cache breakpoints, responses, and
//! streaming (SSE) including tool-call argument deltas and thinking blocks.
//!
//! Cache breakpoints (at most 4): after the tools, after the system blocks (system prompt
//! and static layers), on the previous request's last user message and on the last
//! message, so each turn reads the prefix the previous turn wrote.

use serde_json::{Map, Value, json};

use super::http::{self, HttpModel, HttpSettings, SseDecoder, WireFormat};
use crate::error::ModelError;
use crate::message::{ContentBlock, Message, Role};
use crate::model::{ModelInfo, ModelRequest, ModelResponse, StopReason, StreamEvent};
use crate::usage::Usage;

/// Configuration of [`AnthropicModel`].
#[derive(Clone)]
pub struct AnthropicConfig {
    /// API key (`x-api-key`).
    pub api_key: String,
    /// Model name, e.g. `claude-sonnet-4-5`.
    pub model: String,
    /// Model facts (see [`catalog::model_info`](super::catalog::model_info)).
    pub info: ModelInfo,
    /// Base URL (default `https://api.anthropic.com`), headers and timeouts.
    pub http: HttpSettings,
    /// `anthropic-version` header. Default `2023-06-01`.
    pub version: String,
    /// Place `cache_control` breakpoints. Default on.
    pub prompt_caching: bool,
    /// Send the request's `temperature`. Default: unless the catalogue knows the model as
    /// a reasoning model ([`is_reasoning_model`](super::catalog::is_reasoning_model)).
    pub sampling: bool,
}

impl std::fmt::Debug for AnthropicConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicConfig")
            .field("api_key", &"<redacted>")
            .field("model", &self.model)
            .field("info", &self.info)
            .field("http", &self.http)
            .field("version", &self.version)
            .field("prompt_caching", &self.prompt_caching)
            .field("sampling", &self.sampling)
            .finish()
    }
}

impl AnthropicConfig {
    /// Configuration for `model` with `api_key` and the catalog's facts.
    pub fn new(api_key: impl Into<String>, model: impl Into<String>) -> Self {
        let model = model.into();
        AnthropicConfig {
            sampling: !super::catalog::is_reasoning_model(&model),
            api_key: api_key.into(),
            info: super::catalog::model_info(&model),
            model,
            http: HttpSettings::new("https://api.anthropic.com"),
            version: "2023-06-01".into(),
            prompt_caching: true,
        }
    }
}

/// The Anthropic Messages API as a [`Model`](crate::Model).
pub type AnthropicModel = HttpModel<AnthropicConfig>;

impl HttpModel<AnthropicConfig> {
    /// Build the client.
    pub fn new(config: AnthropicConfig) -> Result<Self, ModelError> {
        HttpModel::from_wire(config)
    }
}

impl WireFormat for AnthropicConfig {
    type Decoder = StreamDecoder;
    const REQUEST_ID_HEADER: &'static str = "request-id";
    const NAME: &'static str = "Anthropic Messages";
    const PROVIDER: &'static str = "anthropic";

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn http(&self) -> &HttpSettings {
        &self.http
    }

    fn url(&self) -> String {
        self.http.url("v1/messages")
    }

    fn headers(&self) -> Vec<(String, String)> {
        vec![
            ("x-api-key".into(), self.api_key.clone()),
            ("anthropic-version".into(), self.version.clone()),
        ]
    }

    fn body(&self, request: &ModelRequest, stream: bool) -> Result<Vec<u8>, ModelError> {
        let caching = self.prompt_caching;
        let breakpoint = || json!({"type": "ephemeral"});
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("max_tokens".into(), json!(request.max_output_tokens));
        if let Some(t) = request.temperature.filter(|_| self.sampling) {
            body.insert("temperature".into(), http::temperature_json(t));
        }
        if !request.tools.is_empty() {
            let last = request.tools.len() - 1;
            let tools: Vec<Value> = request
                .tools
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let mut o = Map::new();
                    o.insert("name".into(), json!(t.name));
                    o.insert("description".into(), json!(t.description));
                    o.insert("input_schema".into(), t.input_schema.clone());
                    if caching && i == last {
                        o.insert("cache_control".into(), breakpoint());
                    }
                    Value::Object(o)
                })
                .collect();
            body.insert("tools".into(), Value::Array(tools));
        }
        if !request.system.is_empty() {
            let last = request.system.len() - 1;
            let system: Vec<Value> = request
                .system
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let mut o = Map::new();
                    o.insert("type".into(), json!("text"));
                    o.insert("text".into(), json!(b.text));
                    if caching && i == last {
                        o.insert("cache_control".into(), breakpoint());
                    }
                    Value::Object(o)
                })
                .collect();
            body.insert("system".into(), Value::Array(system));
        }
        let mut messages = wire_messages(&request.messages);
        if caching {
            // The last message, and the user message before it (what the previous turn ended
            // with), each get a breakpoint on their last block.
            let users: Vec<usize> = messages
                .iter()
                .enumerate()
                .filter(|(_, m)| m["role"] == "user")
                .map(|(i, _)| i)
                .collect();
            let mut marks = vec![messages.len().saturating_sub(1)];
            if let Some(&prev) = users.iter().rev().find(|&&i| i + 1 < messages.len()) {
                marks.push(prev);
            }
            for i in marks {
                if let Some(Value::Array(blocks)) =
                    messages.get_mut(i).and_then(|m| m.get_mut("content"))
                    && let Some(Value::Object(last)) = blocks.last_mut()
                {
                    last.insert("cache_control".into(), breakpoint());
                }
            }
        }
        body.insert("messages".into(), Value::Array(messages));
        if stream {
            body.insert("stream".into(), json!(true));
        }
        http::encode(&body, Self::NAME)
    }

    fn parse(&self, body: &[u8]) -> Result<ModelResponse, ModelError> {
        parse_response(body)
    }
}

/// Transcript messages in the wire format; consecutive messages of one role are merged
/// (the API wants alternating roles) with tool results first in a user turn.
fn wire_messages(messages: &[Message]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(messages.len());
    let mut last_role = None;
    for m in messages {
        let role = match m.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let blocks: Vec<Value> = m.content.iter().map(wire_block).collect();
        if last_role == Some(m.role)
            && let Some(Value::Array(prev)) = out.last_mut().and_then(|v| v.get_mut("content"))
        {
            prev.extend(blocks);
            continue;
        }
        out.push(json!({"role": role, "content": blocks}));
        last_role = Some(m.role);
    }
    out
}

fn wire_block(b: &ContentBlock) -> Value {
    match b {
        ContentBlock::Text { text } => json!({"type": "text", "text": text}),
        ContentBlock::ToolUse { id, name, input } => {
            json!({"type": "tool_use", "id": id, "name": name, "input": input})
        }
        ContentBlock::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => {
            json!({"type": "tool_result", "tool_use_id": tool_use_id, "content": content, "is_error": is_error})
        }
        ContentBlock::Thinking {
            thinking,
            signature,
        } => match signature {
            Some(s) => json!({"type": "thinking", "thinking": thinking, "signature": s}),
            None => json!({"type": "thinking", "thinking": thinking}),
        },
    }
}

fn stop_reason(s: Option<&str>) -> StopReason {
    match s {
        Some("end_turn") => StopReason::EndTurn,
        Some("tool_use") => StopReason::ToolUse,
        Some("max_tokens") => StopReason::MaxTokens,
        Some("stop_sequence") => StopReason::StopSequence,
        Some(other) => StopReason::Other(other.to_string()),
        None => StopReason::Other("unknown".into()),
    }
}

fn usage(u: &Value) -> Usage {
    let n = |k: &str| u[k].as_u64().unwrap_or(0);
    Usage {
        input_tokens: n("input_tokens"),
        output_tokens: n("output_tokens"),
        cache_read_tokens: n("cache_read_input_tokens"),
        cache_write_tokens: n("cache_creation_input_tokens"),
    }
}

fn invalid(message: String) -> ModelError {
    ModelError::InvalidResponse { message }
}

/// Parse a non-streamed Messages response.
pub fn parse_response(body: &[u8]) -> Result<ModelResponse, ModelError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("response is not JSON: {e}")))?;
    let blocks = v["content"]
        .as_array()
        .ok_or_else(|| invalid("response has no `content` array".into()))?;
    let mut content = Vec::with_capacity(blocks.len());
    for (i, b) in blocks.iter().enumerate() {
        let s = |k: &str| b[k].as_str().map(str::to_string);
        content.push(match b["type"].as_str() {
            Some("text") => ContentBlock::Text {
                text: s("text").unwrap_or_default(),
            },
            Some("tool_use") => ContentBlock::ToolUse {
                id: s("id").ok_or_else(|| invalid(format!("content[{i}]: tool_use without id")))?,
                name: s("name")
                    .ok_or_else(|| invalid(format!("content[{i}]: tool_use without name")))?,
                input: if b["input"].is_object() {
                    b["input"].clone()
                } else {
                    json!({})
                },
            },
            Some("thinking") => ContentBlock::Thinking {
                thinking: s("thinking").unwrap_or_default(),
                signature: s("signature"),
            },
            Some("redacted_thinking") => ContentBlock::Thinking {
                thinking: String::new(),
                signature: s("data"),
            },
            other => {
                return Err(invalid(format!(
                    "content[{i}]: unknown block type {other:?}"
                )));
            }
        });
    }
    Ok(ModelResponse {
        content,
        stop_reason: stop_reason(v["stop_reason"].as_str()),
        usage: usage(&v["usage"]),
        request_id: v["id"].as_str().map(str::to_string),
    })
}

/// Translates Anthropic stream events into [`StreamEvent`]s.
#[derive(Default)]
pub struct StreamDecoder {
    stopped: bool,
    stop_reason: Option<StopReason>,
}

impl SseDecoder for StreamDecoder {
    const END: &'static str = "message_stop";

    fn decode(&mut self, event: &str, data: &str) -> Result<Vec<StreamEvent>, ModelError> {
        self.decode_event(event, data)
    }

    fn is_complete(&self) -> bool {
        self.stopped
    }
}

impl StreamDecoder {
    /// Decode one SSE event (`event` name and `data` JSON).
    pub fn decode_event(
        &mut self,
        event: &str,
        data: &str,
    ) -> Result<Vec<StreamEvent>, ModelError> {
        if event == "ping" {
            return Ok(vec![]);
        }
        let v: Value = serde_json::from_str(data)
            .map_err(|e| invalid(format!("`{event}` event is not JSON: {e}")))?;
        let kind = if event.is_empty() {
            v["type"].as_str().unwrap_or("")
        } else {
            event
        };
        Ok(match kind {
            "message_start" => {
                let mut out = Vec::with_capacity(2);
                if let Some(id) = v["message"]["id"].as_str() {
                    out.push(StreamEvent::RequestId { id: id.to_string() });
                }
                out.push(StreamEvent::Usage {
                    usage: usage(&v["message"]["usage"]),
                });
                out
            }
            "content_block_start" => {
                let index = v["index"].as_u64().unwrap_or(0) as usize;
                let b = &v["content_block"];
                match b["type"].as_str() {
                    Some("tool_use") => vec![StreamEvent::ToolUseStart {
                        index,
                        id: b["id"].as_str().unwrap_or_default().to_string(),
                        name: b["name"].as_str().unwrap_or_default().to_string(),
                    }],
                    Some("text") => match b["text"].as_str() {
                        Some(t) if !t.is_empty() => vec![StreamEvent::TextDelta {
                            text: t.to_string(),
                        }],
                        _ => vec![StreamEvent::TextDelta {
                            text: String::new(),
                        }],
                    },
                    Some("thinking") => vec![StreamEvent::ThinkingDelta {
                        thinking: String::new(),
                        signature: None,
                    }],
                    _ => vec![],
                }
            }
            "content_block_delta" => {
                let index = v["index"].as_u64().unwrap_or(0) as usize;
                let d = &v["delta"];
                let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
                match d["type"].as_str() {
                    Some("text_delta") => vec![StreamEvent::TextDelta { text: s("text") }],
                    Some("input_json_delta") => vec![StreamEvent::ToolUseDelta {
                        index,
                        partial_json: s("partial_json"),
                    }],
                    Some("thinking_delta") => vec![StreamEvent::ThinkingDelta {
                        thinking: s("thinking"),
                        signature: None,
                    }],
                    Some("signature_delta") => {
                        vec![StreamEvent::ThinkingDelta {
                            thinking: String::new(),
                            signature: Some(s("signature")),
                        }]
                    }
                    _ => vec![],
                }
            }
            "message_delta" => {
                self.stop_reason = Some(stop_reason(v["delta"]["stop_reason"].as_str()));
                vec![StreamEvent::Usage {
                    usage: usage(&v["usage"]),
                }]
            }
            "message_stop" => {
                self.stopped = true;
                vec![StreamEvent::Stop {
                    reason: self.stop_reason.clone().unwrap_or(StopReason::EndTurn),
                }]
            }
            "error" => {
                let kind = v["error"]["type"].as_str().unwrap_or("error");
                let message = format!(
                    "{kind}: {}",
                    v["error"]["message"].as_str().unwrap_or("(no message)")
                );
                return Err(ModelError::Status {
                    status: http::status_of(kind),
                    message,
                    request_id: None,
                    retry_after_ms: None,
                });
            }
            _ => vec![],
        })
    }
}
