//! `investigate`: the reference SRE agent. It builds a small sample service on disk (a git
//! repository whose v1.5.0 release breaks the database pool, a service log, a deployment
//! history, a memory note) and investigates "checkout-api answers HTTP 503" over it,
//! printing each step. The assembly (every crate of the harness) is in
//! `examples::investigate`.
//!
//! Offline by default: without provider credentials the model is a ScriptedModel replaying
//! `examples/scripts/investigate.yaml` (the tools, hooks and files are all real). With
//! `ANTHROPIC_API_KEY`, or `OPENAI_BASE_URL`/`OPENAI_API_KEY`, a real model investigates,
//! and the program says so before it starts; `--offline` forces the script.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Parser;
use examples::investigate::{self, Models, TASK};
use sre_core::{Agent, AgentEvent, Error, Session};
use sre_host::progress::print_event;

/// Investigate "checkout-api answers HTTP 503" over a sample service, with real tools.
///
/// Offline (scripted model) unless a provider is configured in the environment
/// (ANTHROPIC_API_KEY, or OPENAI_BASE_URL / OPENAI_API_KEY; SRE_MODEL picks the model).
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    /// Workspace directory: built the first time, reused after (a directory with other
    /// content is refused). Without it, a temporary workspace is used and removed at the
    /// end (see --keep).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,

    /// Session id. Default: a new one (`incident-4711`, `incident-4711-2`, ...), or with
    /// --resume the most recent session of the workspace.
    #[arg(long, value_name = "ID")]
    session: Option<String>,

    /// Continue a run that was interrupted (killed, Ctrl-C) from its transcript.
    #[arg(long, requires = "workspace")]
    resume: bool,

    /// Use the scripted model even if a provider is configured in the environment.
    #[arg(long)]
    offline: bool,

    /// Keep the temporary workspace (when --workspace is not given).
    #[arg(long)]
    keep: bool,

    /// Print only the outcome, not each step.
    #[arg(long)]
    quiet: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let temp = match &args.workspace {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("sre-investigate-")
                .tempdir()
                .context("creating a temporary workspace")?,
        ),
    };
    let root = match (&args.workspace, &temp) {
        (Some(dir), _) => dir.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => bail!("no workspace"),
    };
    let result = run(&args, &root).await;
    if let Some(t) = temp {
        if args.keep {
            println!("workspace kept: {}", t.keep().display());
        } else {
            println!("temporary workspace removed (use --workspace DIR or --keep to keep it)");
        }
    }
    result
}

async fn run(args: &Args, root: &std::path::Path) -> Result<()> {
    investigate::prepare_workspace(root).await?;
    let models = choose_models(args.offline)?;
    let scripted = models.agent.info().name.starts_with("scripted:");
    let (models, counter) = models.counted();
    let assembly = investigate::assemble(root, models)?;
    let session_id = match (&args.session, args.resume) {
        (Some(id), _) => id.clone(),
        (None, true) => investigate::latest_session(&assembly.sessions)
            .context("--resume: no investigation session in this workspace")?,
        (None, false) => investigate::new_session_id(&assembly.sessions),
    };
    println!("workspace: {}\nsession: {session_id}", root.display());
    let quiet = args.quiet;
    let session = Session::new(session_id.clone()).with_events(Arc::new(move |e: AgentEvent| {
        if !quiet {
            print_event(&e)
        }
    }));
    // Ctrl-C cancels cleanly: the transcript stays consistent and the run can be resumed.
    let cancel = session.cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    let outcome = if args.resume {
        println!("resuming\n");
        assembly.agent.resume(&session).await
    } else {
        println!("task: {TASK}\n");
        assembly.agent.run(&session, TASK).await
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(Error::Cancelled) => {
            println!(
                "\ncancelled; continue with: investigate --workspace {} --resume --session {session_id}",
                root.display()
            );
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };

    println!(
        "\n══ final answer ({:?}) ══\n{}",
        outcome.cause,
        outcome.answer.as_deref().unwrap_or("(none)")
    );
    let total = outcome.usage.total();
    if scripted {
        println!(
            "\n(scripted model: token counts are estimates, prompt bytes / 4, not a tokenizer's)"
        );
    }
    println!(
        "\nturns: {}  model calls (agent tree, judges and compactions included): {}  tokens in/out: {}/{}  cost: ${:.4}  stop-hook rejections: {}",
        outcome.turns,
        total.requests,
        total.usage.prompt_tokens(),
        total.usage.output_tokens,
        total.cost_usd,
        outcome.stop_rejections.len()
    );
    for (agent, row) in &outcome.usage.agents {
        println!(
            "  {agent}: {} calls, {} prompt tokens, {} output tokens",
            row.requests,
            row.usage.prompt_tokens(),
            row.usage.output_tokens
        );
    }
    // The ledger against what the models answered (on resume, calls made before the
    // interruption are in the ledger but not counted by this process).
    let (calls, usage) = counter.totals();
    println!(
        "ledger check: this process made {calls} model calls ({}/{} tokens); the ledger holds {} ({}/{}){}",
        usage.prompt_tokens(),
        usage.output_tokens,
        total.requests,
        total.usage.prompt_tokens(),
        total.usage.output_tokens,
        if calls == total.requests && usage == total.usage {
            ": complete"
        } else if args.resume {
            " (resumed: the rest was spent before the interruption)"
        } else {
            ": MISMATCH"
        }
    );
    if let Some(path) = &outcome.transcript_path {
        println!("transcript: {path}");
    }
    Ok(())
}

/// The scripted model, or the provider the environment configures (said up front: it may
/// cost money).
fn choose_models(offline: bool) -> Result<Models> {
    let scripted = || -> Result<Models> {
        let models = Models::scripted()?;
        println!(
            "model: {} (offline demo: the model's answers are scripted; tools, hooks and files are real)",
            models.agent.info().name
        );
        Ok(models)
    };
    if offline {
        return scripted();
    }
    let get = |k: &str| std::env::var(k).ok();
    let Some(choice) = sre_core::providers::provider_from_env(get)? else {
        return scripted();
    };
    let model = sre_core::providers::from_env()?.context("the provider vanished")?;
    println!(
        "model: {} via {choice:?}, configured by the environment.\n\
         This run sends requests to that provider and may be billed. Pass --offline for the scripted demo.",
        model.info().name
    );
    Ok(Models::same(model))
}
