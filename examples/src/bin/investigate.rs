//! `investigate`: the reference SRE agent. It builds a small sample service on disk (a git
//! repository whose v1.5.0 release breaks the database pool, a service log, a deployment
//! history, a memory note) and investigates "checkout-api answers HTTP 503" over it,
//! printing each step. It assembles every crate: sre-tools (the workspace and its tools),
//! sre-hooks (YAML hooks), sre-context (repository, topology and memory layers, the token
//! budget, pinned investigation state), sre-memory (Markdown memory) and sre-core
//! (the loop, subagents, JSONL sessions, providers).
//!
//! Offline by default: without provider credentials the model is a ScriptedModel replaying
//! `examples/scripts/investigate.yaml` (the tools, hooks and files are all real). With
//! `ANTHROPIC_API_KEY`, or `OPENAI_BASE_URL`/`OPENAI_API_KEY`, a real model investigates.
//!
//! Usage: `cargo run -p examples --bin investigate [-- --workspace DIR] [--quiet]`

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use examples::sample_service;
use sre_context::{
    BudgetConfig, KnowledgeMapLayer, PinnedState, RepositoriesLayer, Repository, TokenBudget,
    Topology, TopologyLayer,
};
use sre_core::{
    Agent, AgentEvent, AgentLoop, EventKind, JsonlSessionStore, Model, ScriptedModel, Session,
    SubagentOptions, typed_tool,
};
use sre_hooks::{Activation, BuildContext, HookConfig};
use sre_memory::{MarkdownMemory, RememberTool};
use sre_tools::{MountMode, OffloadConfig, OffloadStore, Workspace};

const AGENT_YAML: &str = include_str!("../../agents/investigator.yaml");
const SYSTEM_PROMPT: &str = include_str!("../../agents/investigator.prompt.md");
const SCRIPT: &str = include_str!("../../scripts/investigate.yaml");
const TOPOLOGY: &str = include_str!("../../agents/topology.yaml");
const TASK: &str = "INCIDENT-4711: since about 14:02Z on 2026-11-20, checkout-api answers HTTP 503 to \
                    POST /payments. Find the root cause and tell us what to do.";

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let quiet = args.iter().any(|a| a == "--quiet");
    let root = match args.iter().position(|a| a == "--workspace") {
        Some(i) => PathBuf::from(args.get(i + 1).context("--workspace needs a directory")?),
        None => std::env::temp_dir().join(format!("sre-investigate-{}", std::process::id())),
    };

    // The system under investigation, as files: code (a git repository), logs, deployments.
    sample_service::build(&root)?;
    // What it learned before: Markdown memory the agent reads with its file tools.
    let memory = MarkdownMemory::open(root.join("memory"))?;
    memory
        .remember(
            "checkout-api: when POST /payments returns 503, check DB pool saturation (PoolTimeoutError, waiters) before the database itself.",
            Some("debugging"),
            "user",
        )
        .await?;
    let workspace = Workspace::builder(&root)
        .mount("repos", MountMode::ReadOnly)
        .mount("logs", MountMode::ReadOnly)
        .mount("deploy", MountMode::ReadOnly)
        .mount("memory", MountMode::ReadOnly)
        .mount("scratch", MountMode::Writable)
        .build()?;

    // Context budget and the pinned investigation state (never pruned or summarised away).
    let pinned = PinnedState::new();
    let budget = TokenBudget::new(BudgetConfig::default())?.with_pinned(pinned.clone());

    // A real provider when configured, else the script (and it says so).
    let (model, judge): (Arc<dyn Model>, Arc<dyn Model>) = match sre_core::providers::from_env()? {
        Some(model) => {
            println!("model: {} (from the environment)", model.info().name);
            (model.clone(), model)
        }
        None => {
            let scripted: Arc<dyn Model> = Arc::new(ScriptedModel::from_yaml(SCRIPT)?);
            println!(
                "model: {} (offline demo: the model's answers are scripted; tools, hooks and files are real)",
                scripted.info().name
            );
            (scripted.clone(), scripted)
        }
    };

    // Governance hooks from the YAML agent definition.
    let hooks =
        HookConfig::from_yaml(AGENT_YAML, "agents/investigator.yaml")?.build(&BuildContext {
            model: Some(judge),
            cwd: Some(root.clone()),
            activation: Activation::new(),
        })?;

    let agent = AgentLoop::builder(model)
        .name("investigator")
        .system_prompt(SYSTEM_PROMPT)
        .layer(Arc::new(RepositoriesLayer::new([Repository::new(
            "checkout-api",
            root.join(sample_service::REPO),
        )
        .mount(sample_service::REPO)])))
        .layer(Arc::new(TopologyLayer::new(Topology::from_yaml(
            TOPOLOGY,
            "agents/topology.yaml",
        )?)))
        .layer(Arc::new(KnowledgeMapLayer::new(Arc::new(memory.clone()))))
        .layer(pinned.layer())
        .tools(workspace.tools()?)
        .tool(typed_tool(RememberTool::new(memory.clone()))?)
        .tool(pinned.tool()?)
        .memory(Arc::new(memory))
        .budget(Arc::new(budget))
        .subagents(SubagentOptions {
            max_turns: 8,
            ..SubagentOptions::default()
        })
        .hooks(hooks.hooks_for("investigator"))
        .offload(Arc::new(OffloadStore::new(
            workspace.clone(),
            OffloadConfig::default(),
        )?))
        .session_store(Arc::new(JsonlSessionStore::new(
            root.join("scratch/sessions"),
        )?))
        .cwd(root.display().to_string())
        .max_turns(30)
        .build()?;

    println!("workspace: {}\ntask: {TASK}\n", root.display());
    let session = Session::new("incident-4711").with_events(Arc::new(move |e: AgentEvent| {
        if !quiet {
            print_event(&e)
        }
    }));
    let outcome = agent.run(&session, TASK).await?;

    println!(
        "\n══ final answer ({:?}) ══\n{}",
        outcome.cause,
        outcome.answer.as_deref().unwrap_or("(none)")
    );
    let total = outcome.usage.total();
    println!(
        "\nturns: {}  model calls (agent tree): {}  tokens in/out: {}/{}  stop-hook rejections: {}",
        outcome.turns,
        total.requests,
        total.usage.prompt_tokens(),
        total.usage.output_tokens,
        outcome.stop_rejections.len()
    );
    for (agent, row) in &outcome.usage.agents {
        println!(
            "  {agent}: {} calls, {} prompt tokens",
            row.requests,
            row.usage.prompt_tokens()
        );
    }
    if let Some(path) = &outcome.transcript_path {
        println!("transcript: {path}");
    }
    Ok(())
}

/// One line per step, indented for subagents.
fn print_event(e: &AgentEvent) {
    let indent = if e.agent.contains('/') { "      " } else { "" };
    let who = if e.agent.contains('/') {
        format!("[{}] ", e.agent)
    } else {
        String::new()
    };
    let line = match &e.kind {
        EventKind::TurnStarted { turn } => format!("── turn {turn}"),
        EventKind::ModelResponse { text, usage, .. } if !text.is_empty() => {
            format!(
                "  model: {} ({} prompt tokens)",
                first_line(text, 160),
                usage.prompt_tokens()
            )
        }
        EventKind::ToolStarted { name, input, .. } => {
            format!("  → {name} {}", first_line(&input.to_string(), 150))
        }
        EventKind::ToolFinished {
            name,
            output,
            recorded,
            is_error,
            duration,
            ..
        } => {
            let offloaded = if output.len() != recorded.len() {
                ", offloaded"
            } else {
                ""
            };
            format!(
                "  ← {name}{}: {} ({} bytes, {} ms{offloaded})",
                if *is_error { " [error]" } else { "" },
                first_line(output, 100),
                output.len(),
                duration.as_millis()
            )
        }
        EventKind::ToolRefused { name, reason, .. } => {
            format!("  ✗ {name}: {}", first_line(reason, 150))
        }
        EventKind::HookDecision { hook, action, .. } => format!("  hook {hook}: {action:?}"),
        EventKind::HookFailed { hook, error, .. } => {
            format!("  hook {hook} failed: {}", first_line(error, 150))
        }
        EventKind::StopRejected { reason, count } => format!(
            "  stop hook rejected the answer ({count}): {}",
            first_line(reason, 150)
        ),
        EventKind::BudgetAction {
            verdict,
            tokens_before,
            tokens_after,
            ..
        } => {
            format!("  budget {verdict:?}: {tokens_before} -> {tokens_after} tokens")
        }
        EventKind::ModelRetry {
            attempt,
            error,
            delay,
        } => format!("  retry {attempt} in {delay:?}: {error}"),
        EventKind::Warning { message } => format!("  warning: {message}"),
        _ => return,
    };
    println!("{indent}{who}{line}");
}

fn first_line(s: &str, max: usize) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let cut: String = line.chars().take(max).collect();
    if cut.len() < line.len() || s.lines().filter(|l| !l.trim().is_empty()).count() > 1 {
        format!("{cut} …")
    } else {
        cut
    }
}
