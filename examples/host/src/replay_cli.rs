//! `sre run --record FILE` and `sre replay CASSETTE`: a run recorded as a cassette
//! (`sre_core::cassette`), and replayed: deterministically (the model and the tools answer
//! from the cassette, every request compared with the recorded one), with the tools run
//! for real (`--live-tools`, outputs compared), or with another model (`--model`,
//! `--script`) whose tool calls the cassette answers.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_json::{Value, json};
use sre_core::cassette::{Cassette, Entry, Recorder, Replay, ToolSource};
use sre_core::{AgentEvent, Model, Session, Tool};

use crate::home::AgentHome;
use crate::team::{ModelSource, Team, TeamOptions, Wrap};

/// Records a team's models and tools.
pub struct RecordWrap(pub Arc<Recorder>);

impl Wrap for RecordWrap {
    fn model(&self, model: Arc<dyn Model>) -> Arc<dyn Model> {
        self.0.model(model)
    }

    fn tool(&self, tool: Arc<dyn Tool>) -> Arc<dyn Tool> {
        self.0.tool(tool)
    }
}

/// Answers a team's tool calls from a cassette (or runs them and compares).
struct ReplayWrap {
    replay: Arc<Replay>,
    source: ToolSource,
}

impl Wrap for ReplayWrap {
    fn tool(&self, tool: Arc<dyn Tool>) -> Arc<dyn Tool> {
        self.replay.tool(tool, self.source)
    }
}

/// Credentials of the host to redact besides those sre-core recognises by name: every
/// variable the host's own rule calls a credential (the one connector headers are judged
/// by), and each PagerDuty webhook secret (`SRE_PAGERDUTY_SECRETS` is one comma-separated
/// value).
pub fn host_secrets() -> Vec<(String, String)> {
    // Not the working directory (`PWD` reads as a password's abbreviation), nor any value
    // that is a path: a path names where a secret is, it is not one, and the header's paths
    // must stay readable for the replay.
    let mut out: Vec<(String, String)> = std::env::vars()
        .filter(|(k, v)| {
            crate::home::names_a_credential(k)
                && !matches!(k.as_str(), "PWD" | "OLDPWD")
                && !v.starts_with('/')
        })
        .collect();
    out.extend(
        std::env::var("SRE_PAGERDUTY_SECRETS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| ("SRE_PAGERDUTY_SECRETS".to_string(), s.to_string())),
    );
    out
}

/// Warn about credentials too short to redact.
pub fn warn_unredacted(recorder: &Recorder) {
    if !recorder.unredacted().is_empty() {
        eprintln!(
            "warning: not redacted in the cassette (values under 8 characters): {}",
            recorder.unredacted().join(", ")
        );
    }
}

/// What a cassette's header says of the run, so it can be run again.
pub fn meta(
    home: &Path,
    agent: &str,
    task: &str,
    session: &str,
    workspace: &Path,
    model: &str,
) -> Value {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    json!({
        "home": abs(home),
        "agent": agent,
        "task": task,
        "session": session,
        "workspace": abs(workspace),
        "model": model,
    })
}

/// Run `agent` of the home `home_dir` on `task` and record it into `cassette` (what
/// `sre run --record` does, for library users: no approvals, no progress output). Returns
/// the answer.
pub async fn record_run(
    home_dir: &Path,
    agent: &str,
    task: &str,
    session_id: &str,
    workspace: &Path,
    models: ModelSource,
    cassette: &Path,
) -> Result<Option<String>, String> {
    let model = match &models {
        ModelSource::Script(p) => format!("script {}", p.display()),
        ModelSource::Environment => {
            std::env::var("SRE_MODEL").unwrap_or_else(|_| "environment".into())
        }
        ModelSource::Fixed(m) => m.info().name.clone(),
    };
    let meta = meta(home_dir, agent, task, session_id, workspace, &model);
    let recorder =
        Arc::new(Recorder::create(cassette, meta, host_secrets()).map_err(|e| e.to_string())?);
    warn_unredacted(&recorder);
    let home = AgentHome::load(home_dir).map_err(|e| e.to_string())?;
    let mut options = TeamOptions::new(workspace, models);
    options.only = Some(vec![agent.to_string()]);
    options.wrap = Some(Arc::new(RecordWrap(recorder.clone())));
    let team = Team::assemble(home, options)
        .await
        .map_err(|e| e.to_string())?;
    let session = Session::new(session_id).with_events(recorder.clone());
    let result = team.run(agent, &session, task).await;
    team.shutdown().await;
    recorder.finish()?;
    let thread = result.map_err(|e| e.to_string())?;
    Ok(thread.last().and_then(|o| o.answer.clone()))
}

/// `sre replay` arguments.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The cassette (`sre run --record FILE`).
    pub cassette: PathBuf,
    /// The agent home (default: the one recorded).
    #[arg(long, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// The workspace (default: the one recorded; the prompt may name it).
    #[arg(long, value_name = "PATH")]
    pub workspace: Option<PathBuf>,
    /// Another model, from the configured provider (as SRE_MODEL): its tool calls are
    /// answered from the cassette.
    #[arg(long, conflicts_with = "script")]
    pub model: Option<String>,
    /// Another model, scripted (offline).
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// Run the tools for real and compare their outputs with the recorded ones.
    #[arg(long)]
    pub live_tools: bool,
    /// Print the replay's event stream as JSON lines on stdout.
    #[arg(long)]
    pub json: bool,
}

fn meta_str<'a>(meta: &'a Value, key: &str) -> Result<&'a str, String> {
    meta.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the cassette's header has no `{key}`"))
}

/// The recorded final answer of `session`.
fn recorded_answer(cassette: &Cassette, session: &str) -> Option<String> {
    cassette.entries.iter().rev().find_map(|e| match e {
        Entry::Event { event }
            if event["session_id"] == session && event["kind"]["type"] == "finished" =>
        {
            event["kind"]["answer"].as_str().map(str::to_string)
        }
        _ => None,
    })
}

/// What to replay, and how.
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// The cassette.
    pub cassette: PathBuf,
    /// The agent home (default: the one recorded).
    pub home: Option<PathBuf>,
    /// The workspace (default: the one recorded).
    pub workspace: Option<PathBuf>,
    /// Another model from the configured provider.
    pub model: Option<String>,
    /// Another model, scripted.
    pub script: Option<PathBuf>,
    /// Run the tools for real and compare.
    pub live_tools: bool,
}

/// What a replay found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReplayReport {
    /// Same requests, same tool calls, same answer, nothing recorded left unasked.
    pub reproduced: bool,
    /// Another model answered (then `reproduced` is not asked).
    pub other_model: bool,
    /// Model calls answered from the cassette.
    pub model_calls: usize,
    /// Tool calls replayed.
    pub tool_calls: usize,
    /// Every difference, in order (`step N (session): what differs: how`).
    pub divergences: Vec<String>,
    /// Recorded model calls never asked for.
    pub unused_model_calls: usize,
    /// The replay's answer.
    pub answer: Option<String>,
    /// The recorded answer.
    pub recorded_answer: Option<String>,
    /// The replayed run's error, if it failed.
    pub error: Option<String>,
}

/// Replay a cassette; `events` gets the replay's events.
pub async fn replay_cassette(
    options: &ReplayOptions,
    events: Option<Arc<dyn sre_core::EventSink>>,
) -> Result<ReplayReport, String> {
    let cassette = Cassette::load(&options.cassette).map_err(|e| e.to_string())?;
    let meta = cassette.meta.clone();
    let home_dir = match &options.home {
        Some(h) => h.clone(),
        None => PathBuf::from(meta_str(&meta, "home")?),
    };
    let agent = meta_str(&meta, "agent")?.to_string();
    let task = meta_str(&meta, "task")?.to_string();
    let session_id = meta_str(&meta, "session")?.to_string();
    let workspace = match &options.workspace {
        Some(w) => w.clone(),
        None => PathBuf::from(meta_str(&meta, "workspace")?),
    };
    // A fresh transcript in a folder of its own (the recorded session is not continued);
    // hooks see its path where the recording saw the workspace's.
    let sessions = tempfile::tempdir().map_err(|e| e.to_string())?;
    let recorded_sessions = std::path::absolute(&workspace)
        .unwrap_or_else(|_| workspace.clone())
        .join(".sre/sessions");
    let mut replay = Replay::new(cassette.clone(), host_secrets()).with_alias(
        sessions.path().display().to_string(),
        recorded_sessions.display().to_string(),
    );
    if options.live_tools {
        replay = replay.with_steady_timings();
    }
    let replay = Arc::new(replay);
    let other_model = options.model.is_some() || options.script.is_some();
    let models = match (&options.script, &options.model) {
        (Some(s), _) => ModelSource::Script(s.clone()),
        (None, Some(m)) => {
            let get = |k: &str| {
                if k == "SRE_MODEL" {
                    Some(m.clone())
                } else {
                    std::env::var(k).ok()
                }
            };
            ModelSource::Fixed(
                sre_core::providers::from_env_with(get)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no provider configured for model `{m}`"))?,
            )
        }
        (None, None) => ModelSource::Fixed(replay.model()),
    };
    let home = AgentHome::load(&home_dir).map_err(|e| e.to_string())?;
    let mut team_options = TeamOptions::new(&workspace, models);
    team_options.only = Some(vec![agent.clone()]);
    team_options.store = Some(Arc::new(
        sre_core::session::JsonlSessionStore::new(sessions.path()).map_err(|e| e.to_string())?,
    ));
    team_options.wrap = Some(Arc::new(ReplayWrap {
        replay: replay.clone(),
        source: if options.live_tools {
            ToolSource::Live
        } else {
            ToolSource::Recorded
        },
    }));
    // Answered from the cassette, a call a person approved runs nothing: approve as they
    // did (a recorded denial then shows as a divergence). Live tools: deny.
    if !options.live_tools {
        team_options.approver = Arc::new(crate::team::AutoApproval::Approve);
    }
    if let Some(n) = meta.get("namespaces").and_then(Value::as_bool) {
        team_options.namespaces = n;
    }
    let team = Team::assemble(home, team_options)
        .await
        .map_err(|e| e.to_string())?;
    for hook in meta["enable_hooks"].as_array().into_iter().flatten() {
        if let Some(h) = hook.as_str() {
            team.enable_hook(&session_id, h)
                .map_err(|e| e.to_string())?;
        }
    }
    let mut session = Session::new(session_id.clone());
    if let Some(events) = events {
        session = session.with_events(events);
    }
    let result = team.run(&agent, &session, &task).await;
    team.shutdown().await;
    let (answer, error) = match result {
        Ok(thread) => (thread.last().and_then(|o| o.answer.clone()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let (model_calls, tool_calls) = replay.replayed();
    let divergences: Vec<String> = replay
        .divergences()
        .iter()
        .map(ToString::to_string)
        .collect();
    let unused_model_calls = replay.unused_model_calls();
    let recorded_answer = recorded_answer(&cassette, &session_id);
    Ok(ReplayReport {
        reproduced: !other_model
            && divergences.is_empty()
            && unused_model_calls == 0
            && error.is_none()
            && answer == recorded_answer,
        other_model,
        model_calls,
        tool_calls,
        divergences,
        unused_model_calls,
        answer,
        recorded_answer,
        error,
    })
}

/// Run `sre replay`. Exit status: 0 reproduced (or, with another model, completed), 3
/// diverged, 1 error.
pub async fn replay(args: ReplayArgs) -> ExitCode {
    let options = ReplayOptions {
        cassette: args.cassette,
        home: args.home,
        workspace: args.workspace,
        model: args.model,
        script: args.script,
        live_tools: args.live_tools,
    };
    let json = args.json;
    let sink: Arc<dyn sre_core::EventSink> = Arc::new(move |e: AgentEvent| {
        if json && let Ok(line) = serde_json::to_string(&e) {
            println!("{line}");
        }
    });
    let r = match replay_cassette(&options, Some(sink)).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(e) = &r.error {
        eprintln!("the replayed run failed: {e}");
    }
    if r.other_model {
        eprintln!(
            "replayed with another model: {} tool call(s) answered {}",
            r.tool_calls,
            if options.live_tools {
                "for real"
            } else {
                "from the cassette"
            }
        );
        for d in r
            .divergences
            .iter()
            .filter(|d| d.contains("tool call differs"))
        {
            eprintln!("  {d}");
        }
        println!(
            "recorded answer:\n{}\n",
            r.recorded_answer.unwrap_or_default()
        );
        println!("this answer:\n{}", r.answer.unwrap_or_default());
        return if r.error.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        };
    }
    if r.reproduced {
        eprintln!(
            "reproduced: {} model calls and {} tool calls identical to the recording; same answer",
            r.model_calls, r.tool_calls
        );
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "diverged: {} difference(s); {} recorded model call(s) never asked for; answer {}",
        r.divergences.len(),
        r.unused_model_calls,
        if r.answer == r.recorded_answer {
            "the same"
        } else {
            "different"
        }
    );
    if let Some(first) = r.divergences.first() {
        eprintln!("first: {first}");
    }
    ExitCode::from(3)
}
