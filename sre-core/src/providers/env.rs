//! Choosing a provider from the environment.
//!
//! `ANTHROPIC_API_KEY` (with optional `ANTHROPIC_BASE_URL`, `ANTHROPIC_MODEL`) selects the
//! Anthropic Messages API; otherwise `OPENAI_BASE_URL` or `OPENAI_API_KEY` (with optional
//! `OPENAI_MODEL`) selects an OpenAI-compatible server. `SRE_MODEL` overrides the model
//! name for either. The model is wrapped in the default [`RetryModel`](crate::retry::RetryModel).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::Model;

/// Which provider the environment asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderChoice {
    /// Anthropic Messages API.
    Anthropic {
        /// Base URL.
        base_url: String,
        /// Model name.
        model: String,
    },
    /// OpenAI-compatible Chat Completions.
    OpenAi {
        /// Base URL.
        base_url: String,
        /// Model name.
        model: String,
    },
}

/// Read the provider choice from environment variables (`get` is `std::env::var` in
/// practice; injectable for tests). `None` when no provider is configured.
pub fn provider_from_env(get: impl Fn(&str) -> Option<String>) -> Option<ProviderChoice> {
    let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
    let model_override = non_empty("SRE_MODEL");
    if non_empty("ANTHROPIC_API_KEY").is_some() {
        return Some(ProviderChoice::Anthropic {
            base_url: non_empty("ANTHROPIC_BASE_URL")
                .unwrap_or_else(|| "https://api.anthropic.com".into()),
            model: model_override
                .or_else(|| non_empty("ANTHROPIC_MODEL"))
                .unwrap_or_else(|| "claude-sonnet-4-5".into()),
        });
    }
    if non_empty("OPENAI_BASE_URL").is_some() || non_empty("OPENAI_API_KEY").is_some() {
        return Some(ProviderChoice::OpenAi {
            base_url: non_empty("OPENAI_BASE_URL")
                .unwrap_or_else(|| "https://api.openai.com/v1".into()),
            model: model_override
                .or_else(|| non_empty("OPENAI_MODEL"))
                .unwrap_or_else(|| "gpt-4.1".into()),
        });
    }
    None
}

/// The model the environment configures, wrapped in the default retry layer; `Ok(None)`
/// when no provider is configured. A provider whose cargo feature is off is an error that
/// says which feature to enable.
pub fn from_env() -> Result<Option<Arc<dyn Model>>> {
    let get = |k: &str| std::env::var(k).ok();
    let Some(choice) = provider_from_env(get) else {
        return Ok(None);
    };
    let model: Arc<dyn Model> = match choice {
        #[cfg(feature = "anthropic")]
        ProviderChoice::Anthropic { base_url, model } => {
            let mut config = super::anthropic::AnthropicConfig::new(
                get("ANTHROPIC_API_KEY").unwrap_or_default(),
                model,
            );
            config.http.base_url = base_url;
            Arc::new(super::anthropic::AnthropicModel::new(config)?)
        }
        #[cfg(feature = "openai")]
        ProviderChoice::OpenAi { base_url, model } => {
            let mut config = super::openai::OpenAiConfig::new(base_url, model);
            config.api_key = get("OPENAI_API_KEY").filter(|k| !k.is_empty());
            Arc::new(super::openai::OpenAiModel::new(config)?)
        }
        #[allow(unreachable_patterns)]
        other => {
            return Err(Error::Config(format!(
                "the environment selects {other:?}, but sre-core was built without that provider's cargo feature (`anthropic` / `openai`)"
            )));
        }
    };
    Ok(Some(Arc::new(crate::retry::RetryModel::new(model))))
}
