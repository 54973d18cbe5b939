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

/// Run `sre replay`. Exit status: 0 reproduced (or, with another model, completed), 3
/// diverged, 1 error.
pub async fn replay(args: ReplayArgs) -> ExitCode {
    match replay_inner(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn replay_inner(args: ReplayArgs) -> Result<ExitCode, String> {
    let cassette = Cassette::load(&args.cassette).map_err(|e| e.to_string())?;
    let meta = cassette.meta.clone();
    let home_dir = match &args.home {
        Some(h) => h.clone(),
        None => PathBuf::from(meta_str(&meta, "home")?),
    };
    let agent = meta_str(&meta, "agent")?.to_string();
    let task = meta_str(&meta, "task")?.to_string();
    let session_id = meta_str(&meta, "session")?.to_string();
    let workspace = match &args.workspace {
        Some(w) => w.clone(),
        None => PathBuf::from(meta_str(&meta, "workspace")?),
    };
    let replay = Arc::new(Replay::new(cassette.clone(), Vec::new()));
    let other_model = args.model.is_some() || args.script.is_some();
    let models = match (&args.script, &args.model) {
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
    let mut options = TeamOptions::new(&workspace, models);
    options.only = Some(vec![agent.clone()]);
    // A fresh transcript: the recorded session's own is not continued.
    options.store = Some(Arc::new(sre_core::session::InMemorySessionStore::default()));
    options.wrap = Some(Arc::new(ReplayWrap {
        replay: replay.clone(),
        source: if args.live_tools {
            ToolSource::Live
        } else {
            ToolSource::Recorded
        },
    }));
    let team = Team::assemble(home, options)
        .await
        .map_err(|e| e.to_string())?;
    let json = args.json;
    let sink = Arc::new(move |e: AgentEvent| {
        if json && let Ok(line) = serde_json::to_string(&e) {
            println!("{line}");
        }
    });
    let session = Session::new(session_id.clone()).with_events(sink);
    let result = team.run(&agent, &session, &task).await;
    team.shutdown().await;
    let answer = match result {
        Ok(thread) => thread.last().and_then(|o| o.answer.clone()),
        Err(e) => {
            eprintln!("the replayed run failed: {e}");
            None
        }
    };
    let (models_done, tools_done) = replay.replayed();
    let divergences = replay.divergences();
    let recorded = recorded_answer(&cassette, &session_id);
    if other_model {
        let _ = models_done;
        eprintln!(
            "replayed with another model: {tools_done} tool call(s) answered {}",
            if args.live_tools {
                "for real"
            } else {
                "from the cassette"
            }
        );
        for d in divergences.iter().filter(|d| d.what == "tool call") {
            eprintln!("  {d}");
        }
        println!("recorded answer:\n{}\n", recorded.unwrap_or_default());
        println!("this answer:\n{}", answer.unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    let unused = replay.unused_model_calls();
    let same_answer = answer == recorded;
    if divergences.is_empty() && unused == 0 && same_answer {
        eprintln!(
            "reproduced: {models_done} model calls and {tools_done} tool calls identical to the recording; same answer"
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "diverged: {} difference(s); {unused} recorded model call(s) never asked for; answer {}",
        divergences.len(),
        if same_answer { "the same" } else { "different" }
    );
    if let Some(first) = divergences.first() {
        eprintln!("first: {first}");
    }
    Ok(ExitCode::from(3))
}
