//! `sre incident ...` and `sre plans test`: incidents from the command line, stored where
//! `sre serve` keeps them (`<home>/.sre/data/incidents.db` unless `--data` says otherwise).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::home::AgentHome;
use crate::incident::intake::{self, Delivery, IntakeConfig, Refused};
use crate::incident::{Source, generic};
use crate::store::{IncidentStore, Intake, open_threads};

/// `sre incident` subcommands.
#[derive(Subcommand, Debug)]
pub enum IncidentCommand {
    /// Create an incident by hand; a response plan may route it to an agent.
    Create {
        /// The agent home (its response plans route the incident); not with --server.
        #[arg(required_unless_present = "server", conflicts_with = "server")]
        dir: Option<PathBuf>,
        /// Title.
        #[arg(long)]
        title: String,
        /// Severity or priority (P1..P5, Sev0..Sev4, critical, warning...).
        #[arg(long)]
        severity: Option<String>,
        /// The impacted service.
        #[arg(long)]
        service: Option<String>,
        /// A label `KEY=VALUE` (repeatable).
        #[arg(long = "label", value_name = "KEY=VALUE")]
        labels: Vec<String>,
        /// A description.
        #[arg(long)]
        description: Option<String>,
        /// The data folder (default `<DIR>/.sre/data`).
        #[arg(long, value_name = "PATH", conflicts_with = "server")]
        data: Option<PathBuf>,
        /// A running server to talk to instead.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Take a webhook payload from a file as if it had been delivered: `sre incident ingest
    /// DIR FILE`, or `--server URL FILE` (posted to the server's webhook of its platform).
    Ingest {
        /// The agent home (not with --server).
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The payload (JSON).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// Its platform (alertmanager, pagerduty, azure-monitor, trigger); default: guessed
        /// from its shape.
        #[arg(long)]
        source: Option<String>,
        /// The data folder (default `<DIR>/.sre/data`).
        #[arg(long, value_name = "PATH", conflicts_with = "server")]
        data: Option<PathBuf>,
        /// A running server to talk to instead.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List the latest incidents.
    List {
        /// The agent home (not with --server).
        #[arg(required_unless_present = "server", conflicts_with = "server")]
        dir: Option<PathBuf>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// As JSON.
        #[arg(long)]
        json: bool,
        /// The data folder (default `<DIR>/.sre/data`).
        #[arg(long, value_name = "PATH", conflicts_with = "server")]
        data: Option<PathBuf>,
        /// A running server to talk to instead.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `sre plans` subcommands.
#[derive(Subcommand, Debug)]
pub enum PlansCommand {
    /// Show which response plan an incident payload would take, and why the others do
    /// not; nothing is stored or run.
    Test {
        /// The agent home.
        dir: PathBuf,
        /// The payload (JSON: a webhook body of any supported platform, or a generic object).
        #[arg(long)]
        incident: PathBuf,
        /// Its platform; default: guessed from its shape.
        #[arg(long)]
        source: Option<String>,
    },
}

type Failure = Box<dyn std::error::Error>;

use crate::approvals_cli::{finish, store_at};
use crate::remote::{Server, ServerArgs, home, home_and_id};

fn source_of(name: Option<&str>, body: &[u8]) -> Result<Source, Failure> {
    match name {
        None => Ok(intake::detect(body)),
        Some(n) => Source::parse(n).ok_or_else(|| {
            format!("unknown source `{n}` (alertmanager, pagerduty, azure-monitor, trigger)").into()
        }),
    }
}

/// Run an `sre incident` command.
pub async fn incident(command: IncidentCommand) -> ExitCode {
    finish(run(command).await)
}

async fn run(command: IncidentCommand) -> Result<ExitCode, Failure> {
    match command {
        IncidentCommand::Create {
            dir,
            title,
            severity,
            service,
            labels,
            description,
            data,
            server,
        } => {
            let body = manual(title, severity, service, &labels, description)?;
            match Server::from_args(&server)? {
                Some(s) => Ok(remote_delivered(&s.post("/api/incidents", &body).await?)),
                None => deliver(
                    home(dir.as_deref())?,
                    Source::Manual,
                    body.to_string().as_bytes(),
                    data.as_deref(),
                ),
            }
        }
        IncidentCommand::Ingest {
            dir,
            file,
            source,
            data,
            server,
        } => {
            let (dir, file) = home_and_id(
                dir,
                file.map(|f| f.to_string_lossy().into_owned()),
                server.server.is_some(),
                "FILE",
            )?;
            let file = PathBuf::from(file);
            let body = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let source = source_of(source.as_deref(), &body)?;
            match Server::from_args(&server)? {
                Some(s) => Ok(remote_delivered(
                    &s.post_bytes(&webhook_path(source), body).await?,
                )),
                None => deliver(home(dir.as_deref())?, source, &body, data.as_deref()),
            }
        }
        IncidentCommand::List {
            dir,
            limit,
            json,
            data,
            server,
        } => {
            let incidents = match Server::from_args(&server)? {
                Some(s) => s
                    .get(&format!("/api/incidents?limit={limit}"))
                    .await?
                    .get("incidents")
                    .cloned()
                    .unwrap_or_default(),
                None => {
                    let store = store_at(home(dir.as_deref())?, data.as_deref())?;
                    serde_json::to_value(store.incidents(limit)?)?
                }
            };
            list(&incidents, json)
        }
    }
}

/// Where a server takes a payload of `source`.
fn webhook_path(source: Source) -> String {
    match source {
        Source::Alertmanager => "/webhooks/alertmanager".into(),
        Source::PagerDuty => "/webhooks/pagerduty".into(),
        Source::AzureMonitor => "/webhooks/azure-monitor".into(),
        Source::Manual => "/api/incidents".into(),
        Source::Trigger => "/triggers/cli".into(),
    }
}

/// What a server said about a delivery: one line per incident.
fn remote_delivered(answer: &serde_json::Value) -> ExitCode {
    let incidents = answer["incidents"].as_array().cloned().unwrap_or_default();
    if incidents.is_empty() {
        println!("delivery {}: nothing to do (a ping)", answer["delivery"]);
    }
    for i in &incidents {
        let id = i["id"].as_str().unwrap_or("?");
        let outcome = i["outcome"].as_str().unwrap_or("?");
        match (i["threadId"].as_str(), i["notInvestigated"].as_str()) {
            (Some(thread), _) => println!("{id}: {outcome}, thread {thread}"),
            (None, Some(why)) => println!("{id}: {outcome}, not investigated: {why}"),
            (None, None) => println!("{id}: {outcome}"),
        }
    }
    ExitCode::SUCCESS
}

/// The body of an incident made by hand.
fn manual(
    title: String,
    severity: Option<String>,
    service: Option<String>,
    labels: &[String],
    description: Option<String>,
) -> Result<serde_json::Value, Failure> {
    let mut label_map = serde_json::Map::new();
    for l in labels {
        let (k, v) = l
            .split_once('=')
            .ok_or_else(|| format!("--label `{l}`: expected KEY=VALUE"))?;
        label_map.insert(k.to_string(), serde_json::Value::String(v.to_string()));
    }
    let mut body = serde_json::json!({ "title": title, "labels": label_map });
    for (k, v) in [
        ("severity", severity),
        ("service", service),
        ("description", description),
    ] {
        if let Some(v) = v {
            body[k] = serde_json::Value::String(v);
        }
    }
    Ok(body)
}

fn deliver(
    dir: &Path,
    source: Source,
    body: &[u8],
    data: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let home = AgentHome::load(dir)?;
    let store = store_at(dir, data)?;
    let delivery = Delivery {
        source,
        trigger: "cli",
        body,
        signature: None,
        at: chrono::Utc::now(),
    };
    match intake::receive(&store, &home.plans, &IntakeConfig::default(), delivery) {
        Ok(received) => {
            // Routed incidents get their threads, queued: a running `sre serve` takes them up.
            let incidents = received.outcomes.iter().map(Intake::incident);
            open_threads(&store, incidents, chrono::Utc::now())?;
            if received.outcomes.is_empty() {
                println!("delivery {}: nothing to do (a ping)", received.delivery);
            }
            for outcome in &received.outcomes {
                println!("{}", describe(outcome));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(Refused::Bad { delivery, error }) => {
            match delivery {
                Some(d) => eprintln!("refused (kept as delivery {d}): {error}"),
                None => eprintln!("refused: {error}"),
            }
            Ok(ExitCode::from(1))
        }
        Err(Refused::Store(e)) => Err(e.into()),
    }
}

/// One line about what an alert did.
pub fn describe(outcome: &Intake) -> String {
    let routed = |i: &crate::store::IncidentRecord| match (&i.plan, &i.thread) {
        (Some(plan), Some(thread)) => format!(
            "plan `{}` -> agent `{}` ({}), {thread}",
            plan.name, plan.agent, plan.mode
        ),
        _ => format!(
            "not investigated: {}",
            i.not_investigated.as_deref().unwrap_or("no plan")
        ),
    };
    match outcome {
        Intake::New { incident } => {
            format!(
                "{}: new incident \"{}\"; {}",
                incident.id,
                incident.title,
                routed(incident)
            )
        }
        Intake::Joined { incident } => format!(
            "{}: joined ({} firings, {})",
            incident.id,
            incident.count,
            incident.status.as_str()
        ),
        Intake::Resolved { incident } => format!("{}: resolved", incident.id),
        Intake::Reopened { incident } => {
            format!("{}: reopened ({} firings)", incident.id, incident.count)
        }
        Intake::Duplicate { incident } => {
            format!("{}: duplicate delivery, nothing changed", incident.id)
        }
    }
}

fn list(incidents: &serde_json::Value, json: bool) -> Result<ExitCode, Failure> {
    if json {
        println!("{}", serde_json::to_string_pretty(incidents)?);
        return Ok(ExitCode::SUCCESS);
    }
    let text = |v: &serde_json::Value, dash: &str| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => dash.to_string(),
        other => other.to_string(),
    };
    for i in incidents.as_array().into_iter().flatten() {
        println!(
            "{}\t{}\t{}\t{}\t{}x\t{}\t{}",
            text(&i["id"], "?"),
            serde_json::from_value::<Source>(i["source"].clone())
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| text(&i["source"], "?")),
            text(&i["status"], "?"),
            match i["priority"].as_u64() {
                Some(p) => format!("P{p}"),
                None => text(&i["priority"], "-"),
            },
            text(&i["count"], "?"),
            text(&i["agent"], "(not investigated)"),
            text(&i["title"], "")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Run an `sre plans` command.
pub fn plans(command: PlansCommand) -> ExitCode {
    let PlansCommand::Test {
        dir,
        incident,
        source,
    } = command;
    finish(plans_test(&dir, &incident, source.as_deref()))
}

fn plans_test(dir: &Path, file: &Path, source: Option<&str>) -> Result<ExitCode, Failure> {
    let home = AgentHome::load(dir)?;
    let body = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let source = source_of(source, &body)?;
    let alerts = match source {
        Source::Trigger | Source::Manual => generic::parse(source, "test", &body)?,
        other => crate::incident::parse(other, &body)?,
    };
    if home.plans.is_empty() {
        println!("the home has no response plan: incidents are stored, not investigated");
    }
    for alert in &alerts {
        println!(
            "{} ({}, {}, service {}):",
            alert.title,
            alert.source,
            alert
                .priority
                .map(|p| p.to_string())
                .unwrap_or_else(|| "no priority".into()),
            alert.service.as_deref().unwrap_or("-")
        );
        let chosen = crate::home::choose(&home.plans, alert);
        for plan in &home.plans {
            match plan.fits(alert) {
                Ok(()) if chosen.is_some_and(|c| c.name == plan.name) => println!(
                    "  -> {}: takes it: agent `{}` in {} mode",
                    plan.name,
                    plan.agent,
                    plan.mode.as_str()
                ),
                Ok(()) => println!("     {}: fits, but an earlier plan takes it", plan.name),
                Err(why) => println!("     {}: no: {why}", plan.name),
            }
        }
        if chosen.is_none() {
            println!("  no plan takes it: stored, not investigated");
        }
    }
    Ok(ExitCode::SUCCESS)
}
