//! Running a suite: each case (times `repeat`) in a workspace of its own, by the agent of an
//! agent home or the default investigator, with the case's mocked tools beside the agent's
//! own, `jobs` at a time; each run scored by its checks and the judge.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sre_core::{AgentEvent, EventKind, HookAction, HookEvent, Model, Session};

use super::case::EvalCase;
use super::checks::{Judge, Observed, Verdict, failed_checks};
use super::mock::mock_tools;
use crate::home::AgentHome;
use crate::team::{ModelSource, Team, TeamOptions};

/// The agent the default investigator home holds.
pub const DEFAULT_AGENT: &str = "investigator";

const DEFAULT_HOME: &str = "kind: ExtendedAgent
spec:
  name: investigator
  description: Investigates an incident with the workspace's tools and the case's.
  system_prompt: |
    You are a site reliability engineer investigating a production incident. The
    workspace holds what you can read: files, logs, configuration, git repositories.
    Use the tools to look before you conclude; never guess a number you can measure.
    Do not change anything: no deletions, restarts or writes outside scratch/.
    End with the root cause, the evidence (the numbers and lines you saw), and the
    recommended actions.
";

/// Where the model under test comes from.
#[derive(Clone)]
pub enum EvalModel {
    /// A scripted model: a script file for every case, or a name looked up per case as
    /// `<case>/scripts/NAME.yaml`, then `<suite>/scripts/NAME.yaml`.
    Script(String),
    /// The provider the environment configures, with this model if given (`SRE_MODEL`).
    Environment(Option<String>),
    /// This model (a host's own, or a test's).
    Fixed(Arc<dyn Model>),
}

impl EvalModel {
    fn describe(&self) -> String {
        match self {
            EvalModel::Script(s) => format!("scripted ({s})"),
            EvalModel::Environment(Some(m)) => m.clone(),
            EvalModel::Environment(None) => {
                std::env::var("SRE_MODEL").unwrap_or_else(|_| "the environment's default".into())
            }
            EvalModel::Fixed(m) => m.info().name.clone(),
        }
    }
}

/// How to run a suite.
#[derive(Clone)]
pub struct EvalOptions {
    /// The suite's folder.
    pub suite: PathBuf,
    /// The agent home and agent under test; none: the default investigator.
    pub home: Option<(PathBuf, String)>,
    /// The model under test.
    pub model: EvalModel,
    /// Who judges the expected output.
    pub judge: Judge,
    /// Runs of each case.
    pub repeat: u32,
    /// Runs at once.
    pub jobs: usize,
    /// Only the cases whose name contains one of these, or that have one as a tag.
    pub only: Vec<String>,
    /// Longest a run may take.
    pub timeout: Duration,
    /// Commands in namespaces (see [`TeamOptions::namespaces`]).
    pub namespaces: bool,
    /// Run HolmesGPT's live-only `before_test` / `after_test` commands.
    pub live: bool,
}

impl EvalOptions {
    /// Defaults: the default investigator, lexical judge, one run, one job, 10 minutes.
    pub fn new(suite: impl Into<PathBuf>, model: EvalModel) -> Self {
        EvalOptions {
            suite: suite.into(),
            home: None,
            model,
            judge: Judge::Lexical,
            repeat: 1,
            jobs: 1,
            only: Vec::new(),
            timeout: Duration::from_secs(600),
            namespaces: true,
            live: false,
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every check and the judge passed.
    Passed,
    /// A check or the judge failed.
    Failed,
    /// The run could not be scored (setup failed, the agent errored or timed out, the
    /// judge could not decide).
    Error,
    /// The case says skip.
    Skipped,
}

/// One run of one case.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseRun {
    /// The case's name.
    pub case: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// 1-based run number.
    pub run: u32,
    /// How it ended.
    pub status: Status,
    /// Why it did not pass (failed checks, missing elements, the error).
    pub reasons: Vec<String>,
    /// The agent's answer.
    pub answer: String,
    /// The judge's verdict, when it judged.
    pub verdict: Option<Verdict>,
    /// Model calls of the agent under test (its subagents' not counted).
    pub turns: u32,
    /// Tool calls (the whole tree).
    pub tool_calls: u32,
    /// Tools called, in order.
    pub tools: Vec<String>,
    /// Stop hooks' rejections of an answer.
    pub stop_rejections: u32,
    /// Prompt tokens (cached included) and output tokens of the agent tree.
    pub input_tokens: u64,
    /// See `input_tokens`.
    pub output_tokens: u64,
    /// Cost of the agent tree and of the judge.
    pub cost_usd: f64,
    /// Wall time of the run (setup and judging excluded).
    pub wall_ms: u64,
}

/// A suite's results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SuiteResults {
    /// The suite's folder.
    pub suite: String,
    /// The agent under test.
    pub agent: String,
    /// The model under test.
    pub model: String,
    /// The judge.
    pub judge: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Wall time of the whole suite.
    pub wall_ms: u64,
    /// Every run, by case then run number.
    pub runs: Vec<CaseRun>,
    /// What loading the suite noticed (files skipped).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Run the suite. Errors are the suite's (no case, a broken case, a home that does not
/// load); a run's own failure is a result.
pub async fn run_suite(options: &EvalOptions) -> Result<SuiteResults, String> {
    let cases = super::case::load_suite(&options.suite).map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let cases: Vec<EvalCase> = cases
        .into_iter()
        .filter(|c| {
            options.only.is_empty()
                || options
                    .only
                    .iter()
                    .any(|o| c.name.contains(o.as_str()) || c.tags.contains(o))
        })
        .collect();
    if cases.is_empty() {
        return Err(format!(
            "no case of {} is selected",
            options.suite.display()
        ));
    }
    // The home: loaded once to check it, then per run (assembly takes it by value).
    let default_home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (home_dir, agent) = match &options.home {
        Some((dir, agent)) => (dir.clone(), agent.clone()),
        None => {
            let dir = default_home.path().join("home");
            std::fs::create_dir_all(dir.join("agents")).map_err(|e| e.to_string())?;
            std::fs::write(dir.join("agents/investigator.yaml"), DEFAULT_HOME)
                .map_err(|e| e.to_string())?;
            (dir, DEFAULT_AGENT.to_string())
        }
    };
    let home = AgentHome::load(&home_dir).map_err(|e| e.to_string())?;
    if home.agent(&agent).is_none() {
        return Err(format!(
            "{}: no agent `{agent}` (agents: {})",
            home_dir.display(),
            home.agents.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let started_at = chrono::Utc::now().to_rfc3339();
    let started = Instant::now();
    // Live cases share one cluster: one at a time.
    let jobs = if options.live { 1 } else { options.jobs.max(1) };
    let jobs = Arc::new(tokio::sync::Semaphore::new(jobs));
    let warnings: Vec<String> = cases
        .iter()
        .flat_map(|c| c.warnings.iter().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, case) in cases.iter().enumerate() {
        for run in 1..=options.repeat.max(1) {
            let (case, options, home, agent, jobs) = (
                case.clone(),
                options.clone(),
                home.clone(),
                agent.clone(),
                jobs.clone(),
            );
            tasks.spawn(async move {
                let _permit = jobs.acquire_owned().await;
                // A run that panics is that run's error, not the suite's.
                let inner = {
                    let case = case.clone();
                    tokio::spawn(async move { run_case(&case, run, &options, home, &agent).await })
                };
                let result = inner
                    .await
                    .unwrap_or_else(|e| errored(&case, run, format!("the run panicked: {e}")));
                (index, run, result)
            });
        }
    }
    let mut runs = Vec::new();
    while let Some(done) = tasks.join_next().await {
        runs.push(done.map_err(|e| format!("a run could not be joined: {e}"))?);
    }
    runs.sort_by_key(|(index, run, _)| (*index, *run));
    Ok(SuiteResults {
        suite: options.suite.display().to_string(),
        agent,
        model: options.model.describe(),
        judge: options.judge.describe(),
        started_at,
        wall_ms: started.elapsed().as_millis() as u64,
        runs: runs.into_iter().map(|(_, _, r)| r).collect(),
        warnings,
    })
}

/// The task the agent gets: the date the case pretends it is, the conversation so far,
/// the prompt, and the included files.
pub fn task_of(case: &EvalCase) -> Result<String, String> {
    let mut task = String::new();
    if let Some(date) = &case.mocked_date {
        task.push_str(&format!("(The current date and time is {date}.)\n\n"));
    }
    if !case.conversation_history.is_empty() {
        task.push_str("The conversation so far:\n");
        for m in &case.conversation_history {
            task.push_str(&format!("<{}>\n{}\n</{}>\n", m.role, m.content, m.role));
        }
        task.push('\n');
    }
    task.push_str(&case.user_prompt);
    for f in &case.include_files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let name = f.strip_prefix(&case.dir).unwrap_or(f).display().to_string();
        task.push_str(&format!("\n\n<file name=\"{name}\">\n{text}\n</file>"));
    }
    Ok(task)
}

fn errored(case: &EvalCase, run: u32, why: String) -> CaseRun {
    CaseRun {
        case: case.name.clone(),
        tags: case.tags.clone(),
        run,
        status: Status::Error,
        reasons: vec![why],
        answer: String::new(),
        verdict: None,
        turns: 0,
        tool_calls: 0,
        tools: Vec::new(),
        stop_rejections: 0,
        input_tokens: 0,
        output_tokens: 0,
        cost_usd: 0.0,
        wall_ms: 0,
    }
}

/// The script of `name` for `case`: a file, or `scripts/NAME.yaml` of the case, then of
/// the suite.
fn script_for(name: &str, case: &EvalCase, suite: &Path) -> Result<PathBuf, String> {
    let as_file = Path::new(name);
    if as_file.is_file() {
        return Ok(as_file.to_path_buf());
    }
    for dir in [case.dir.join("scripts"), suite.join("scripts")] {
        for ext in ["yaml", "yml", "json"] {
            let p = dir.join(format!("{name}.{ext}"));
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(format!(
        "no script `{name}`: neither a file nor scripts/{name}.yaml of the case or the suite"
    ))
}

/// Run a shell command in `dir`, at most `limit`, in a process group of its own (killed
/// whole on timeout or when it returns: no background process outlives it); output goes
/// to files, so a child that keeps a pipe open cannot hang the wait. `scrubbed`: only
/// PATH, LANG, a temporary HOME and a neutral git configuration (a setup script of a
/// suite sees no credential of the host).
async fn shell(command: &str, dir: &Path, limit: Duration, scrubbed: bool) -> Result<(), String> {
    let logs = tempfile::tempdir().map_err(|e| e.to_string())?;
    let err_path = logs.path().join("stderr");
    let open = |p: &Path| std::fs::File::create(p).map_err(|e| e.to_string());
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(open(&logs.path().join("stdout"))?)
        .stderr(open(&err_path)?)
        .process_group(0)
        .kill_on_drop(true);
    if scrubbed {
        let home = logs.path().join("home");
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            .env("HOME", &home)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "eval")
            .env("GIT_AUTHOR_EMAIL", "eval@example.invalid")
            .env("GIT_COMMITTER_NAME", "eval")
            .env("GIT_COMMITTER_EMAIL", "eval@example.invalid");
    }
    let mut child = cmd.spawn().map_err(|e| format!("`{command}`: {e}"))?;
    let mut group = sre_core::process::GroupGuard::new(child.id());
    let waited = tokio::time::timeout(limit, child.wait()).await;
    group.kill();
    let status = match waited {
        Err(_) => return Err(format!("`{command}` took more than {}s", limit.as_secs())),
        Ok(Err(e)) => return Err(format!("`{command}`: {e}")),
        Ok(Ok(status)) => status,
    };
    if !status.success() {
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        let end = sre_core::text::floor_char_boundary(&stderr, 2000);
        return Err(format!(
            "`{command}` failed ({status}): {}",
            stderr[..end].trim()
        ));
    }
    Ok(())
}

async fn run_case(
    case: &EvalCase,
    run: u32,
    options: &EvalOptions,
    home: AgentHome,
    agent: &str,
) -> CaseRun {
    if let Some(why) = &case.skip {
        let mut r = errored(case, run, why.clone());
        r.status = Status::Skipped;
        return r;
    }
    if options.live
        && let Some(before) = &case.before_test
        && let Err(e) = shell(before, &case.dir, Duration::from_secs(600), false).await
    {
        return errored(case, run, format!("before_test: {e}"));
    }
    let result = attempt(case, run, options, home, agent).await;
    // Whatever the run did, the live setup is taken down.
    if options.live
        && let Some(after) = &case.after_test
        && let Err(e) = shell(after, &case.dir, Duration::from_secs(600), false).await
    {
        eprintln!("warning: {}: after_test: {e}", case.name);
    }
    match result {
        Ok(r) => r,
        Err(why) => errored(case, run, why),
    }
}

async fn attempt(
    case: &EvalCase,
    run: u32,
    options: &EvalOptions,
    home: AgentHome,
    agent: &str,
) -> Result<CaseRun, String> {
    let task = task_of(case)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let workspace = dir.path().join("workspace");
    let files = case.dir.join("workspace");
    if files.is_dir() {
        crate::world::copy_dir(&files, &workspace).map_err(|e| e.to_string())?;
    } else {
        std::fs::create_dir_all(&workspace).map_err(|e| e.to_string())?;
    }
    let setup = case.dir.join("setup.sh");
    if setup.is_file() {
        let command = format!(
            "bash {}",
            crate::cli::shell_quote(&setup.display().to_string())
        );
        let limit = options.timeout.min(Duration::from_secs(120));
        shell(&command, &workspace, limit, true)
            .await
            .map_err(|e| format!("setup: {e}"))?;
    }
    let models = match &options.model {
        EvalModel::Script(name) => ModelSource::Script(script_for(name, case, &options.suite)?),
        EvalModel::Environment(None) => ModelSource::Environment,
        EvalModel::Environment(Some(model)) => {
            let get = |k: &str| {
                if k == "SRE_MODEL" {
                    Some(model.clone())
                } else {
                    std::env::var(k).ok()
                }
            };
            ModelSource::Fixed(
                sre_core::providers::from_env_with(get)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no provider configured for model `{model}`"))?,
            )
        }
        EvalModel::Fixed(m) => ModelSource::Fixed(m.clone()),
    };
    let mut team_options = TeamOptions::new(&workspace, models);
    team_options.namespaces = options.namespaces;
    team_options.only = Some(vec![agent.to_string()]);
    team_options.extra_tools = mock_tools(&case.mocks);
    let team = Team::assemble(home, team_options)
        .await
        .map_err(|e| e.to_string())?;
    let events: Arc<Mutex<Vec<AgentEvent>>> = Arc::default();
    let sink = {
        let events = events.clone();
        Arc::new(move |e: AgentEvent| {
            if !matches!(e.kind, EventKind::TextDelta { .. }) {
                events.lock().unwrap_or_else(|p| p.into_inner()).push(e);
            }
        })
    };
    let session_id = format!("eval-{run}");
    let session = Session::new(session_id.clone()).with_events(sink);
    let started = Instant::now();
    let outcome = tokio::time::timeout(options.timeout, team.run(agent, &session, &task)).await;
    let wall_ms = started.elapsed().as_millis() as u64;
    if outcome.is_err() {
        session.cancel.cancel();
    }
    team.shutdown().await;
    let outcome = match outcome {
        Err(_) => {
            return Err(format!(
                "the run took more than {}s",
                options.timeout.as_secs()
            ));
        }
        Ok(Err(e)) => return Err(format!("the run failed: {e}")),
        Ok(Ok(o)) => o,
    };
    let events = std::mem::take(&mut *events.lock().unwrap_or_else(|p| p.into_inner()));
    let mut observed = observe(&events, &session_id);
    observed.answer = outcome
        .last()
        .and_then(|o| o.answer.clone())
        .unwrap_or_default();
    let usage = outcome.usage.total();
    let mut reasons = failed_checks(&case.checks, &observed);
    if let Some(last) = outcome.last()
        && last.cause != sre_core::StopCause::Completed
    {
        reasons.push(format!("the run ended with {}", last.cause.kind()));
    }
    let verdict = options
        .judge
        .judge(&case.user_prompt, &case.expected_output, &observed.answer)
        .await;
    let (status, verdict) = match verdict {
        Err(e) => {
            reasons.push(e);
            (Status::Error, None)
        }
        Ok(v) => {
            for m in &v.missing {
                reasons.push(format!("missing: {m}"));
            }
            let pass = v.pass && reasons.is_empty();
            (if pass { Status::Passed } else { Status::Failed }, Some(v))
        }
    };
    let stop_rejections = events
        .iter()
        .filter(|e| {
            matches!(&e.kind, EventKind::HookDecision { event: HookEvent::Stop, hook, action: HookAction::Block { .. }, .. } if hook != "merged")
        })
        .count() as u32;
    Ok(CaseRun {
        case: case.name.clone(),
        tags: case.tags.clone(),
        run,
        status,
        reasons,
        answer: observed.answer.clone(),
        turns: observed.turns,
        tool_calls: observed.tools.len() as u32,
        tools: observed.tools.clone(),
        stop_rejections,
        input_tokens: usage.usage.prompt_tokens(),
        output_tokens: usage.usage.output_tokens,
        cost_usd: usage.cost_usd + verdict.as_ref().map_or(0.0, |v| v.cost_usd),
        verdict,
        wall_ms,
    })
}

/// What the events say the run did.
fn observe(events: &[AgentEvent], session_id: &str) -> Observed {
    let mut o = Observed::default();
    for e in events {
        match &e.kind {
            EventKind::ModelRequest { .. } if e.session_id == session_id => o.turns += 1,
            EventKind::ToolStarted { name, input, .. } => {
                o.tools.push(name.clone());
                if let Some(c) = input.get("command").and_then(|c| c.as_str()) {
                    o.commands.push(c.to_string());
                }
            }
            _ => {}
        }
    }
    o
}
