//! [`load_home`]: an agent home (a directory of declarative agents, skills, Python tools,
//! MCP connectors and hooks) loaded and assembled by the reference host's loader
//! (`sre_host`), its agents returned as [`Agent`]s.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use sre_host::home::AgentHome;
use sre_host::team::{AutoApproval, ModelSource, Team, TeamOptions};

use crate::agent::{Agent, model_from};
use crate::errors::{ConfigError, SreHarnessError};
use crate::hook::PyApprover;

/// Load the agent home `dir` and assemble its agents over `workspace` (repositories,
/// memory, scratch; transcripts in `<workspace>/.sre/sessions`). Exactly one model source,
/// as for `Agent`. Returns `(agents, warnings, session_dir)`; every error of the files is in
/// one `ConfigError`, each with file:line:column.
#[pyfunction]
#[pyo3(signature = (
    dir,
    *,
    workspace,
    script = None,
    script_path = None,
    model_from_env = false,
    model_spec = None,
    py_model = None,
    approver = None,
    cache_dir = None,
    only = None,
))]
#[allow(clippy::too_many_arguments)]
pub fn load_home(
    py: Python<'_>,
    dir: PathBuf,
    workspace: PathBuf,
    script: Option<String>,
    script_path: Option<PathBuf>,
    model_from_env: bool,
    model_spec: Option<String>,
    py_model: Option<Bound<'_, PyAny>>,
    approver: Option<Bound<'_, PyAny>>,
    cache_dir: Option<PathBuf>,
    only: Option<Vec<String>>,
) -> PyResult<(Vec<Agent>, Vec<String>, PathBuf, TeamHandle)> {
    let rt = crate::runtime()?;
    let home = AgentHome::load(&dir).map_err(|errors| ConfigError::new_err(errors.to_string()))?;
    let mut warnings: Vec<String> = home.warnings.iter().map(ToString::to_string).collect();
    let only_env =
        script.is_none() && script_path.is_none() && model_spec.is_none() && py_model.is_none();
    let models = if model_from_env && only_env {
        ModelSource::Environment
    } else {
        let _guard = rt.enter();
        ModelSource::Fixed(model_from(
            script,
            script_path,
            model_from_env,
            model_spec,
            py_model.as_ref(),
        )?)
    };
    let mut options = TeamOptions::new(&workspace, models);
    options.cache_dir = cache_dir;
    options.only = only;
    options.approver = match approver {
        Some(a) => Arc::new(PyApprover::from_py(&a)?),
        None => Arc::new(AutoApproval::Deny),
    };
    // Assembly clones repositories and connects MCP servers: without the GIL.
    let team = py
        .detach(|| rt.block_on(Team::assemble(home, options)))
        .map_err(|e| SreHarnessError::new_err(format!("assembling {}: {e}", dir.display())))?;
    warnings.extend(team.warnings().iter().cloned());
    let team = Arc::new(team);
    let session_dir = team.workspace().join(".sre/sessions");
    let agents = team
        .agents()
        .map(|(_, agent)| Agent::from_loop(agent.clone(), session_dir.clone(), team.clone()))
        .collect();
    Ok((agents, warnings, session_dir, TeamHandle { team }))
}

/// The assembled team behind a loaded home: what is decided per thread rather than per
/// agent (on-demand hooks), and the thread's naming rules, shared with `sre run`.
#[pyclass(module = "sre_harness._native", frozen)]
pub struct TeamHandle {
    team: Arc<Team>,
}

#[pymethods]
impl TeamHandle {
    /// The home's on-demand hooks (`activation: on-demand`), sorted.
    fn on_demand_hooks(&self) -> Vec<String> {
        self.team.on_demand_hooks().map(str::to_string).collect()
    }

    /// Turn the on-demand hook `hook` on for thread `thread` (and the sessions it spawns:
    /// handoff hops, agents used as tools). An unknown name is a `ConfigError`.
    fn enable_hook(&self, thread: &str, hook: &str) -> PyResult<()> {
        self.team
            .enable_hook(thread, hook)
            .map_err(|e| ConfigError::new_err(e.to_string()))
    }

    /// The session id of hop `n` (1-based) of `thread`, run by `agent`.
    #[staticmethod]
    fn hop_session_id(thread: &str, n: usize, agent: &str) -> String {
        sre_host::team::hop_session_id(thread, n, agent)
    }

    /// The task the receiving agent of a handoff gets.
    #[staticmethod]
    fn handed_task(from: &str, note: &str, task: &str) -> String {
        sre_host::team::handed_task(from, note, task)
    }
}
