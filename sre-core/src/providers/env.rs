//! Choosing a provider from the environment.
//!
//! In order of precedence:
//! 1. `ANTHROPIC_API_KEY` (with optional `ANTHROPIC_BASE_URL`, `ANTHROPIC_MODEL`): the
//!    Anthropic Messages API.
//! 2. `AZURE_OPENAI_ENDPOINT`: Azure OpenAI, with `AZURE_OPENAI_API_KEY` (required, sent as
//!    `api-key`), the deployment from `AZURE_OPENAI_DEPLOYMENT` (our convention: the
//!    official SDKs read none; default: the model name), and the api-version from
//!    `AZURE_OPENAI_API_VERSION`, else `OPENAI_API_VERSION`. With an api-version the
//!    classic deployment routes are used, without one the v1 API
//!    (see [`AzureOpenAi`](super::azure::AzureOpenAi)).
//! 3. `OPENAI_BASE_URL` or `OPENAI_API_KEY` (with optional `OPENAI_MODEL`): OpenAI or an
//!    OpenAI-compatible server.
//!
//! `SRE_MODEL` overrides the model name for all of them (on Azure: the model the
//! deployment runs, for the catalogue's facts). `SRE_OPENAI_API` picks the OpenAI API:
//! `chat` (Chat Completions, the default) or `responses` (the Responses API). The model
//! is wrapped in the default [`RetryModel`](crate::retry::RetryModel).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::Model;

/// Which OpenAI API to speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OpenAiApi {
    /// Chat Completions (`/chat/completions`): OpenAI and every compatible server.
    #[default]
    ChatCompletions,
    /// The Responses API (`/responses`): OpenAI and Azure OpenAI.
    Responses,
}

/// Which provider the environment asks for (no secrets: keys are read when the model is
/// built).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderChoice {
    /// Anthropic Messages API.
    Anthropic {
        /// Base URL.
        base_url: String,
        /// Model name.
        model: String,
    },
    /// OpenAI or an OpenAI-compatible server.
    OpenAi {
        /// Base URL.
        base_url: String,
        /// Model name.
        model: String,
        /// Which API.
        api: OpenAiApi,
    },
    /// Azure OpenAI.
    AzureOpenAi {
        /// Resource endpoint.
        endpoint: String,
        /// Deployment name.
        deployment: String,
        /// api-version of the classic routes; `None` for the v1 API.
        api_version: Option<String>,
        /// The model the deployment runs (catalogue facts).
        model: String,
        /// Which API.
        api: OpenAiApi,
    },
}

/// Read the provider choice from environment variables (`get` is `std::env::var` in
/// practice; injectable for tests). `Ok(None)` when no provider is configured; an error
/// for a configuration that cannot work (a missing Azure key or deployment, an unknown
/// `SRE_OPENAI_API`), naming the variable.
pub fn provider_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<ProviderChoice>> {
    let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
    let model_override = non_empty("SRE_MODEL");
    if non_empty("ANTHROPIC_API_KEY").is_some() {
        return Ok(Some(ProviderChoice::Anthropic {
            base_url: non_empty("ANTHROPIC_BASE_URL")
                .unwrap_or_else(|| "https://api.anthropic.com".into()),
            model: model_override
                .or_else(|| non_empty("ANTHROPIC_MODEL"))
                .unwrap_or_else(|| "claude-sonnet-4-5".into()),
        }));
    }
    let api = match non_empty("SRE_OPENAI_API").as_deref().map(str::trim) {
        None | Some("chat") => OpenAiApi::ChatCompletions,
        Some("responses") => OpenAiApi::Responses,
        Some(other) => {
            return Err(Error::Config(format!(
                "SRE_OPENAI_API is `{other}`; expected `chat` or `responses`"
            )));
        }
    };
    let model = model_override.or_else(|| non_empty("OPENAI_MODEL"));
    if let Some(endpoint) = non_empty("AZURE_OPENAI_ENDPOINT") {
        if non_empty("AZURE_OPENAI_API_KEY").is_none() {
            return Err(Error::Config(
                "AZURE_OPENAI_ENDPOINT is set but AZURE_OPENAI_API_KEY is not".into(),
            ));
        }
        let deployment = non_empty("AZURE_OPENAI_DEPLOYMENT")
            .or_else(|| model.clone())
            .ok_or_else(|| {
                Error::Config(
                    "AZURE_OPENAI_ENDPOINT is set but no deployment: set AZURE_OPENAI_DEPLOYMENT (or SRE_MODEL)".into(),
                )
            })?;
        return Ok(Some(ProviderChoice::AzureOpenAi {
            endpoint,
            model: model.unwrap_or_else(|| deployment.clone()),
            deployment,
            api_version: non_empty("AZURE_OPENAI_API_VERSION")
                .or_else(|| non_empty("OPENAI_API_VERSION")),
            api,
        }));
    }
    if non_empty("OPENAI_BASE_URL").is_some() || non_empty("OPENAI_API_KEY").is_some() {
        return Ok(Some(ProviderChoice::OpenAi {
            base_url: non_empty("OPENAI_BASE_URL")
                .unwrap_or_else(|| "https://api.openai.com/v1".into()),
            model: model.unwrap_or_else(|| "gpt-4.1".into()),
            api,
        }));
    }
    Ok(None)
}

/// The model the process environment configures, wrapped in the default retry layer;
/// `Ok(None)` when no provider is configured. See [`from_env_with`].
pub fn from_env() -> Result<Option<Arc<dyn Model>>> {
    from_env_with(|k| std::env::var(k).ok())
}

/// The model the environment `get` configures (see [`provider_from_env`]), wrapped in the
/// default retry layer. A provider whose cargo feature is off is an error that says which
/// feature to enable.
pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Option<Arc<dyn Model>>> {
    let Some(choice) = provider_from_env(&get)? else {
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
        ProviderChoice::OpenAi {
            base_url,
            model,
            api,
        } => {
            let key = get("OPENAI_API_KEY").filter(|k| !k.is_empty());
            match api {
                OpenAiApi::ChatCompletions => {
                    let mut config = super::openai::OpenAiConfig::new(base_url, model);
                    config.api_key = key;
                    Arc::new(super::openai::OpenAiModel::new(config)?)
                }
                OpenAiApi::Responses => {
                    let mut config = super::responses::ResponsesConfig::new(base_url, model);
                    config.api_key = key;
                    Arc::new(super::responses::ResponsesModel::new(config)?)
                }
            }
        }
        #[cfg(feature = "openai")]
        ProviderChoice::AzureOpenAi {
            endpoint,
            deployment,
            api_version,
            model,
            api,
        } => {
            let azure = super::azure::AzureOpenAi {
                endpoint,
                deployment,
                api_version,
                api_key: get("AZURE_OPENAI_API_KEY").unwrap_or_default(),
                model: Some(model),
            };
            match api {
                OpenAiApi::ChatCompletions => {
                    Arc::new(super::openai::OpenAiModel::new(azure.chat_config()?)?)
                }
                OpenAiApi::Responses => Arc::new(super::responses::ResponsesModel::new(
                    azure.responses_config()?,
                )?),
            }
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
