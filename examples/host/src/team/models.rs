//! Where a team's models come from: a script (offline), the environment (a provider), or a
//! model the host gives.

use std::path::PathBuf;
use std::sync::Arc;

use sre_core::{Model, ScriptedModel};

use crate::error::HostError;

/// The source of the models of a team.
#[derive(Clone)]
pub enum ModelSource {
    /// A ScriptedModel script (YAML/JSON): every agent, subagent and judge answers from
    /// it, by lane. Offline; the program says so.
    Script(PathBuf),
    /// The provider the environment configures (`ANTHROPIC_API_KEY`, `OPENAI_*`,
    /// `AZURE_OPENAI_*`); an agent's `llm_model_name` picks its model.
    Environment,
    /// This model for every agent (a host's own, or a test's).
    Fixed(Arc<dyn Model>),
}

impl std::fmt::Debug for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelSource::Script(p) => write!(f, "Script({})", p.display()),
            ModelSource::Environment => f.write_str("Environment"),
            ModelSource::Fixed(m) => write!(f, "Fixed({})", m.info().name),
        }
    }
}

/// The models a team uses, resolved once: the default model, and one per distinct
/// `llm_model_name` (environment only).
pub(crate) struct Models {
    source: ModelSource,
    default: Arc<dyn Model>,
    wrap: Option<Arc<dyn super::Wrap>>,
}

impl Models {
    pub(crate) fn resolve(
        source: ModelSource,
        wrap: Option<Arc<dyn super::Wrap>>,
    ) -> Result<Self, HostError> {
        let default: Arc<dyn Model> = match &source {
            ModelSource::Script(path) => Arc::new(ScriptedModel::from_file(path)?),
            ModelSource::Environment => sre_core::providers::from_env()?.ok_or_else(|| {
                HostError::Assembly(
                    "no model: configure a provider (ANTHROPIC_API_KEY, OPENAI_BASE_URL/OPENAI_API_KEY, \
                     AZURE_OPENAI_ENDPOINT/AZURE_OPENAI_API_KEY) or pass a script for an offline run"
                        .into(),
                )
            })?,
            ModelSource::Fixed(m) => m.clone(),
        };
        let default = match &wrap {
            Some(w) => w.model(default),
            None => default,
        };
        Ok(Models {
            source,
            default,
            wrap,
        })
    }

    /// The model of an agent that asks for `name` (`llm_model_name`), else the default.
    pub(crate) fn for_agent(&self, name: Option<&str>) -> Result<Arc<dyn Model>, HostError> {
        match (&self.source, name) {
            (ModelSource::Environment, Some(model)) => {
                let get = |k: &str| {
                    if k == "SRE_MODEL" {
                        Some(model.to_string())
                    } else {
                        std::env::var(k).ok()
                    }
                };
                let m = sre_core::providers::from_env_with(get)?.ok_or_else(|| {
                    HostError::Assembly(format!("no provider configured for model `{model}`"))
                })?;
                Ok(match &self.wrap {
                    Some(w) => w.model(m),
                    None => m,
                })
            }
            _ => Ok(self.default.clone()),
        }
    }

    /// `tool` as the team's wrap (recording, replay) wants it.
    pub(crate) fn wrap_tool(&self, tool: Arc<dyn sre_core::Tool>) -> Arc<dyn sre_core::Tool> {
        match &self.wrap {
            Some(w) => w.tool(tool),
            None => tool,
        }
    }

    /// The default model (the judge of prompt hooks).
    pub(crate) fn default_model(&self) -> Arc<dyn Model> {
        self.default.clone()
    }

    /// Whether the models answer from a script.
    pub(crate) fn scripted(&self) -> bool {
        matches!(self.source, ModelSource::Script(_))
    }
}
