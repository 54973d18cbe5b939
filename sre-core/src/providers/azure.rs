//! Azure OpenAI: the endpoint, deployment and api-version of a resource, as
//! configurations of the Chat Completions and Responses providers.
//!
//! With an api-version (e.g. `2024-10-21`), the classic routes:
//! `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...` and
//! `{endpoint}/openai/responses?api-version=...` (deployment in the body's `model`).
//! Without one, the v1 API: `{endpoint}/openai/v1/chat/completions` and
//! `{endpoint}/openai/v1/responses`, deployment in `model`. The key goes in the `api-key`
//! header either way.

use super::openai::OpenAiConfig;
use super::responses::ResponsesConfig;
use crate::error::ModelError;

/// An Azure OpenAI resource and deployment.
#[derive(Clone)]
pub struct AzureOpenAi {
    /// The resource endpoint, e.g. `https://my-resource.openai.azure.com`.
    pub endpoint: String,
    /// The deployment name.
    pub deployment: String,
    /// The api-version of the classic routes; `None` for the v1 API.
    pub api_version: Option<String>,
    /// The resource key (sent as `api-key`).
    pub api_key: String,
    /// The model the deployment runs, for the catalogue's facts (window, prices,
    /// reasoning); `None` to look up the deployment name.
    pub model: Option<String>,
}

impl std::fmt::Debug for AzureOpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureOpenAi")
            .field("endpoint", &self.endpoint)
            .field("deployment", &self.deployment)
            .field("api_version", &self.api_version)
            .field("api_key", &"<redacted>")
            .field("model", &self.model)
            .finish()
    }
}

impl AzureOpenAi {
    /// `{endpoint}/openai/` followed by `path` segments, and the api-version if any.
    fn url(&self, path: &[&str]) -> Result<String, ModelError> {
        let bad = |why: &str| ModelError::InvalidRequest {
            message: format!("Azure OpenAI endpoint `{}` {why}", self.endpoint),
        };
        let mut url =
            reqwest::Url::parse(&self.endpoint).map_err(|e| bad(&format!("is not a URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| bad("cannot have a path"))?
            .pop_if_empty()
            .push("openai")
            .extend(path);
        if let Some(version) = &self.api_version {
            url.query_pairs_mut().append_pair("api-version", version);
        }
        Ok(url.into())
    }

    /// The Chat Completions endpoint (classic deployment route, or v1).
    pub fn chat_url(&self) -> Result<String, ModelError> {
        match self.api_version {
            Some(_) => self.url(&["deployments", &self.deployment, "chat", "completions"]),
            None => self.url(&["v1", "chat", "completions"]),
        }
    }

    /// The Responses endpoint (classic route, or v1).
    pub fn responses_url(&self) -> Result<String, ModelError> {
        match self.api_version {
            Some(_) => self.url(&["responses"]),
            None => self.url(&["v1", "responses"]),
        }
    }

    fn model(&self) -> &str {
        self.model.as_deref().unwrap_or(&self.deployment)
    }

    /// A Chat Completions configuration for this deployment.
    pub fn chat_config(&self) -> Result<OpenAiConfig, ModelError> {
        let url = self.chat_url()?;
        let mut config = OpenAiConfig::new(&self.endpoint, &self.deployment);
        config.facts_of(self.model());
        config.url_override = Some(url);
        config.provider = "azure.ai.openai";
        config
            .http
            .headers
            .push(("api-key".into(), self.api_key.clone()));
        Ok(config)
    }

    /// A Responses configuration for this deployment.
    pub fn responses_config(&self) -> Result<ResponsesConfig, ModelError> {
        let url = self.responses_url()?;
        let mut config = ResponsesConfig::new(&self.endpoint, &self.deployment);
        config.facts_of(self.model());
        config.url_override = Some(url);
        config.provider = "azure.ai.openai";
        config
            .http
            .headers
            .push(("api-key".into(), self.api_key.clone()));
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn azure(version: Option<&str>) -> AzureOpenAi {
        AzureOpenAi {
            endpoint: "https://res.openai.azure.com/".into(),
            deployment: "prod gpt5".into(),
            api_version: version.map(str::to_string),
            api_key: "k".into(),
            model: Some("gpt-5".into()),
        }
    }

    #[test]
    fn classic_and_v1_routes() {
        let classic = azure(Some("2024-10-21"));
        assert_eq!(
            classic.chat_url().unwrap(),
            "https://res.openai.azure.com/openai/deployments/prod%20gpt5/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            classic.responses_url().unwrap(),
            "https://res.openai.azure.com/openai/responses?api-version=2024-10-21"
        );
        let v1 = azure(None);
        assert_eq!(
            v1.chat_url().unwrap(),
            "https://res.openai.azure.com/openai/v1/chat/completions"
        );
        assert_eq!(
            v1.responses_url().unwrap(),
            "https://res.openai.azure.com/openai/v1/responses"
        );
        assert!(format!("{v1:?}").contains("<redacted>"));
        // Telemetry names the provider as the conventions do.
        use crate::Model;
        let chat = super::super::openai::OpenAiModel::new(v1.chat_config().unwrap()).unwrap();
        assert_eq!(chat.provider(), "azure.ai.openai");
        let responses =
            super::super::responses::ResponsesModel::new(v1.responses_config().unwrap()).unwrap();
        assert_eq!(responses.provider(), "azure.ai.openai");
        let bad = AzureOpenAi {
            endpoint: "not a url".into(),
            ..v1
        };
        assert!(matches!(
            bad.chat_url(),
            Err(ModelError::InvalidRequest { .. })
        ));
    }
}
