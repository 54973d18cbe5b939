//! The `sre` command: `sre validate DIR` and `sre run DIR --agent NAME TASK`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use sre_core::{AgentEvent, Error, Session, StopCause};

use crate::home::{AgentHome, ToolRef};
use crate::progress::write_event;
use crate::team::{AutoApproval, HookSandbox, ModelSource, Team, TeamOptions, TerminalApprover};

/// Validate and run an agent home: a directory of declarative agents, skills, Python tools,
/// MCP connectors and hooks.
#[derive(Parser, Debug)]
#[command(name = "sre", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load an agent home, print what it holds, and list every error and warning
    /// (exit status 1 when there are errors).
    Validate {
        /// The agent home.
        dir: PathBuf,
    },
    /// Run one agent of an agent home on a task (following its handoffs). Exit status: 0
    /// completed, 1 error, 2 ended otherwise (turn limit, stopped or refused by a hook, cost
    /// cap...), 130 cancelled (Ctrl-C; the command that continues it is printed).
    Run(Box<RunArgs>),
    /// Measure investigation quality: run an eval suite (HolmesGPT's case format, and
    /// cases on a real workspace) and report pass rates, tokens, cost and time; or
    /// `compare A B`. Exit status 0 when every run passed, 3 when some did not.
    Eval(Box<crate::eval::cli::EvalArgs>),
    /// Replay a cassette (`sre run --record`): deterministically, with the tools run for
    /// real (--live-tools), or with another model (--model, --script) answered by the
    /// recorded tool outputs. Exit status 0 reproduced, 3 diverged (the first difference
    /// is printed).
    Replay(Box<crate::replay_cli::ReplayArgs>),
    /// Incidents: create one by hand, take a payload file, list them.
    Incident {
        /// What to do.
        #[command(subcommand)]
        command: crate::incident_cli::IncidentCommand,
    },
    /// Response plans: which plan an incident would take.
    Plans {
        /// What to do.
        #[command(subcommand)]
        command: crate::incident_cli::PlansCommand,
    },
    /// Serve: webhooks and triggers in, investigations by the response plans' agents,
    /// approvals over the API. The API token comes from `SRE_API_TOKEN` or `--token-file`
    /// (`Authorization: Bearer <token>`); PagerDuty webhook secrets from
    /// `SRE_PAGERDUTY_SECRETS` (comma-separated).
    Serve {
        /// The agent home.
        dir: PathBuf,
        /// Where to listen (loopback unless told otherwise).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The data folder (default `<DIR>/.sre/data`).
        #[arg(long, value_name = "PATH")]
        data: Option<PathBuf>,
        /// The workspace (default `<DIR>/.sre/workspace`).
        #[arg(long, value_name = "PATH")]
        workspace: Option<PathBuf>,
        /// Offline: the agents' answers come from this ScriptedModel script.
        #[arg(long, value_name = "FILE")]
        script: Option<PathBuf>,
        /// A file holding the API token (else `SRE_API_TOKEN`).
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Investigations run at once (the others queue).
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Confine commands with Landlock alone, without namespaces.
        #[arg(long)]
        no_namespaces: bool,
        /// Where Python tool environments are cached.
        #[arg(long, value_name = "PATH")]
        cache_dir: Option<PathBuf>,
        /// Learn from every investigation that completes: its root cause, what worked and
        /// the pitfalls go into the workspace's memory for the next ones.
        #[arg(long)]
        learn: bool,
        /// Run the scheduler as if it were TIME (RFC 3339, e.g. 2026-11-16T05:59:50Z) at
        /// start; the clock then runs on from there. Replays a morning of scheduled tasks
        /// (a demo, a test): give it a data folder of its own, since the tasks' state keeps
        /// the times it ran at. The threads' own timestamps stay the real time.
        #[arg(long, value_name = "TIME", value_parser = crate::schedule::parse_clock)]
        clock: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The approval requests of `Review` agents (`sre run --approve durable`, `sre serve`).
    Approvals {
        /// The agent home (not with --server).
        #[arg(required_unless_present = "server", conflicts_with = "server")]
        dir: Option<PathBuf>,
        /// Decided ones too.
        #[arg(long)]
        all: bool,
        /// As JSON.
        #[arg(long)]
        json: bool,
        /// The data folder (default `<DIR>/.sre/data`).
        #[arg(long, value_name = "PATH", conflicts_with = "server")]
        data: Option<PathBuf>,
        /// A running server to talk to instead.
        #[command(flatten)]
        server: crate::remote::ServerArgs,
    },
    /// Approve a request: `sre approve DIR ID`, or `sre approve --server URL ID` (a run of
    /// `sre run` then continues with `--resume`; a thread of `sre serve` continues by itself).
    Approve {
        /// The agent home (not with --server).
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The request (`apr-N`).
        #[arg(value_name = "ID")]
        id: Option<String>,
        /// Run the call with this input instead (JSON); the hooks judge it again.
        #[arg(long, value_name = "JSON")]
        input: Option<String>,
        /// Also allow this call (a command tool: this command) for the rest of the thread.
        #[arg(long)]
        always: bool,
        /// The data folder (default `<DIR>/.sre/data`).
        #[arg(long, value_name = "PATH", conflicts_with = "server")]
        data: Option<PathBuf>,
        /// A running server to talk to instead.
        #[command(flatten)]
        server: crate::remote::ServerArgs,
    },
    /// Deny a request; the reason goes to the agent: `sre deny DIR ID --reason R`, or
    /// `sre deny --server URL ID --reason R`.
    Deny {
        /// The agent home (not with --server).
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The request (`apr-N`).
        #[arg(value_name = "ID")]
        id: Option<String>,
        /// Why (the agent reads it).
        #[arg(long)]
        reason: String,
        /// The data folder (default `<DIR>/.sre/data`).
        #[arg(long, value_name = "PATH", conflicts_with = "server")]
        data: Option<PathBuf>,
        /// A running server to talk to instead.
        #[command(flatten)]
        server: crate::remote::ServerArgs,
    },
}

/// Arguments of `sre run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The agent home.
    pub dir: PathBuf,
    /// The agent that takes the task.
    #[arg(long)]
    pub agent: String,
    /// The task (omit with --resume).
    pub task: Option<String>,
    /// Offline: the model's answers come from this ScriptedModel script. Without it, the
    /// provider the environment configures is used (and the run says so).
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// The thread's session id (default: a new one).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Continue an interrupted run of --session.
    #[arg(long, requires = "session")]
    pub resume: bool,
    /// The workspace (repositories, skills, memory, scratch, transcripts). Default:
    /// `<DIR>/.sre/workspace`.
    #[arg(long, value_name = "PATH")]
    pub workspace: Option<PathBuf>,
    /// Where Python tool environments (their `dependencies`) are cached, shared by runs.
    /// Default: `$SRE_CACHE_DIR`, else `<workspace>/.sre/cache`.
    #[arg(long, value_name = "PATH")]
    pub cache_dir: Option<PathBuf>,
    /// Where durable approval requests are kept (default `<DIR>/.sre/data`).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Confine commands with Landlock alone, without namespaces (bubblewrap).
    #[arg(long)]
    pub no_namespaces: bool,
    /// Run command hooks with the host's rights and environment, as Claude Code does
    /// (default: confined like the agents' commands).
    #[arg(long)]
    pub unconfined_hooks: bool,
    /// A folder command hooks may write besides the workspace's writable mounts (an audit
    /// log's folder; repeatable).
    #[arg(long = "hook-writable", value_name = "DIR")]
    pub hook_writable: Vec<PathBuf>,
    /// A host environment variable command hooks get (a token an approval hook needs;
    /// repeatable). Hooks otherwise get only a short allow-list (PATH, LANG...).
    #[arg(long = "hook-env", value_name = "NAME")]
    pub hook_env: Vec<String>,
    /// Print the event stream as JSON lines on stdout (the answer is in the last event).
    #[arg(long)]
    pub json: bool,
    /// Switch on an on-demand hook for this thread (repeatable).
    #[arg(long = "enable-hook", value_name = "NAME")]
    pub enable_hooks: Vec<String>,
    /// How approval requests are answered: ask on the terminal, or approve or deny all.
    #[arg(long, value_enum, default_value = "ask")]
    pub approve: Approval,
    /// Record the run as a cassette (every model call, tool call and event, secrets
    /// redacted) for `sre replay`.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub record: Option<PathBuf>,
    /// Once the run completes, learn from it: its root cause, the steps that worked and
    /// the pitfalls go into the workspace's memory, where the next investigation sees them.
    #[arg(long)]
    pub learn: bool,
    /// Once the run completes, turn it into a runbook in the memory's knowledge files.
    #[arg(long)]
    pub runbook: bool,
}

/// How `sre run` answers approval requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Approval {
    /// Ask on the terminal (denied when stdin is not a terminal... or empty).
    Ask,
    /// Approve everything.
    All,
    /// Deny everything.
    None,
    /// Park the run until a person decides (`sre approvals`, `sre approve`, `sre deny`),
    /// then `--resume`: the request survives restarts.
    Durable,
}

/// Run the command; the process exit code.
pub async fn main_with(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate { dir } => validate(&dir),
        Command::Run(args) => match run(*args).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        },
        Command::Eval(args) => crate::eval::cli::eval(*args).await,
        Command::Replay(args) => crate::replay_cli::replay(*args).await,
        Command::Incident { command } => crate::incident_cli::incident(command).await,
        Command::Plans { command } => crate::incident_cli::plans(command),
        Command::Serve {
            dir,
            listen,
            data,
            workspace,
            script,
            token_file,
            concurrency,
            no_namespaces,
            cache_dir,
            learn,
            clock,
        } => {
            let token = match crate::remote::read_token(token_file.as_deref()) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            };
            let pagerduty_secrets = std::env::var("SRE_PAGERDUTY_SECRETS")
                .map(|s| {
                    s.split(',')
                        .map(|p| p.trim().to_string())
                        .filter(|p| !p.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let options = crate::serve::ServeOptions {
                dir,
                listen,
                data,
                workspace,
                script,
                token,
                pagerduty_secrets,
                concurrency,
                namespaces: !no_namespaces,
                cache_dir: cache_dir
                    .or_else(|| std::env::var_os("SRE_CACHE_DIR").map(PathBuf::from)),
                learn,
                clock,
            };
            match crate::serve::serve(options).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Approvals {
            dir,
            all,
            json,
            data,
            server,
        } => crate::approvals_cli::list(dir.as_deref(), all, json, data.as_deref(), &server).await,
        Command::Approve {
            dir,
            id,
            input,
            always,
            data,
            server,
        } => {
            let (dir, id) = match crate::remote::home_and_id(dir, id, server.server.is_some(), "ID")
            {
                Ok(x) => x,
                Err(e) => return crate::approvals_cli::finish(Err(e)),
            };
            crate::approvals_cli::approve(crate::approvals_cli::ApproveArgs {
                dir,
                id,
                input,
                always,
                data,
                server,
            })
            .await
        }
        Command::Deny {
            dir,
            id,
            reason,
            data,
            server,
        } => {
            let (dir, id) = match crate::remote::home_and_id(dir, id, server.server.is_some(), "ID")
            {
                Ok(x) => x,
                Err(e) => return crate::approvals_cli::finish(Err(e)),
            };
            crate::approvals_cli::deny(dir.as_deref(), &id, &reason, data.as_deref(), &server).await
        }
    }
}

fn validate(dir: &std::path::Path) -> ExitCode {
    match AgentHome::load(dir) {
        Ok(home) => {
            print!("{}", summary(&home));
            for w in &home.warnings {
                eprintln!("{w}");
            }
            println!(
                "ok: {} agents, {} skills, {} Python tools, {} connectors ({} warnings)",
                home.agents.len(),
                home.skills.len(),
                home.python_tools.len(),
                home.connectors.len(),
                home.warnings.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::from(1)
        }
    }
}

/// What a home holds, one agent per paragraph.
pub fn summary(home: &AgentHome) -> String {
    let mut out = String::new();
    for (name, a) in &home.agents {
        let tools: Vec<String> = match &a.tools {
            None => vec!["(workspace tools)".into()],
            Some(t) => t.iter().map(ToolRef::name).collect(),
        };
        out.push_str(&format!(
            "agent {name} ({}{})\n  tools: {}\n",
            a.agent_type.as_str(),
            a.display_name
                .as_deref()
                .map(|d| format!(", \"{d}\""))
                .unwrap_or_default(),
            join(&tools)
        ));
        let skills = a.skills.clone().unwrap_or_default();
        for (label, list) in [
            ("skills", &skills),
            ("connectors", &a.connectors),
            ("handoffs", &a.handoffs),
            ("agents as tools", &a.agents_as_tools),
        ] {
            if !list.is_empty() {
                out.push_str(&format!("  {label}: {}\n", join(list)));
            }
        }
        let hooks: Vec<String> = home
            .hooks_for(name)
            .iter()
            .map(|(_, h)| format!("{} ({})", h.name, h.event))
            .collect();
        if !hooks.is_empty() {
            out.push_str(&format!("  hooks: {}\n", join(&hooks)));
        }
    }
    for p in &home.plans {
        out.push_str(&format!(
            "response plan {}{}: agent {} in {} mode\n",
            p.name,
            if p.enabled { "" } else { " (disabled)" },
            p.agent,
            p.mode.as_str()
        ));
    }
    for (label, names) in [
        ("skills", home.skills.keys().cloned().collect::<Vec<_>>()),
        ("python tools", home.python_tools.keys().cloned().collect()),
        ("connectors", home.connectors.keys().cloned().collect()),
    ] {
        if !names.is_empty() {
            out.push_str(&format!("{label}: {}\n", join(&names)));
        }
    }
    out
}

fn join(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

async fn run(args: RunArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let home = match AgentHome::load(&args.dir) {
        Ok(h) => h,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::from(1));
        }
    };
    if !home.agents.contains_key(&args.agent) {
        let known: Vec<&String> = home.agents.keys().collect();
        return Err(format!("no agent `{}` in the home (agents: {known:?})", args.agent).into());
    }
    let task = match (&args.task, args.resume) {
        (Some(t), false) => Some(t.clone()),
        (None, true) => None,
        (Some(_), true) => return Err("give either a TASK or --resume, not both".into()),
        (None, false) => return Err("a TASK is required (or --resume --session ID)".into()),
    };
    let models = match &args.script {
        Some(path) => {
            eprintln!(
                "model: scripted ({}): offline, the model's answers are written in advance; tools, hooks and files are real",
                path.display()
            );
            ModelSource::Script(path.clone())
        }
        None => {
            let get = |k: &str| std::env::var(k).ok();
            match sre_core::providers::provider_from_env(get)? {
                Some(choice) => eprintln!(
                    "model: {choice:?}, from the environment. This run sends requests to that provider and may be billed."
                ),
                None => {
                    return Err("no model: pass --script FILE for an offline run, or configure a provider (ANTHROPIC_API_KEY, OPENAI_BASE_URL/OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT/AZURE_OPENAI_API_KEY)".into());
                }
            }
            ModelSource::Environment
        }
    };
    let workspace = args
        .workspace
        .clone()
        .unwrap_or_else(|| args.dir.join(".sre/workspace"));
    let mut options = TeamOptions::new(&workspace, models);
    options.only = Some(vec![args.agent.clone()]);
    options.namespaces = !args.no_namespaces;
    options.hooks = HookSandbox {
        confine: !args.unconfined_hooks,
        writable: args.hook_writable.clone(),
        pass_env: args.hook_env.clone(),
    };
    options.cache_dir = args
        .cache_dir
        .clone()
        .or_else(|| std::env::var_os("SRE_CACHE_DIR").map(PathBuf::from));
    options.approver = match args.approve {
        Approval::Ask => Arc::new(TerminalApprover),
        Approval::All => Arc::new(AutoApproval::Approve),
        Approval::None => Arc::new(AutoApproval::Deny),
        Approval::Durable => Arc::new(crate::team::DurableApprover::new(Arc::new(
            crate::approvals_cli::store_at(&args.dir, args.data.as_deref())?,
        ))),
    };
    for w in &home.warnings {
        eprintln!("{w}");
    }
    let session_id = args.session.clone().unwrap_or_else(new_thread_id);
    let recorder = match (&args.record, &task) {
        (Some(path), Some(task)) => {
            let model = match &args.script {
                Some(s) => format!("script {}", s.display()),
                None => std::env::var("SRE_MODEL").unwrap_or_else(|_| "environment".into()),
            };
            let meta = crate::replay_cli::meta(
                &args.dir,
                &args.agent,
                task,
                &session_id,
                &workspace,
                &model,
            );
            let mut meta = meta;
            meta["enable_hooks"] = serde_json::json!(args.enable_hooks);
            meta["namespaces"] = serde_json::json!(!args.no_namespaces);
            let r = Arc::new(sre_core::cassette::Recorder::create(
                path,
                meta,
                crate::replay_cli::host_secrets(),
            )?);
            crate::replay_cli::warn_unredacted(&r);
            options.wrap = Some(Arc::new(crate::replay_cli::RecordWrap(r.clone())));
            Some(r)
        }
        _ => None,
    };
    // OpenTelemetry when the environment asks for it (OTEL_EXPORTER_OTLP_ENDPOINT...).
    let telemetry = crate::telemetry::Telemetry::from_env()?;
    let team = Team::assemble(home, options).await?;
    for w in team.warnings() {
        eprintln!("warning: {w}");
    }
    for hook in &args.enable_hooks {
        if let Err(e) = team.enable_hook(&session_id, hook) {
            team.shutdown().await;
            return Err(e.into());
        }
    }
    let json = args.json;
    let print: Arc<dyn sre_core::EventSink> = Arc::new(move |e: AgentEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(&e) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
        } else {
            write_event(&mut std::io::stderr().lock(), &e);
        }
    });
    // The spans first: they give the trace context of MCP requests.
    let mut sinks: Vec<Arc<dyn sre_core::EventSink>> = Vec::new();
    if let Some(t) = &telemetry {
        sinks.push(Arc::new(t.sink()));
    }
    sinks.push(print);
    if let Some(r) = &recorder {
        sinks.push(r.clone());
    }
    let sink = Arc::new(sre_core::Tee::new(sinks));
    let session = Session::new(session_id.clone()).with_events(sink);
    let cancel = session.cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    eprintln!("thread: {session_id}  workspace: {}", workspace.display());
    let result = match &task {
        Some(t) => team.run(&args.agent, &session, t).await,
        None => team.resume(&args.agent, &session).await,
    };
    if let Ok(thread) = &result
        && let Some(hop) = thread.hops.last()
        && hop.outcome.cause == StopCause::Completed
    {
        learn_after(&team, &hop.session_id, args.learn, args.runbook).await;
    }
    team.shutdown().await;
    if let Some(t) = telemetry {
        t.shutdown().await;
    }
    if let (Some(r), Some(path)) = (&recorder, &args.record) {
        match r.finish() {
            Ok(()) => eprintln!("recorded: {}", path.display()),
            Err(e) => eprintln!("warning: {}: {e}", path.display()),
        }
    }
    let thread = match result {
        Ok(t) => t,
        Err(crate::HostError::Core(Error::Cancelled)) => {
            eprintln!(
                "cancelled; continue with: {}",
                resume_command(&args, &workspace, &session_id)
            );
            return Ok(ExitCode::from(130));
        }
        Err(e) => return Err(e.into()),
    };
    let last = thread.last();
    let total = thread.usage.total();
    eprintln!(
        "\n{} hop(s): {}  model calls: {}  tokens in/out: {}/{}{}  cost: ${:.4}",
        thread.hops.len(),
        thread
            .hops
            .iter()
            .map(|h| h.agent.clone())
            .collect::<Vec<_>>()
            .join(" -> "),
        total.requests,
        total.usage.prompt_tokens(),
        total.usage.output_tokens,
        if team.is_scripted() {
            " (scripted: estimates, prompt bytes / 4)"
        } else {
            ""
        },
        total.cost_usd
    );
    if let Some(o) = last {
        if !json {
            println!("{}", o.answer.as_deref().unwrap_or("(no answer)"));
        }
        if let StopCause::AwaitingApproval { requests } = &o.cause {
            eprintln!(
                "waiting for approval: {} (see `sre approvals {}`, answer with `sre approve` or \
                 `sre deny`), then continue with: {}",
                requests.join(", "),
                args.dir.display(),
                resume_command(&args, &workspace, &session_id)
            );
            return Ok(ExitCode::from(3));
        }
        if o.cause != StopCause::Completed {
            eprintln!("ended: {:?}", o.cause);
            return Ok(ExitCode::from(2));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a completed session taught, into memory (`learn`), and as a runbook (`runbook`).
/// A failure is a warning: the investigation itself succeeded.
async fn learn_after(team: &Team, session: &str, learn: bool, runbook: bool) {
    if learn {
        match team.learn(session).await {
            Ok(report) if report.filed.is_empty() => {
                eprintln!("learned from {session} already (or it taught nothing new)");
            }
            Ok(report) => {
                let topics: std::collections::BTreeSet<&str> =
                    report.filed.iter().map(|(t, _)| t.as_str()).collect();
                eprintln!(
                    "learned from {session}: {} entries into memory ({})",
                    report.filed.len(),
                    topics.into_iter().collect::<Vec<_>>().join(", ")
                );
            }
            Err(e) => eprintln!("warning: learning from {session} failed: {e}"),
        }
    }
    if runbook {
        match team.write_runbook(session).await {
            Ok(path) => eprintln!("runbook: {}", path.display()),
            Err(e) => eprintln!("warning: the runbook of {session} was not written: {e}"),
        }
    }
}

/// The command that continues this run: every option that shaped it, and the workspace
/// and session it wrote to.
fn resume_command(args: &RunArgs, workspace: &std::path::Path, session: &str) -> String {
    let mut words: Vec<String> = vec![
        "sre".into(),
        "run".into(),
        args.dir.display().to_string(),
        "--agent".into(),
        args.agent.clone(),
        "--resume".into(),
        "--session".into(),
        session.into(),
        "--workspace".into(),
        workspace.display().to_string(),
    ];
    if let Some(script) = &args.script {
        words.extend(["--script".into(), script.display().to_string()]);
    }
    for hook in &args.enable_hooks {
        words.extend(["--enable-hook".into(), hook.clone()]);
    }
    if args.no_namespaces {
        words.push("--no-namespaces".into());
    }
    if args.unconfined_hooks {
        words.push("--unconfined-hooks".into());
    }
    for dir in &args.hook_writable {
        words.extend(["--hook-writable".into(), dir.display().to_string()]);
    }
    for name in &args.hook_env {
        words.extend(["--hook-env".into(), name.clone()]);
    }
    if let Some(dir) = &args.data {
        words.extend(["--data".into(), dir.display().to_string()]);
    }
    if let Some(dir) = &args.cache_dir {
        words.extend(["--cache-dir".into(), dir.display().to_string()]);
    }
    let approve = match args.approve {
        Approval::Ask => None,
        Approval::All => Some("all"),
        Approval::None => Some("none"),
        Approval::Durable => Some("durable"),
    };
    if let Some(a) = approve {
        words.extend(["--approve".into(), a.into()]);
    }
    if args.json {
        words.push("--json".into());
    }
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `word` as one shell word.
pub(crate) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=@%+-,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn new_thread_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("thread-{nanos:x}")
}
