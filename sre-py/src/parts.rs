//! The parts of an agent beyond model, tools and hooks, from Python: Markdown memory
//! ([`Memory`]), context layers (repositories with their AGENTS.md, a topology file, a
//! layer implemented in Python), the token budget with pruning and compaction, the pinned
//! investigation state, output offload and subagents.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use pyo3::prelude::*;
use serde::Deserialize;
use sre_context::{
    BudgetConfig, PinnedState, RepositoriesLayer, Repository, TokenBudget, TopologyLayer,
};
use sre_core::{
    AgentLoopBuilder, ContextLayer, LayerContext, MemoryStore, SubagentOptions, typed_tool,
};
use sre_memory::{MarkdownMemory, RememberTool};

use crate::errors::{ConfigError, SreHarnessError};

/// One retrieved entry: id, file, text, note (e.g. that it is deprecated).
type Hit = (String, String, String, Option<String>);

/// Markdown memory (sre-memory): topic files with provenance and timestamps, an index
/// the agent sees, staleness review and snapshots.
#[pyclass(module = "sre_harness._native", frozen)]
pub struct Memory {
    pub(crate) inner: MarkdownMemory,
}

fn memory_err(e: impl std::fmt::Display) -> PyErr {
    SreHarnessError::new_err(format!("memory: {e}"))
}

#[pymethods]
impl Memory {
    /// Open (or create) the memory in `dir`.
    #[new]
    fn new(dir: PathBuf) -> PyResult<Self> {
        if dir.as_os_str().is_empty() {
            return Err(ConfigError::new_err("Memory: give the folder it lives in"));
        }
        Ok(Memory {
            inner: MarkdownMemory::open(dir).map_err(memory_err)?,
        })
    }

    /// Keep `fact` (in `topic`, else one suggested from it); its entry id.
    #[pyo3(signature = (fact, topic = None, source = "user".to_string()))]
    fn remember(
        &self,
        py: Python<'_>,
        fact: String,
        topic: Option<String>,
        source: String,
    ) -> PyResult<String> {
        let m = self.inner.clone();
        block(py, async move {
            m.remember(&fact, topic.as_deref(), &source).await
        })
    }

    /// Deprecate the entries an id or text selects; their ids.
    #[pyo3(signature = (selector, source = "user".to_string()))]
    fn forget(&self, py: Python<'_>, selector: String, source: String) -> PyResult<Vec<String>> {
        let m = self.inner.clone();
        block(py, async move { m.forget(&selector, &source).await })
    }

    /// Entries matching `query`, best first: `(id, path, text, note)` tuples.
    #[pyo3(signature = (query, limit = 5))]
    fn retrieve(&self, py: Python<'_>, query: String, limit: usize) -> PyResult<Vec<Hit>> {
        let m = self.inner.clone();
        let hits = block(py, async move { m.retrieve(&query, limit).await })?;
        Ok(hits
            .into_iter()
            .map(|h| (h.id, h.path, h.text, h.note))
            .collect())
    }

    /// The index, as the agent's prompt shows it.
    fn index(&self, py: Python<'_>) -> PyResult<String> {
        let m = self.inner.clone();
        block(py, async move { m.index().await })
    }

    /// The staleness review (entries past their review date, conflicts), as Markdown.
    fn review(&self, py: Python<'_>) -> PyResult<String> {
        let m = self.inner.clone();
        block(py, async move { m.review_markdown().await })
    }

    /// Take a snapshot of every file; `(id, taken, files, bytes)`.
    fn snapshot(&self, py: Python<'_>) -> PyResult<(String, String, usize, u64)> {
        let m = self.inner.clone();
        let s = block(py, async move { m.snapshot().await })?;
        Ok((s.id, s.taken.to_string(), s.files, s.bytes))
    }
}

/// Run `f` on the package's runtime, the GIL released.
fn block<T: Send, E: std::fmt::Display + Send>(
    py: Python<'_>,
    f: impl std::future::Future<Output = Result<T, E>> + Send,
) -> PyResult<T> {
    let rt = crate::runtime()?;
    py.detach(|| rt.block_on(f)).map_err(memory_err)
}

/// A context layer whose text comes from Python (`sre_harness.Layer`: `name`, `dynamic`,
/// `_invoke(session_id, agent) -> (ok, text)`).
pub struct PyLayer {
    name: String,
    dynamic: bool,
    invoke: Arc<Py<PyAny>>,
}

impl PyLayer {
    /// From an `sre_harness.Layer`.
    pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let name: String = obj.getattr("name")?.extract()?;
        if name.trim().is_empty() {
            return Err(ConfigError::new_err("a layer needs a name"));
        }
        Ok(PyLayer {
            name,
            dynamic: obj.getattr("dynamic")?.extract()?,
            invoke: Arc::new(obj.getattr("_invoke")?.unbind()),
        })
    }
}

#[async_trait]
impl ContextLayer for PyLayer {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_dynamic(&self) -> bool {
        self.dynamic
    }

    async fn render(&self, ctx: &LayerContext<'_>) -> sre_core::Result<String> {
        let invoke = self.invoke.clone();
        let (session, agent) = (ctx.session_id.to_string(), ctx.agent.to_string());
        let name = self.name.clone();
        let answer = crate::py_thread::call(move |py| -> Result<(bool, String), String> {
            invoke
                .bind(py)
                .call1((session, agent))
                .and_then(|r| r.extract::<(bool, String)>())
                .map_err(|e| e.to_string())
        })
        .await
        .and_then(|r| r);
        match answer {
            Ok((true, text)) => Ok(text),
            Ok((false, why)) | Err(why) => {
                Err(sre_core::Error::Context(format!("layer `{name}`: {why}")))
            }
        }
    }
}

/// The token budget's settings, as `sre_harness.Budget` sends them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetSpec {
    context_window: Option<u64>,
    prune_at: f64,
    prune_target: f64,
    compact_at: f64,
}

/// What the parts add to an agent: the arguments of `Agent(...)` beyond the basics.
pub struct Parts<'py> {
    /// Markdown memory: the `remember` tool, `#remember` commands, the knowledge map.
    pub memory: Option<PyRef<'py, Memory>>,
    /// The pinned investigation state (its tool and layer; kept through compaction).
    pub pinned_state: bool,
    /// The token budget's settings (JSON of `sre_harness.Budget`).
    pub budget: Option<String>,
    /// Repositories (name, root) for the repositories layer (their AGENTS.md files).
    pub repositories: Vec<(String, PathBuf)>,
    /// A topology file (YAML or JSON) for the topology layer.
    pub topology: Option<PathBuf>,
    /// Layers implemented in Python.
    pub layers: Vec<Bound<'py, PyAny>>,
    /// Offer subagents, each with at most this many turns.
    pub subagent_turns: Option<u32>,
    /// A folder of skills (`<folder>/SKILL.md` each): the catalog layer and `activate_skill`.
    pub skills: Option<PathBuf>,
}

impl Parts<'_> {
    /// Add the parts to `builder`; the tools they bring go to `tools`.
    pub fn apply(
        self,
        mut builder: AgentLoopBuilder,
        tools: &mut Vec<Arc<dyn sre_core::Tool>>,
    ) -> PyResult<AgentLoopBuilder> {
        let core = |e: sre_core::Error| ConfigError::new_err(e.to_string());
        if let Some(memory) = self.memory {
            let store = memory.inner.clone();
            tools.push(typed_tool(RememberTool::new(store.clone())).map_err(core)?);
            let shared: Arc<dyn MemoryStore> = Arc::new(store);
            builder = builder
                .memory(shared.clone())
                .layer(Arc::new(sre_context::KnowledgeMapLayer::new(shared)));
        }
        if !self.repositories.is_empty() {
            builder = builder.layer(Arc::new(RepositoriesLayer::new(
                self.repositories
                    .into_iter()
                    .map(|(name, root)| Repository::new(name, root)),
            )));
        }
        if let Some(path) = self.topology {
            let layer = TopologyLayer::from_file(&path)
                .map_err(|e| ConfigError::new_err(format!("topology {}: {e}", path.display())))?;
            builder = builder.layer(Arc::new(layer));
        }
        let mut names = std::collections::BTreeSet::new();
        for layer in &self.layers {
            let layer = PyLayer::from_py(layer)?;
            // Ours: the system prompt and the layers this crate adds.
            let taken = [
                "system",
                "knowledge-map",
                "repositories",
                "topology",
                "investigation-state",
            ];
            if taken.contains(&layer.name.as_str()) || !names.insert(layer.name.clone()) {
                return Err(ConfigError::new_err(format!(
                    "layer name `{}` is taken (by another layer, or by the harness)",
                    layer.name
                )));
            }
            builder = builder.layer(Arc::new(layer));
        }
        let pinned = self.pinned_state.then(PinnedState::new);
        if let Some(p) = &pinned {
            tools.push(p.tool().map_err(core)?);
            builder = builder.layer(p.layer());
        }
        if let Some(spec) = self.budget {
            let spec: BudgetSpec = serde_json::from_str(&spec)
                .map_err(|e| ConfigError::new_err(format!("budget: {e}")))?;
            let config = BudgetConfig {
                context_window: spec.context_window,
                prune_at: spec.prune_at,
                prune_target: spec.prune_target,
                compact_at: spec.compact_at,
                ..BudgetConfig::default()
            };
            let mut budget = TokenBudget::new(config)
                .map_err(|e| ConfigError::new_err(format!("budget: {e}")))?;
            if let Some(p) = pinned {
                budget = budget.with_pinned(p);
            }
            builder = builder.budget(Arc::new(budget));
        }
        if let Some(root) = self.skills {
            let loaded = sre_context::load_skills(&root, &root.display().to_string())
                .map_err(|e| ConfigError::new_err(format!("skills: {e}")))?;
            if loaded.is_empty() {
                return Err(ConfigError::new_err(format!(
                    "skills: no `<folder>/SKILL.md` in {}",
                    root.display()
                )));
            }
            let skills = sre_context::Skills::new(loaded)
                .map_err(|e| ConfigError::new_err(format!("skills: {e}")))?;
            tools.push(skills.activation_tool().map_err(core)?);
            builder = builder.layer(skills.layer());
        }
        if let Some(turns) = self.subagent_turns {
            builder = builder.subagents(SubagentOptions {
                max_turns: turns,
                ..SubagentOptions::default()
            });
        }
        Ok(builder)
    }
}
