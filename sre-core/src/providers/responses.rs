//! The OpenAI Responses API (`POST /v1/responses`; Azure OpenAI too), stateless: every
//! request carries the whole transcript with `store: false`, so nothing is kept on the
//! provider's side and any request can be retried or resumed.
//!
//! - System blocks become `instructions`; messages become `input` items (`message`,
//!   `function_call`, `function_call_output`); tools are flat `function` tools.
//! - Reasoning models (catalogue, overridable) get `include: ["reasoning.encrypted_content"]`;
//!   each reasoning item comes back as a [`ContentBlock::Thinking`] (summary text, and the
//!   encrypted content as its signature) and is sent back, in its place before the call or
//!   message it produced, as a `reasoning` item without an id (a stateless request cannot
//!   refer to stored items).
//! - `incomplete` with reason `max_output_tokens` is [`StopReason::MaxTokens`]; a `failed`
//!   response or an `error` event is a [`ModelError::Status`] (rate limits and server
//!   errors retryable); usage reports cached input tokens apart.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::http::{self, HttpModel, HttpSettings, SseDecoder, WireFormat};
use crate::error::ModelError;
use crate::message::{ContentBlock, Message, Role};
use crate::model::{ModelInfo, ModelRequest, ModelResponse, StopReason, StreamEvent};
use crate::usage::Usage;

/// Configuration of [`ResponsesModel`].
#[derive(Clone)]
pub struct ResponsesConfig {
    /// Bearer token (`Authorization: Bearer ...`), if the server wants one.
    pub api_key: Option<String>,
    /// Model name sent in the body (on Azure: the deployment name).
    pub model: String,
    /// Model facts.
    pub info: ModelInfo,
    /// Base URL (default `https://api.openai.com/v1`), extra headers and timeouts.
    pub http: HttpSettings,
    /// Full URL of the endpoint, when it is not `<base>/responses` (Azure, see
    /// [`AzureOpenAi`](super::azure::AzureOpenAi)).
    pub url_override: Option<String>,
    /// `prompt_cache_key` to send (routes requests sharing a prefix to the same cache).
    pub prompt_cache_key: Option<String>,
    /// Ask for encrypted reasoning and send it back. Default: whether the catalogue knows
    /// the model as a reasoning model (others reject the `include`).
    pub reasoning: bool,
    /// `reasoning.effort` (`minimal`, `low`, `medium`, `high`...), when set.
    pub reasoning_effort: Option<String>,
    /// Send the request's `temperature`. Default: unless the catalogue knows the model as
    /// a reasoning model (they reject sampling parameters).
    pub sampling: bool,
    /// `gen_ai.provider.name` of its telemetry. Default `openai` (also for compatible
    /// servers, as the conventions ask); [`AzureOpenAi`](super::azure::AzureOpenAi) sets
    /// `azure.ai.openai`.
    pub provider: &'static str,
}

impl std::fmt::Debug for ResponsesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponsesConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("info", &self.info)
            .field("http", &self.http)
            .field("url_override", &self.url_override)
            .field("prompt_cache_key", &self.prompt_cache_key)
            .field("reasoning", &self.reasoning)
            .field("reasoning_effort", &self.reasoning_effort)
            .field("sampling", &self.sampling)
            .field("provider", &self.provider)
            .finish()
    }
}

impl ResponsesConfig {
    /// Configuration for `model` at `base_url`, with the catalogue's facts for it.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        let model = model.into();
        let mut config = ResponsesConfig {
            api_key: None,
            info: ModelInfo::new("", 0),
            model: model.clone(),
            http: HttpSettings::new(base_url),
            url_override: None,
            prompt_cache_key: None,
            reasoning: false,
            reasoning_effort: None,
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
        self.reasoning = super::catalog::is_reasoning_model(model);
        self.sampling = !self.reasoning;
    }
}

/// The Responses API as a [`Model`](crate::Model).
pub type ResponsesModel = HttpModel<ResponsesConfig>;

impl HttpModel<ResponsesConfig> {
    /// Build the client.
    pub fn new(config: ResponsesConfig) -> Result<Self, ModelError> {
        HttpModel::from_wire(config)
    }
}

impl WireFormat for ResponsesConfig {
    type Decoder = StreamDecoder;
    const REQUEST_ID_HEADER: &'static str = "x-request-id";
    const NAME: &'static str = "Responses";
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
            .unwrap_or_else(|| self.http.url("responses"))
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
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "name": t.name, "description": t.description,
                           "parameters": t.input_schema, "strict": false})
                })
                .collect();
            body.insert("tools".into(), Value::Array(tools));
        }
        if !request.system.is_empty() {
            let text: Vec<&str> = request.system.iter().map(|b| b.text.as_str()).collect();
            body.insert("instructions".into(), json!(text.join("\n\n")));
        }
        body.insert(
            "input".into(),
            Value::Array(input_items(&request.messages, self.reasoning)),
        );
        body.insert("max_output_tokens".into(), json!(request.max_output_tokens));
        if let Some(t) = request.temperature.filter(|_| self.sampling) {
            body.insert("temperature".into(), http::temperature_json(t));
        }
        body.insert("store".into(), json!(false));
        if let Some(key) = &self.prompt_cache_key {
            body.insert("prompt_cache_key".into(), json!(key));
        }
        if self.reasoning {
            body.insert("include".into(), json!(["reasoning.encrypted_content"]));
        }
        if let Some(effort) = &self.reasoning_effort {
            body.insert("reasoning".into(), json!({"effort": effort}));
        }
        if stream {
            body.insert("stream".into(), json!(true));
        }
        http::encode(&body, Self::NAME)
    }

    fn parse(&self, body: &[u8]) -> Result<ModelResponse, ModelError> {
        parse_response(body)
    }
}

/// The transcript as `input` items, in order. A user message's tool results come first
/// (as `function_call_output`), its text after; an assistant message's blocks keep their
/// order, so a reasoning item precedes the call or message it produced. Reasoning without
/// encrypted content (or when `reasoning` is off) cannot be replayed and is left out.
fn input_items(messages: &[Message], reasoning: bool) -> Vec<Value> {
    let mut items = Vec::with_capacity(messages.len() + 1);
    for m in messages {
        match m.role {
            Role::User => {
                let mut text = Vec::new();
                for b in &m.content {
                    match b {
                        ContentBlock::ToolResult {
                            tool_use_id,
                            content,
                            is_error,
                        } => {
                            let output = if *is_error {
                                format!("[error] {content}")
                            } else {
                                content.clone()
                            };
                            items.push(json!({"type": "function_call_output", "call_id": tool_use_id, "output": output}));
                        }
                        ContentBlock::Text { text: t } => {
                            text.push(json!({"type": "input_text", "text": t}));
                        }
                        _ => {}
                    }
                }
                if !text.is_empty() {
                    items.push(json!({"type": "message", "role": "user", "content": text}));
                }
            }
            Role::Assistant => {
                for b in &m.content {
                    match b {
                        ContentBlock::Text { text } => items
                            .push(json!({"type": "message", "role": "assistant",
                            "content": [{"type": "output_text", "text": text}]})),
                        ContentBlock::ToolUse { id, name, input } => items
                            .push(json!({"type": "function_call",
                            "call_id": id, "name": name, "arguments": input.to_string()})),
                        ContentBlock::Thinking {
                            thinking,
                            signature: Some(encrypted),
                        } if reasoning => {
                            let summary: Vec<Value> = if thinking.is_empty() {
                                Vec::new()
                            } else {
                                vec![json!({"type": "summary_text", "text": thinking})]
                            };
                            items.push(json!({"type": "reasoning", "summary": summary, "encrypted_content": encrypted}));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    items
}

fn invalid(message: String) -> ModelError {
    ModelError::InvalidResponse { message }
}

/// `input_tokens` includes the cached ones, which are reported apart.
fn usage(u: &Value) -> Usage {
    let input = u["input_tokens"].as_u64().unwrap_or(0);
    let cached = u["input_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap_or(0)
        .min(input);
    Usage {
        input_tokens: input - cached,
        output_tokens: u["output_tokens"].as_u64().unwrap_or(0),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
    }
}

/// An error object (`{code, message}` of a failed response, or an `error` event, flat or
/// nested under `error`) as a status error.
fn failure(e: &Value) -> ModelError {
    let e = if e["error"].is_object() {
        &e["error"]
    } else {
        e
    };
    let kind = e["code"].as_str().or(e["type"].as_str()).unwrap_or("");
    let message = e["message"].as_str().unwrap_or("(no message)");
    ModelError::Status {
        status: http::status_of(kind),
        message: if kind.is_empty() {
            message.to_string()
        } else {
            format!("{kind}: {message}")
        },
        request_id: None,
        retry_after_ms: None,
    }
}

/// Why a finished response stopped; `Err` for a failed one.
fn stop_reason(response: &Value, called_tools: bool) -> Result<StopReason, ModelError> {
    match response["status"].as_str() {
        Some("completed") if called_tools => Ok(StopReason::ToolUse),
        Some("completed") => Ok(StopReason::EndTurn),
        Some("incomplete") => Ok(match response["incomplete_details"]["reason"].as_str() {
            Some("max_output_tokens") => StopReason::MaxTokens,
            Some(other) => StopReason::Other(other.to_string()),
            None => StopReason::Other("incomplete".into()),
        }),
        Some("failed") => Err(failure(&response["error"])),
        Some(other) => Ok(StopReason::Other(other.to_string())),
        None => Err(invalid("response has no `status`".into())),
    }
}

fn summary_text(item: &Value) -> String {
    let parts: Vec<&str> = item["summary"]
        .as_array()
        .map(|s| s.iter().filter_map(|p| p["text"].as_str()).collect())
        .unwrap_or_default();
    parts.join("\n\n")
}

fn arguments(args: &str, what: &str) -> Result<Value, ModelError> {
    if args.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(args).map_err(|e| invalid(format!("{what}: arguments are not JSON: {e}")))
}

/// Parse a non-streamed response.
pub fn parse_response(body: &[u8]) -> Result<ModelResponse, ModelError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("response is not JSON: {e}")))?;
    let output = v["output"]
        .as_array()
        .ok_or_else(|| invalid("response has no `output` array".into()))?;
    let mut content = Vec::with_capacity(output.len());
    let mut called_tools = false;
    for (i, item) in output.iter().enumerate() {
        match item["type"].as_str() {
            Some("reasoning") => {
                let thinking = summary_text(item);
                let signature = item["encrypted_content"].as_str().map(str::to_string);
                if !thinking.is_empty() || signature.is_some() {
                    content.push(ContentBlock::Thinking {
                        thinking,
                        signature,
                    });
                }
            }
            Some("message") => {
                for part in item["content"].as_array().into_iter().flatten() {
                    let text = match part["type"].as_str() {
                        Some("output_text") => part["text"].as_str(),
                        Some("refusal") => part["refusal"].as_str(),
                        _ => None,
                    };
                    if let Some(t) = text.filter(|t| !t.is_empty()) {
                        content.push(ContentBlock::text(t));
                    }
                }
            }
            Some("function_call") => {
                let what = format!("output[{i}]");
                called_tools = true;
                content.push(ContentBlock::ToolUse {
                    id: item["call_id"]
                        .as_str()
                        .ok_or_else(|| invalid(format!("{what}: function_call without call_id")))?
                        .to_string(),
                    name: item["name"]
                        .as_str()
                        .ok_or_else(|| invalid(format!("{what}: function_call without name")))?
                        .to_string(),
                    input: arguments(item["arguments"].as_str().unwrap_or(""), &what)?,
                });
            }
            other => return Err(invalid(format!("output[{i}]: unknown item type {other:?}"))),
        }
    }
    Ok(ModelResponse {
        stop_reason: stop_reason(&v, called_tools)?,
        content,
        usage: usage(&v["usage"]),
        request_id: v["id"].as_str().map(str::to_string),
    })
}

/// Translates Responses stream events into [`StreamEvent`]s. Function calls are keyed by
/// their `output_index`, so calls whose argument deltas interleave are assembled apart.
#[derive(Default)]
pub struct StreamDecoder {
    /// Output indexes of the function calls started.
    calls: BTreeSet<u64>,
    /// Output indexes of the calls whose arguments arrived as deltas.
    with_deltas: BTreeSet<u64>,
    /// Output indexes of reasoning items whose summary arrived as deltas.
    summarised: BTreeSet<u64>,
    /// The (output index, summary index) of the last summary delta.
    last_summary: Option<(u64, u64)>,
    done: bool,
}

impl SseDecoder for StreamDecoder {
    const END: &'static str = "a response.completed, .incomplete or .failed event";

    fn decode(&mut self, event: &str, data: &str) -> Result<Vec<StreamEvent>, ModelError> {
        self.decode_event(event, data)
    }

    fn is_complete(&self) -> bool {
        self.done
    }
}

impl StreamDecoder {
    /// Decode one SSE event (`event` name and `data` JSON; the data's `type` wins).
    pub fn decode_event(
        &mut self,
        event: &str,
        data: &str,
    ) -> Result<Vec<StreamEvent>, ModelError> {
        let v: Value = serde_json::from_str(data)
            .map_err(|e| invalid(format!("`{event}` event is not JSON: {e}")))?;
        let kind = v["type"].as_str().unwrap_or(event);
        let index = v["output_index"].as_u64().unwrap_or(0);
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        Ok(match kind {
            "response.created" => match v["response"]["id"].as_str() {
                Some(id) => vec![StreamEvent::RequestId { id: id.to_string() }],
                None => vec![],
            },
            "response.output_item.added" if v["item"]["type"] == "function_call" => {
                let item = &v["item"];
                self.calls.insert(index);
                let mut out = vec![StreamEvent::ToolUseStart {
                    index: index as usize,
                    id: item["call_id"].as_str().unwrap_or_default().to_string(),
                    name: item["name"].as_str().unwrap_or_default().to_string(),
                }];
                if let Some(args) = item["arguments"].as_str().filter(|a| !a.is_empty()) {
                    self.with_deltas.insert(index);
                    out.push(StreamEvent::ToolUseDelta {
                        index: index as usize,
                        partial_json: args.to_string(),
                    });
                }
                out
            }
            "response.function_call_arguments.delta" => {
                self.with_deltas.insert(index);
                vec![StreamEvent::ToolUseDelta {
                    index: index as usize,
                    partial_json: s("delta"),
                }]
            }
            // Servers that send the arguments only whole.
            "response.function_call_arguments.done" if !self.with_deltas.contains(&index) => {
                self.with_deltas.insert(index);
                vec![StreamEvent::ToolUseDelta {
                    index: index as usize,
                    partial_json: s("arguments"),
                }]
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                vec![StreamEvent::TextDelta { text: s("delta") }]
            }
            "response.reasoning_summary_text.delta" => {
                let part = v["summary_index"].as_u64().unwrap_or(0);
                let mut thinking = s("delta");
                if self
                    .last_summary
                    .is_some_and(|(i, p)| i == index && p != part)
                {
                    thinking.insert_str(0, "\n\n");
                }
                self.last_summary = Some((index, part));
                self.summarised.insert(index);
                vec![StreamEvent::ThinkingDelta {
                    thinking,
                    signature: None,
                }]
            }
            // The complete reasoning item carries the final encrypted content.
            "response.output_item.done" if v["item"]["type"] == "reasoning" => {
                let item = &v["item"];
                let thinking = if self.summarised.contains(&index) {
                    String::new()
                } else {
                    summary_text(item)
                };
                let signature = item["encrypted_content"].as_str().map(str::to_string);
                if thinking.is_empty() && signature.is_none() {
                    vec![]
                } else {
                    vec![StreamEvent::ThinkingDelta {
                        thinking,
                        signature,
                    }]
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.done = true;
                let response = &v["response"];
                let reason = stop_reason(response, !self.calls.is_empty())?;
                vec![
                    StreamEvent::Usage {
                        usage: usage(&response["usage"]),
                    },
                    StreamEvent::Stop { reason },
                ]
            }
            "error" => return Err(failure(&v)),
            _ => vec![],
        })
    }
}
