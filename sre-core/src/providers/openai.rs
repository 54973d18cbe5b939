//! OpenAI-compatible Chat Completions: OpenAI, Azure OpenAI, vLLM, llama.cpp server,
//! Ollama. Function tools, streamed tool-call deltas assembled by index,
//! `stream_options.include_usage`, cached-token usage and `prompt_cache_key`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::http::{self, HttpModel, HttpSettings, SseDecoder, WireFormat};
use crate::error::ModelError;
use crate::message::{ContentBlock, Role};
use crate::model::{ModelInfo, ModelRequest, ModelResponse, StopReason, StreamEvent};
use crate::usage::Usage;

/// Configuration of [`OpenAiModel`].
#[derive(Clone)]
pub struct OpenAiConfig {
    /// Bearer token, if the server wants one (`Authorization: Bearer ...`).
    pub api_key: Option<String>,
    /// Model name sent in the body (on Azure: the deployment name).
    pub model: String,
    /// Model facts.
    pub info: ModelInfo,
    /// Base URL (default `https://api.openai.com/v1`), extra headers (e.g. Azure `api-key`)
    /// and timeouts.
    pub http: HttpSettings,
    /// Full URL of the chat-completions endpoint, when it is not `<base>/chat/completions`
    /// (e.g. Azure `.../deployments/<d>/chat/completions?api-version=...`, see
    /// [`AzureOpenAi`](super::azure::AzureOpenAi)).
    pub url_override: Option<String>,
    /// `prompt_cache_key` to send (routes requests sharing a prefix to the same cache).
    pub prompt_cache_key: Option<String>,
    /// Send the output cap as `max_completion_tokens` (what reasoning models require)
    /// instead of `max_tokens` (what most compatible servers read). Default: whether the
    /// catalogue knows the model as a reasoning model
    /// ([`is_reasoning_model`](super::catalog::is_reasoning_model)).
    pub max_completion_tokens: bool,
    /// Send the system blocks as `developer` messages (what reasoning models expect)
    /// instead of `system`. Default: as for `max_completion_tokens`.
    pub developer_role: bool,
    /// Send the request's `temperature`. Default: unless the catalogue knows the model as
    /// a reasoning model (they reject sampling parameters).
    pub sampling: bool,
    /// `gen_ai.provider.name` of its telemetry. Default `openai` (also for compatible
    /// servers, as the conventions ask); [`AzureOpenAi`](super::azure::AzureOpenAi) sets
    /// `azure.ai.openai`.
    pub provider: &'static str,
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("info", &self.info)
            .field("http", &self.http)
            .field("url_override", &self.url_override)
            .field("prompt_cache_key", &self.prompt_cache_key)
            .field("max_completion_tokens", &self.max_completion_tokens)
            .field("developer_role", &self.developer_role)
            .field("sampling", &self.sampling)
            .field("provider", &self.provider)
            .finish()
    }
}

impl OpenAiConfig {
    /// Configuration for `model` at `base_url`, with the catalogue's facts for it.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        let model = model.into();
        let mut config = OpenAiConfig {
            api_key: None,
            info: ModelInfo::new("", 0),
            model: model.clone(),
            http: HttpSettings::new(base_url),
            url_override: None,
            prompt_cache_key: None,
            max_completion_tokens: false,
            developer_role: false,
            sampling: true,
            provider: "openai",
        };
        config.facts_of(&model);
        config
    }

    /// Take the model facts (window, prices, reasoning) from the catalogue entry of
    /// `model`, e.g. when the name sent is an Azure deployment name.
    pub fn facts_of(&mut self, model: &str) {
        self.info = super::catalog::model_info(model);
        let reasoning = super::catalog::is_reasoning_model(model);
        self.max_completion_tokens = reasoning;
        self.developer_role = reasoning;
        self.sampling = !reasoning;
    }
}

/// An OpenAI-compatible Chat Completions endpoint as a [`Model`](crate::Model).
pub type OpenAiModel = HttpModel<OpenAiConfig>;

impl HttpModel<OpenAiConfig> {
    /// Build the client.
    pub fn new(config: OpenAiConfig) -> Result<Self, ModelError> {
        HttpModel::from_wire(config)
    }
}

impl WireFormat for OpenAiConfig {
    type Decoder = StreamDecoder;
    const REQUEST_ID_HEADER: &'static str = "x-request-id";
    const NAME: &'static str = "Chat Completions";
    const PROVIDER: &'static str = "openai";

    fn provider(&self) -> &str {
        self.provider
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn http(&self) -> &HttpSettings {
        &self.http
    }

    fn url(&self) -> String {
        self.url_override
            .clone()
            .unwrap_or_else(|| self.http.url("chat/completions"))
    }

    fn headers(&self) -> Vec<(String, String)> {
        self.api_key
            .iter()
            .map(|key| ("authorization".to_string(), format!("Bearer {key}")))
            .collect()
    }

    fn body(&self, request: &ModelRequest, stream: bool) -> Result<Vec<u8>, ModelError> {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        let mut messages = Vec::with_capacity(request.messages.len() + request.system.len());
        let system_role = if self.developer_role {
            "developer"
        } else {
            "system"
        };
        for b in &request.system {
            messages.push(json!({"role": system_role, "content": b.text}));
        }
        for m in &request.messages {
            match m.role {
                Role::Assistant => {
                    let text: Vec<&str> = m
                        .content
                        .iter()
                        .filter_map(|b| {
                            if let ContentBlock::Text { text } = b {
                                Some(text.as_str())
                            } else {
                                None
                            }
                        })
                        .collect();
                    let calls: Vec<Value> = m
                        .tool_uses()
                        .map(|(id, name, input)| {
                            json!({"id": id, "type": "function", "function": {"name": name, "arguments": input.to_string()}})
                        })
                        .collect();
                    let mut o = Map::new();
                    o.insert("role".into(), json!("assistant"));
                    o.insert(
                        "content".into(),
                        if text.is_empty() {
                            Value::Null
                        } else {
                            json!(text.join("\n"))
                        },
                    );
                    if !calls.is_empty() {
                        o.insert("tool_calls".into(), Value::Array(calls));
                    }
                    messages.push(Value::Object(o));
                }
                Role::User => {
                    // Tool results become `tool` messages (they must directly follow the
                    // assistant's calls); any text becomes a user message after them.
                    let mut text = Vec::new();
                    for b in &m.content {
                        match b {
                            ContentBlock::ToolResult {
                                tool_use_id,
                                content,
                                is_error,
                            } => {
                                let content = if *is_error {
                                    format!("[error] {content}")
                                } else {
                                    content.clone()
                                };
                                messages.push(json!({"role": "tool", "tool_call_id": tool_use_id, "content": content}));
                            }
                            ContentBlock::Text { text: t } => text.push(t.as_str()),
                            _ => {}
                        }
                    }
                    if !text.is_empty() {
                        messages.push(json!({"role": "user", "content": text.join("\n\n")}));
                    }
                }
            }
        }
        body.insert("messages".into(), Value::Array(messages));
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}}))
                .collect();
            body.insert("tools".into(), Value::Array(tools));
        }
        let cap = if self.max_completion_tokens {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(cap.into(), json!(request.max_output_tokens));
        if let Some(t) = request.temperature.filter(|_| self.sampling) {
            body.insert("temperature".into(), http::temperature_json(t));
        }
        if let Some(key) = &self.prompt_cache_key {
            body.insert("prompt_cache_key".into(), json!(key));
        }
        if stream {
            body.insert("stream".into(), json!(true));
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        http::encode(&body, Self::NAME)
    }

    fn parse(&self, body: &[u8]) -> Result<ModelResponse, ModelError> {
        parse_response(body)
    }
}

fn stop_reason(s: Option<&str>) -> StopReason {
    match s {
        Some("stop") => StopReason::EndTurn,
        Some("tool_calls") | Some("function_call") => StopReason::ToolUse,
        Some("length") => StopReason::MaxTokens,
        Some(other) => StopReason::Other(other.to_string()),
        None => StopReason::Other("unknown".into()),
    }
}

/// Chat usage: `prompt_tokens` includes cached tokens, which are reported apart.
fn usage(u: &Value) -> Usage {
    let prompt = u["prompt_tokens"].as_u64().unwrap_or(0);
    let cached = u["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap_or(0)
        .min(prompt);
    Usage {
        input_tokens: prompt - cached,
        output_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
    }
}

fn invalid(message: String) -> ModelError {
    ModelError::InvalidResponse { message }
}

/// Parse a non-streamed chat completion.
pub fn parse_response(body: &[u8]) -> Result<ModelResponse, ModelError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("response is not JSON: {e}")))?;
    let choice = &v["choices"][0];
    if choice.is_null() {
        return Err(invalid("response has no choices".into()));
    }
    let msg = &choice["message"];
    let mut content = Vec::new();
    if let Some(t) = msg["content"].as_str()
        && !t.is_empty()
    {
        content.push(ContentBlock::Text {
            text: t.to_string(),
        });
    }
    if let Some(calls) = msg["tool_calls"].as_array() {
        for (i, c) in calls.iter().enumerate() {
            let args = c["function"]["arguments"].as_str().unwrap_or("{}");
            let input: Value = if args.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(args)
                    .map_err(|e| invalid(format!("tool_calls[{i}] arguments are not JSON: {e}")))?
            };
            content.push(ContentBlock::ToolUse {
                id: c["id"]
                    .as_str()
                    .ok_or_else(|| invalid(format!("tool_calls[{i}] has no id")))?
                    .to_string(),
                name: c["function"]["name"]
                    .as_str()
                    .ok_or_else(|| invalid(format!("tool_calls[{i}] has no name")))?
                    .to_string(),
                input,
            });
        }
    }
    Ok(ModelResponse {
        content,
        stop_reason: stop_reason(choice["finish_reason"].as_str()),
        usage: usage(&v["usage"]),
        request_id: v["id"].as_str().map(str::to_string),
    })
}

/// Translates chat-completion chunks into [`StreamEvent`]s. Tool calls are keyed by their
/// `index`; the first delta of a call carries its id and name.
#[derive(Default)]
pub struct StreamDecoder {
    started: BTreeSet<u64>,
    finish: Option<StopReason>,
    done: bool,
    id_seen: bool,
}

impl SseDecoder for StreamDecoder {
    const END: &'static str = "[DONE]";

    fn decode(&mut self, _event: &str, data: &str) -> Result<Vec<StreamEvent>, ModelError> {
        self.decode_data(data)
    }

    fn is_complete(&self) -> bool {
        self.done
    }
}

impl StreamDecoder {
    /// Decode one `data:` payload.
    pub fn decode_data(&mut self, data: &str) -> Result<Vec<StreamEvent>, ModelError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(vec![StreamEvent::Stop {
                reason: self.finish.clone().unwrap_or(StopReason::EndTurn),
            }]);
        }
        let v: Value = serde_json::from_str(data)
            .map_err(|e| invalid(format!("stream chunk is not JSON: {e}")))?;
        if let Some(err) = v.get("error") {
            let message = err["message"]
                .as_str()
                .unwrap_or("(no message)")
                .to_string();
            let kind = err["type"].as_str().or(err["code"].as_str()).unwrap_or("");
            let status = match err["code"].as_u64() {
                Some(c) => u16::try_from(c).unwrap_or(500),
                None => http::status_of(kind),
            };
            return Err(ModelError::Status {
                status,
                message,
                request_id: None,
                retry_after_ms: None,
            });
        }
        let mut out = Vec::new();
        if !self.id_seen
            && let Some(id) = v["id"].as_str()
        {
            self.id_seen = true;
            out.push(StreamEvent::RequestId { id: id.to_string() });
        }
        if let Some(choice) = v["choices"].get(0) {
            let d = &choice["delta"];
            if let Some(t) = d["content"].as_str()
                && !t.is_empty()
            {
                out.push(StreamEvent::TextDelta {
                    text: t.to_string(),
                });
            }
            if let Some(calls) = d["tool_calls"].as_array() {
                for c in calls {
                    let idx = c["index"].as_u64().unwrap_or(0);
                    if self.started.insert(idx) {
                        out.push(StreamEvent::ToolUseStart {
                            index: idx as usize,
                            id: c["id"].as_str().unwrap_or_default().to_string(),
                            name: c["function"]["name"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                        });
                    }
                    if let Some(args) = c["function"]["arguments"].as_str()
                        && !args.is_empty()
                    {
                        out.push(StreamEvent::ToolUseDelta {
                            index: idx as usize,
                            partial_json: args.to_string(),
                        });
                    }
                }
            }
            if let Some(f) = choice["finish_reason"].as_str() {
                self.finish = Some(stop_reason(Some(f)));
            }
        }
        if v["usage"].is_object() {
            out.push(StreamEvent::Usage {
                usage: usage(&v["usage"]),
            });
        }
        Ok(out)
    }
}
