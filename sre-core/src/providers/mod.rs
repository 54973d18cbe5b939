//! Real model providers over HTTP (`reqwest`), each behind its own cargo feature:
//! `anthropic` (Messages API) and `openai` (Chat Completions for OpenAI, Azure OpenAI,
//! vLLM, llama.cpp server, Ollama; and the Responses API for OpenAI and Azure OpenAI).
//! Every provider is an [`HttpModel`] over its [`WireFormat`]. Wrap them in
//! [`RetryModel`](crate::retry::RetryModel) for resilience; [`from_env`] does both.

pub mod catalog;
mod http;
pub mod sse;
pub use http::{HttpModel, HttpSettings, SseDecoder, WireFormat, encode, http_client};

#[cfg(feature = "anthropic")]
pub mod anthropic;
#[cfg(feature = "openai")]
pub mod azure;
#[cfg(feature = "openai")]
pub mod openai;
#[cfg(feature = "openai")]
pub mod responses;

mod env;
pub use env::{OpenAiApi, ProviderChoice, from_env, from_env_with, provider_from_env};
