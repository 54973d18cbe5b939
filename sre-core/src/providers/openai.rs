//! OpenAI-compatible Chat Completions: OpenAI, Azure OpenAI, vLLM, llama.cpp server,
//! Ollama. Function tools, streamed tool-call deltas assembled by index,
//! `stream_options.include_usage`, cached-token usage and `prompt_cache_key`.

use std::collections::BTreeMap;

use futures::stream::BoxStream;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};

use super::http::{self, HttpSettings};
use crate::error::ModelError;
use crate::message::{ContentBlock, Role};
use crate::model::{Model, ModelInfo, ModelRequest, ModelResponse, StopReason, StreamEvent};
use crate::usage::Usage;
use crate::validate::validate_request;

/// Configuration of [`OpenAiModel`].
#[derive(Clone, Debug)]
pub struct OpenAiConfig {
    /// Bearer token, if the server wants one (`Authorization: Bearer ...`).
    pub api_key: Option<String>,
    /// Model name.
    pub model: String,
    /// Model facts.
    pub info: ModelInfo,
    /// Base URL (default `https://api.openai.com/v1`), extra headers (e.g. Azure `api-key`)
    /// and timeouts.
    pub http: HttpSettings,
    /// Full URL of the chat-completions endpoint, when it is not `<base>/chat/completions`
    /// (e.g. Azure `.../deployments/<d>/chat/completions?api-version=...`).
    pub url_override: Option<String>,
    /// `prompt_cache_key` to send (routes requests sharing a prefix to the same cache).
    pub prompt_cache_key: Option<String>,
    /// Send the output cap as `max_completion_tokens` (OpenAI's current name) instead of
    /// `max_tokens` (what most compatible servers read). Default false.
    pub max_completion_tokens: bool,
}

impl OpenAiConfig {
    /// Configuration for `model` at `base_url`.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        let model = model.into();
        OpenAiConfig {
            api_key: None,
            info: super::catalog::model_info(&model),
            model,
            http: HttpSettings::new(base_url),
            url_override: None,
            prompt_cache_key: None,
            max_completion_tokens: false,
        }
    }
}

/// An OpenAI-compatible Chat Completions endpoint as a [`Model`].
pub struct OpenAiModel {
    config: OpenAiConfig,
    client: reqwest::Client,
    url: String,
}

impl OpenAiModel {
    /// Build the client.
    pub fn new(config: OpenAiConfig) -> Result<Self, ModelError> {
        let client = http::client(&config.http)?;
        let url = config
            .url_override
            .clone()
            .unwrap_or_else(|| config.http.url("chat/completions"));
        Ok(OpenAiModel {
            config,
            client,
            url,
        })
    }

    /// The JSON body sent for `request` (deterministic).
    pub fn request_body(&self, request: &ModelRequest, stream: bool) -> Vec<u8> {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.config.model));
        let mut messages = Vec::with_capacity(request.messages.len() + request.system.len());
        for b in &request.system {
            messages.push(json!({"role": "system", "content": b.text}));
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
        let cap = if self.config.max_completion_tokens {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(cap.into(), json!(request.max_output_tokens));
        if let Some(key) = &self.config.prompt_cache_key {
            body.insert("prompt_cache_key".into(), json!(key));
        }
        if stream {
            body.insert("stream".into(), json!(true));
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
    }

    fn headers(&self) -> Result<HeaderMap, ModelError> {
        let mut h = HeaderMap::new();
        if let Some(key) = &self.config.api_key {
            let mut v = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                ModelError::InvalidRequest {
                    message: "the API key is not a valid header value".into(),
                }
            })?;
            v.set_sensitive(true);
            h.insert(reqwest::header::AUTHORIZATION, v);
        }
        Ok(h)
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
    started: BTreeMap<u64, ()>,
    finish: Option<StopReason>,
    done: bool,
}

impl http::SseDecoder for StreamDecoder {
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
            let status = err["code"].as_u64().map(|c| c as u16).unwrap_or(500);
            return Err(ModelError::Status {
                status,
                message,
                request_id: None,
                retry_after_ms: None,
            });
        }
        let mut out = Vec::new();
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
                    if let std::collections::btree_map::Entry::Vacant(e) = self.started.entry(idx) {
                        e.insert(());
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

#[async_trait::async_trait]
impl Model for OpenAiModel {
    fn info(&self) -> &ModelInfo {
        &self.config.info
    }

    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        validate_request(request)?;
        let body = self.request_body(request, false);
        http::complete(
            &self.client,
            &self.url,
            self.headers()?,
            body,
            "x-request-id",
            parse_response,
        )
        .await
    }

    async fn stream(
        &self,
        request: &ModelRequest,
    ) -> Result<BoxStream<'static, Result<StreamEvent, ModelError>>, ModelError> {
        validate_request(request)?;
        let body = self.request_body(request, true);
        http::stream::<StreamDecoder>(
            &self.client,
            &self.url,
            self.headers()?,
            body,
            "x-request-id",
        )
        .await
    }
}
