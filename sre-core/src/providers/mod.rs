//! Real model providers over HTTP (`reqwest`), each behind its own cargo feature:
//! `anthropic` (Messages API) and `openai` (OpenAI-compatible Chat Completions: OpenAI,
//! Azure OpenAI, vLLM, llama.cpp server, Ollama). Wrap them in
//! [`RetryModel`](crate::retry::RetryModel) for resilience; [`from_env`] does both.

pub mod catalog;
mod http;
pub mod sse;
pub use http::HttpSettings;

#[cfg(feature = "anthropic")]
pub mod anthropic;
#[cfg(feature = "openai")]
pub mod openai;

mod env;
pub use env::{ProviderChoice, from_env, provider_from_env};
