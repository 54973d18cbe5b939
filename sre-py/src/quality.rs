//! Measuring investigations from Python: [`record`] a run as a cassette, [`replay`] one,
//! and [`evaluate`] a suite: the reference host's functions (`sre run --record`,
//! `sre replay`, `sre eval`), results as JSON text the Python side parses.

use std::path::PathBuf;

use pyo3::prelude::*;
use sre_host::eval::{EvalModel, EvalOptions, run_suite};
use sre_host::replay_cli::{ReplayOptions, record_run, replay_cassette};
use sre_host::team::ModelSource;

use crate::errors::{ConfigError, SreHarnessError};

/// Run `agent` of the home `home` on `task` over `workspace` and record it into
/// `cassette`; returns the answer. The model: `script_path` (offline), else the
/// environment's provider.
#[pyfunction]
#[pyo3(signature = (home, agent, task, *, cassette, workspace, session_id, script_path = None))]
#[allow(clippy::too_many_arguments)]
pub fn record(
    py: Python<'_>,
    home: PathBuf,
    agent: String,
    task: String,
    cassette: PathBuf,
    workspace: PathBuf,
    session_id: String,
    script_path: Option<PathBuf>,
) -> PyResult<Option<String>> {
    let rt = crate::runtime()?;
    let models = match script_path {
        Some(p) => ModelSource::Script(p),
        None => ModelSource::Environment,
    };
    py.detach(|| {
        rt.block_on(record_run(
            &home,
            &agent,
            &task,
            &session_id,
            &workspace,
            models,
            &cassette,
        ))
    })
    .map_err(SreHarnessError::new_err)
}

/// Replay `cassette`; returns the report as JSON.
#[pyfunction]
#[pyo3(signature = (cassette, *, home = None, workspace = None, model = None, script_path = None, live_tools = false))]
pub fn replay(
    py: Python<'_>,
    cassette: PathBuf,
    home: Option<PathBuf>,
    workspace: Option<PathBuf>,
    model: Option<String>,
    script_path: Option<PathBuf>,
    live_tools: bool,
) -> PyResult<String> {
    let rt = crate::runtime()?;
    let options = ReplayOptions {
        cassette,
        home,
        workspace,
        model,
        script: script_path,
        live_tools,
    };
    let report = py
        .detach(|| rt.block_on(replay_cassette(&options, None)))
        .map_err(SreHarnessError::new_err)?;
    serde_json::to_string(&report).map_err(|e| SreHarnessError::new_err(e.to_string()))
}

/// Run the eval suite `suite`; returns the results as JSON.
#[pyfunction]
#[pyo3(signature = (suite, *, script = None, model = None, judge = "lexical".to_string(), home = None, agent = None, repeat = 1, jobs = 1, only = None, timeout_secs = 600))]
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    py: Python<'_>,
    suite: PathBuf,
    script: Option<String>,
    model: Option<String>,
    judge: String,
    home: Option<PathBuf>,
    agent: Option<String>,
    repeat: u32,
    jobs: usize,
    only: Option<Vec<String>>,
    timeout_secs: u64,
) -> PyResult<String> {
    let rt = crate::runtime()?;
    let model = match script {
        Some(s) => EvalModel::Script(s),
        None => EvalModel::Environment(model),
    };
    let mut options = EvalOptions::new(suite, model);
    options.home = match (home, agent) {
        (Some(h), Some(a)) => Some((h, a)),
        (None, None) => None,
        _ => return Err(ConfigError::new_err("give both home and agent, or neither")),
    };
    options.judge = sre_host::eval::cli::judge_of(&judge).map_err(ConfigError::new_err)?;
    options.repeat = repeat.max(1);
    options.jobs = jobs.max(1);
    options.only = only.unwrap_or_default();
    options.timeout = std::time::Duration::from_secs(timeout_secs.max(1));
    let results = py
        .detach(|| rt.block_on(run_suite(&options)))
        .map_err(SreHarnessError::new_err)?;
    serde_json::to_string(&results).map_err(|e| SreHarnessError::new_err(e.to_string()))
}
