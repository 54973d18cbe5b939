//! The `Model` contract: one request/response call and a streaming call.

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ModelError;
use crate::message::{ContentBlock, Message};
use crate::usage::Usage;

/// Prices in US dollars per million tokens. Configured per model, never hard-coded in the loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    /// Uncached prompt tokens.
    pub input_per_mtok: f64,
    /// Completion tokens.
    pub output_per_mtok: f64,
    /// Prompt tokens read from the cache.
    pub cache_read_per_mtok: f64,
    /// Prompt tokens written to the cache.
    pub cache_write_per_mtok: f64,
}

/// What the harness needs to know about a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Model name as the provider knows it.
    pub name: String,
    /// Context window in tokens.
    pub context_window: u64,
    /// Maximum completion tokens per call.
    pub max_output_tokens: u64,
    /// Below this many prompt tokens the provider never caches (e.g. 1024 or 4096).
    pub min_cacheable_tokens: u64,
    /// Prices.
    pub pricing: Pricing,
}

impl ModelInfo {
    /// Info with the given name and context window, 8192 output tokens, a 1024-token cache
    /// minimum and zero prices; adjust fields as needed.
    pub fn new(name: impl Into<String>, context_window: u64) -> Self {
        ModelInfo {
            name: name.into(),
            context_window,
            max_output_tokens: 8192,
            min_cacheable_tokens: 1024,
            pricing: Pricing::default(),
        }
    }
}

/// A tool as offered to the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name the model calls it by.
    pub name: String,
    /// What it does and when to use it.
    pub description: String,
    /// JSON schema of its input object.
    pub input_schema: Value,
}

/// A named block of the system prompt: the system prompt itself, then one per context layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemBlock {
    /// `system` for the system prompt, else the layer's name.
    pub name: String,
    /// The rendered text.
    pub text: String,
}

/// Everything one model call is given.
///
/// The order is the order providers cache in: tools, then system blocks, then messages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelRequest {
    /// Tool specs, sorted by name.
    pub tools: Vec<ToolSpec>,
    /// System prompt then context layers, in fixed order.
    pub system: Vec<SystemBlock>,
    /// The append-only transcript as the model sees it.
    pub messages: Vec<Message>,
    /// Completion token cap for this call.
    pub max_output_tokens: u64,
    /// Sampling temperature, when the agent sets one (providers do not send it to
    /// reasoning models, which reject sampling parameters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Name of the calling agent (not sent to providers; used for routing and accounting).
    #[serde(default)]
    pub agent: String,
    /// Session id of the calling agent (not part of the prompt).
    #[serde(default)]
    pub session_id: String,
    /// Where the call reports and how it is cancelled (not part of the prompt, never
    /// serialized, always equal in comparisons).
    #[serde(skip)]
    pub call: CallContext,
}

/// What a model layer (e.g. [`RetryModel`](crate::RetryModel)) needs from the run it serves:
/// the run's event sink, to report retries, and its cancellation, so no new (billed)
/// attempt starts after the run was cancelled.
#[derive(Clone, Default)]
pub struct CallContext {
    /// The run's event sink.
    pub events: Option<std::sync::Arc<dyn crate::event::EventSink>>,
    /// The run's cancellation.
    pub cancel: Option<tokio_util::sync::CancellationToken>,
}

impl CallContext {
    /// Whether the run this call serves was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.is_cancelled())
    }
}

impl std::fmt::Debug for CallContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext")
            .field("events", &self.events.is_some())
            .field("cancel", &self.cancel.is_some())
            .finish()
    }
}

/// Call contexts never make two requests differ.
impl PartialEq for CallContext {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Why the model stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// It finished its answer.
    EndTurn,
    /// It wants tool calls run.
    ToolUse,
    /// It hit the output token cap.
    MaxTokens,
    /// A stop sequence matched.
    StopSequence,
    /// Anything else the provider reported.
    Other(String),
}

/// The answer to one model call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelResponse {
    /// Assistant content blocks.
    pub content: Vec<ContentBlock>,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Tokens, as reported by the provider.
    pub usage: Usage,
    /// The provider's request id, when it sends one.
    pub request_id: Option<String>,
}

/// One event of a streamed response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// A piece of answer text.
    TextDelta {
        /// The text.
        text: String,
    },
    /// A piece of reasoning text (and, at its end, its signature).
    ThinkingDelta {
        /// The text.
        thinking: String,
        /// Signature, sent once.
        signature: Option<String>,
    },
    /// A tool call begins at content position `index`.
    ToolUseStart {
        /// Position of the call among the response's blocks.
        index: usize,
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
    },
    /// A piece of the JSON arguments of the call at `index`.
    ToolUseDelta {
        /// Position of the call.
        index: usize,
        /// A fragment of the JSON text.
        partial_json: String,
    },
    /// Token usage (may arrive several times; the last value wins per field that is non-zero).
    Usage {
        /// Usage so far.
        usage: Usage,
    },
    /// The stop reason, with the provider request id if known.
    Stop {
        /// Why it stopped.
        reason: StopReason,
    },
    /// Discard everything received so far: the attempt failed mid-stream and a retry layer
    /// starts the request again. Nothing partial reaches the transcript.
    Reset,
    /// The provider's id for this request (from a response header or the first event).
    RequestId {
        /// The id.
        id: String,
    },
}

/// A language model.
///
/// Implementations: real providers (behind cargo features), [`ScriptedModel`](crate::ScriptedModel)
/// for tests and offline demos, and layers (retry, timeout) that wrap another `Model`.
#[async_trait]
pub trait Model: Send + Sync {
    /// What the harness needs to know about this model.
    fn info(&self) -> &ModelInfo;

    /// The provider, as OpenTelemetry's `gen_ai.provider.name` says it (`openai`,
    /// `anthropic`...); empty when unknown.
    fn provider(&self) -> &str {
        ""
    }

    /// One request, one complete response.
    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError>;

    /// A streamed response. The default calls [`Model::complete`] and replays its result as
    /// events, so every model can be streamed.
    async fn stream(
        &self,
        request: &ModelRequest,
    ) -> Result<BoxStream<'static, Result<StreamEvent, ModelError>>, ModelError> {
        let response = self.complete(request).await?;
        Ok(stream::iter(events_from_response(&response).into_iter().map(Ok)).boxed())
    }
}

/// The events that, assembled, give back `response`.
pub fn events_from_response(response: &ModelResponse) -> Vec<StreamEvent> {
    let mut out = Vec::new();
    if let Some(id) = &response.request_id {
        out.push(StreamEvent::RequestId { id: id.clone() });
    }
    for (index, block) in response.content.iter().enumerate() {
        match block {
            ContentBlock::Text { text } => out.push(StreamEvent::TextDelta { text: text.clone() }),
            ContentBlock::Thinking {
                thinking,
                signature,
            } => out.push(StreamEvent::ThinkingDelta {
                thinking: thinking.clone(),
                signature: signature.clone(),
            }),
            ContentBlock::ToolUse { id, name, input } => {
                out.push(StreamEvent::ToolUseStart {
                    index,
                    id: id.clone(),
                    name: name.clone(),
                });
                out.push(StreamEvent::ToolUseDelta {
                    index,
                    partial_json: input.to_string(),
                });
            }
            ContentBlock::ToolResult { .. } => {}
        }
    }
    out.push(StreamEvent::Usage {
        usage: response.usage,
    });
    out.push(StreamEvent::Stop {
        reason: response.stop_reason.clone(),
    });
    out
}

/// Assembles streamed events into a [`ModelResponse`].
///
/// Tool-call argument fragments are joined per call index and parsed once at the end; a
/// stream that ends without a stop reason, or with arguments that are not a JSON object,
/// is an [`ModelError::InvalidResponse`] (so nothing partial reaches the transcript).
#[derive(Debug, Default)]
pub struct ResponseAssembler {
    blocks: Vec<Partial>,
    usage: Usage,
    stop: Option<StopReason>,
    request_id: Option<String>,
}

#[derive(Debug)]
enum Partial {
    Text(String),
    Thinking(String, Option<String>),
    Tool {
        index: usize,
        id: String,
        name: String,
        json: String,
    },
}

impl ResponseAssembler {
    /// Feed one event.
    pub fn push(&mut self, event: StreamEvent) -> Result<(), ModelError> {
        match event {
            StreamEvent::TextDelta { text } => match self.blocks.last_mut() {
                Some(Partial::Text(t)) => t.push_str(&text),
                _ => self.blocks.push(Partial::Text(text)),
            },
            StreamEvent::ThinkingDelta {
                thinking,
                signature,
            } => match self.blocks.last_mut() {
                // A signed block is complete: what follows is a new reasoning block (two
                // reasoning items in a row each keep their own signature).
                Some(Partial::Thinking(t, sig)) if sig.is_none() => {
                    t.push_str(&thinking);
                    if signature.is_some() {
                        *sig = signature;
                    }
                }
                _ => self.blocks.push(Partial::Thinking(thinking, signature)),
            },
            StreamEvent::ToolUseStart { index, id, name } => self.blocks.push(Partial::Tool {
                index,
                id,
                name,
                json: String::new(),
            }),
            StreamEvent::ToolUseDelta {
                index,
                partial_json,
            } => {
                let slot = self.blocks.iter_mut().rev().find_map(|b| match b {
                    Partial::Tool { index: i, json, .. } if *i == index => Some(json),
                    _ => None,
                });
                match slot {
                    Some(json) => json.push_str(&partial_json),
                    None => {
                        return Err(ModelError::InvalidResponse {
                            message: format!("tool-call delta for index {index} before its start"),
                        });
                    }
                }
            }
            StreamEvent::Usage { usage } => {
                let u = &mut self.usage;
                for (dst, src) in [
                    (&mut u.input_tokens, usage.input_tokens),
                    (&mut u.output_tokens, usage.output_tokens),
                    (&mut u.cache_read_tokens, usage.cache_read_tokens),
                    (&mut u.cache_write_tokens, usage.cache_write_tokens),
                ] {
                    if src != 0 {
                        *dst = src;
                    }
                }
            }
            StreamEvent::Stop { reason } => self.stop = Some(reason),
            StreamEvent::Reset => *self = ResponseAssembler::default(),
            StreamEvent::RequestId { id } => self.request_id = Some(id),
        }
        Ok(())
    }

    /// The assembled response.
    pub fn finish(self) -> Result<ModelResponse, ModelError> {
        let stop_reason = self.stop.ok_or_else(|| ModelError::InvalidResponse {
            message: "stream ended without a stop reason".into(),
        })?;
        let mut content = Vec::with_capacity(self.blocks.len());
        for block in self.blocks {
            content.push(match block {
                Partial::Text(text) => ContentBlock::Text { text },
                Partial::Thinking(thinking, signature) => ContentBlock::Thinking {
                    thinking,
                    signature,
                },
                Partial::Tool { id, name, json, .. } => {
                    let input: Value = if json.trim().is_empty() {
                        Value::Object(Default::default())
                    } else {
                        serde_json::from_str(&json).map_err(|e| ModelError::InvalidResponse {
                            message: format!(
                                "arguments of tool call `{id}` ({name}) are not valid JSON: {e}"
                            ),
                        })?
                    };
                    if !input.is_object() {
                        return Err(ModelError::InvalidResponse {
                            message: format!(
                                "arguments of tool call `{id}` ({name}) are not a JSON object"
                            ),
                        });
                    }
                    ContentBlock::ToolUse { id, name, input }
                }
            });
        }
        Ok(ModelResponse {
            content,
            stop_reason,
            usage: self.usage,
            request_id: self.request_id,
        })
    }
}

/// Drain a stream into a response, calling `on_event` for each event as it arrives.
pub async fn collect_stream(
    mut stream: BoxStream<'static, Result<StreamEvent, ModelError>>,
    mut on_event: impl FnMut(&StreamEvent),
) -> Result<ModelResponse, ModelError> {
    let mut asm = ResponseAssembler::default();
    while let Some(event) = stream.next().await {
        let event = event?;
        on_event(&event);
        asm.push(event)?;
    }
    asm.finish()
}
