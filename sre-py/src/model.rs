//! Models from Python: [`PyModel`], an [`sre_core::Model`] whose `complete` is a Python
//! object's (`sre_harness.Model`), and [`provider_from_spec`], sre-core's providers
//! (Anthropic, OpenAI-compatible, Azure OpenAI, Responses) configured explicitly from
//! Python (`sre_harness.OpenAI(...)`...) and wrapped in the retry layer.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pyo3::prelude::*;
use serde::Deserialize;
use sre_core::providers::HttpSettings;
use sre_core::providers::anthropic::{AnthropicConfig, AnthropicModel};
use sre_core::providers::azure::AzureOpenAi;
use sre_core::providers::openai::{OpenAiConfig, OpenAiModel};
use sre_core::providers::responses::{ResponsesConfig, ResponsesModel};
use sre_core::{
    Model, ModelError, ModelInfo, ModelRequest, ModelResponse, RetryModel, RetryPolicy,
};

use crate::errors::ConfigError;

/// A model whose calls go to a Python object: `_invoke(request_json) -> response_json`
/// (`sre_harness.Model` converts, calls `complete`, sync or async, and maps its errors).
pub struct PyModel {
    info: ModelInfo,
    provider: String,
    invoke: Arc<Py<PyAny>>,
}

impl PyModel {
    /// From an `sre_harness.Model` (`name`, `context_window`, `max_output_tokens`,
    /// `provider`, prices, `_invoke`).
    pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let name: String = obj.getattr("name")?.extract()?;
        let label = name.clone();
        let count = |attr: &str| -> PyResult<u64> {
            obj.getattr(attr)?
                .extract::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ConfigError::new_err(format!("model `{label}`: {attr} must be a positive int"))
                })
        };
        let window = count("context_window")?;
        let mut info = ModelInfo::new(name, window);
        let price = |attr: &str| -> PyResult<f64> {
            let p: f64 = obj.getattr(attr)?.extract()?;
            if p.is_finite() && p >= 0.0 {
                Ok(p)
            } else {
                Err(ConfigError::new_err(format!(
                    "model: {attr} must be a price >= 0, got {p}"
                )))
            }
        };
        info.pricing.input_per_mtok = price("input_per_mtok")?;
        info.pricing.output_per_mtok = price("output_per_mtok")?;
        info.pricing.cache_read_per_mtok = price("cache_read_per_mtok")?;
        info.pricing.cache_write_per_mtok = price("cache_write_per_mtok")?;
        info.max_output_tokens = count("max_output_tokens")?;
        Ok(PyModel {
            info,
            provider: obj.getattr("provider")?.extract()?,
            invoke: Arc::new(obj.getattr("_invoke")?.unbind()),
        })
    }
}

/// What `_invoke` answers: a response, or an error with the provider's status if any.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    #[serde(default)]
    response: Option<ModelResponse>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    retry_after_ms: Option<u64>,
    /// The connection failed or timed out (retryable).
    #[serde(default)]
    transport: bool,
}

#[async_trait]
impl Model for PyModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn provider(&self) -> &str {
        &self.provider
    }

    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let body = serde_json::to_string(request).map_err(|e| ModelError::InvalidRequest {
            message: format!("request not serialisable: {e}"),
        })?;
        let invoke = self.invoke.clone();
        let answer = crate::py_thread::call(move |py| -> Result<String, String> {
            invoke
                .bind(py)
                .call1((body,))
                .and_then(|r| r.extract::<String>())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| ModelError::Transport {
            message: format!("the Python model: {e}"),
        })?
        .map_err(|e| ModelError::InvalidResponse {
            message: format!("the Python model: {e}"),
        })?;
        let answer: Answer =
            serde_json::from_str(&answer).map_err(|e| ModelError::InvalidResponse {
                message: format!("the Python model answered something that is not a response: {e}"),
            })?;
        match (answer.response, answer.error) {
            (Some(r), None) => Ok(r),
            (_, Some(message)) if answer.transport => Err(ModelError::Transport { message }),
            (_, Some(message)) => Err(match answer.status {
                Some(status) => ModelError::Status {
                    status,
                    message,
                    request_id: None,
                    retry_after_ms: answer.retry_after_ms,
                },
                None => ModelError::InvalidResponse { message },
            }),
            (None, None) => Err(ModelError::InvalidResponse {
                message: "the Python model answered neither a response nor an error".into(),
            }),
        }
    }
}

/// An explicit provider configuration, as `sre_harness.OpenAI(...)` and its siblings send it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderSpec {
    kind: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    timeout_s: Option<f64>,
    #[serde(default)]
    connect_timeout_s: Option<f64>,
    #[serde(default)]
    prompt_cache_key: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    deployment: Option<String>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    responses: bool,
    #[serde(default)]
    retry: Option<RetrySpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetrySpec {
    max_attempts: u32,
    initial_backoff_s: f64,
    max_backoff_s: f64,
    max_elapsed_s: f64,
    jitter: bool,
}

fn seconds(s: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            ConfigError::new_err(format!(
                "{what} must be a positive number of seconds, got {s}"
            ))
        })
}

/// The read and connect timeouts `spec` asks for, on `http`.
fn timeouts(spec: &ProviderSpec, http: &mut HttpSettings) -> PyResult<()> {
    if let Some(t) = spec.timeout_s {
        http.read_timeout = seconds(t, "timeout")?;
    }
    if let Some(t) = spec.connect_timeout_s {
        http.connect_timeout = seconds(t, "connect_timeout")?;
    }
    Ok(())
}

fn http_settings(spec: &ProviderSpec, default_base: &str) -> PyResult<HttpSettings> {
    let mut http = HttpSettings::new(
        spec.base_url
            .clone()
            .unwrap_or_else(|| default_base.to_string()),
    );
    http.headers = spec.headers.clone();
    timeouts(spec, &mut http)?;
    Ok(http)
}

fn required<'a>(v: &'a Option<String>, what: &str, kind: &str) -> PyResult<&'a str> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ConfigError::new_err(format!("{kind}: `{what}` is required")))
}

/// The provider a spec describes, behind the retry layer when it has a retry policy.
pub fn provider_from_spec(json: &str) -> PyResult<Arc<dyn Model>> {
    let spec: ProviderSpec =
        serde_json::from_str(json).map_err(|e| ConfigError::new_err(format!("provider: {e}")))?;
    let core = |e: ModelError| ConfigError::new_err(format!("{}: {e}", spec.kind));
    let model: Arc<dyn Model> = match spec.kind.as_str() {
        "anthropic" => {
            let mut c = AnthropicConfig::new(
                required(&spec.api_key, "api_key", "Anthropic")?,
                required(&spec.model, "model", "Anthropic")?,
            );
            c.http = http_settings(&spec, "https://api.anthropic.com")?;
            Arc::new(AnthropicModel::new(c).map_err(core)?)
        }
        "openai" if spec.responses => {
            let mut c = ResponsesConfig::new(
                "https://api.openai.com/v1",
                required(&spec.model, "model", "OpenAI")?,
            );
            c.http = http_settings(&spec, "https://api.openai.com/v1")?;
            c.api_key = spec.api_key.clone();
            c.prompt_cache_key = spec.prompt_cache_key.clone();
            Arc::new(ResponsesModel::new(c).map_err(core)?)
        }
        "openai" => {
            let mut c = OpenAiConfig::new(
                "https://api.openai.com/v1",
                required(&spec.model, "model", "OpenAI")?,
            );
            c.http = http_settings(&spec, "https://api.openai.com/v1")?;
            c.api_key = spec.api_key.clone();
            c.prompt_cache_key = spec.prompt_cache_key.clone();
            Arc::new(OpenAiModel::new(c).map_err(core)?)
        }
        "azure" => {
            let azure = AzureOpenAi {
                endpoint: required(&spec.endpoint, "endpoint", "Azure OpenAI")?.to_string(),
                deployment: required(&spec.deployment, "deployment", "Azure OpenAI")?.to_string(),
                api_version: spec.api_version.clone(),
                api_key: required(&spec.api_key, "api_key", "Azure OpenAI")?.to_string(),
                model: spec.model.clone(),
            };
            // The deployment's own URL and key header, with the timeouts asked for.
            if spec.responses {
                let mut c = azure.responses_config().map_err(core)?;
                timeouts(&spec, &mut c.http)?;
                Arc::new(ResponsesModel::new(c).map_err(core)?)
            } else {
                let mut c = azure.chat_config().map_err(core)?;
                timeouts(&spec, &mut c.http)?;
                Arc::new(OpenAiModel::new(c).map_err(core)?)
            }
        }
        other => {
            return Err(ConfigError::new_err(format!(
                "provider kind `{other}`: expected anthropic, openai or azure"
            )));
        }
    };
    with_retry(model, spec.retry)
}

/// `model` behind the retry layer when `retry` says how; as it is otherwise.
pub(crate) fn with_retry(
    model: Arc<dyn Model>,
    retry: Option<RetrySpec>,
) -> PyResult<Arc<dyn Model>> {
    let Some(r) = retry else {
        return Ok(model);
    };
    if r.max_attempts == 0 {
        return Err(ConfigError::new_err(
            "retry: max_attempts must be at least 1",
        ));
    }
    let policy = RetryPolicy {
        max_attempts: r.max_attempts,
        initial_backoff: seconds(r.initial_backoff_s, "retry.initial_backoff")?,
        max_backoff: seconds(r.max_backoff_s, "retry.max_backoff")?,
        max_elapsed: seconds(r.max_elapsed_s, "retry.max_elapsed")?,
        jitter: r.jitter,
    };
    Ok(Arc::new(RetryModel::new(model).with_policy(policy)))
}

/// A Python model, behind the retry layer when its `retry` (JSON of a `RetryPolicy`) is set.
pub fn python_model(obj: &Bound<'_, PyAny>) -> PyResult<Arc<dyn Model>> {
    let retry: Option<String> = obj.getattr("_retry_spec")?.call0()?.extract()?;
    let retry = retry
        .map(|json| serde_json::from_str::<RetrySpec>(&json))
        .transpose()
        .map_err(|e| ConfigError::new_err(format!("retry: {e}")))?;
    with_retry(Arc::new(PyModel::from_py(obj)?), retry)
}
