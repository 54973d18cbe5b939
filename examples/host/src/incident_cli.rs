//! `sre incident ...` and `sre plans test`: incidents from the command line, stored where
//! `sre serve` keeps them (`<home>/.sre/data/incidents.db` unless `--data` says otherwise).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::home::AgentHome;
use crate::incident::intake::{self, Delivery, IntakeConfig, Refused};
use crate::incident::{Source, generic};
use crate::store::{IncidentStore, Intake};

/// `sre incident` subcommands.
#[derive(Subcommand, Debug)]
pub enum IncidentCommand {
    /// Create an incident by hand; a response plan may route it to an agent.
    Create {
        /// The agent home (its response plans route the incident).
        dir: PathBuf,
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
        #[arg(long, value_name = "PATH")]
        data: Option<PathBuf>,
    },
    /// Take a webhook payload from a file as if it had been delivered.
    Ingest {
        /// The agent home.
        dir: PathBuf,
        /// The payload (JSON).
        file: PathBuf,
        /// Its platform (alertmanager, pagerduty, azure-monitor, trigger); default: guessed
        /// from its shape.
        #[arg(long)]
        source: Option<String>,
        /// The data folder (default `<DIR>/.sre/data`).
        #[arg(long, value_name = "PATH")]
        data: Option<PathBuf>,
    },
    /// List the latest incidents.
    List {
        /// The agent home.
        dir: PathBuf,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// As JSON.
        #[arg(long)]
        json: bool,
        /// The data folder (default `<DIR>/.sre/data`).
        #[arg(long, value_name = "PATH")]
        data: Option<PathBuf>,
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

use crate::approvals_cli::store_at;

fn source_of(name: Option<&str>, body: &[u8]) -> Result<Source, Failure> {
    match name {
        None => Ok(intake::detect(body)),
        Some(n) => Source::parse(n).ok_or_else(|| {
            format!("unknown source `{n}` (alertmanager, pagerduty, azure-monitor, trigger)").into()
        }),
    }
}

/// Run an `sre incident` command.
pub fn incident(command: IncidentCommand) -> ExitCode {
    let result = match command {
        IncidentCommand::Create {
            dir,
            title,
            severity,
            service,
            labels,
            description,
            data,
        } => create(
            &dir,
            title,
            severity,
            service,
            &labels,
            description,
            data.as_deref(),
        ),
        IncidentCommand::Ingest {
            dir,
            file,
            source,
            data,
        } => ingest(&dir, &file, source.as_deref(), data.as_deref()),
        IncidentCommand::List {
            dir,
            limit,
            json,
            data,
        } => list(&dir, limit, json, data.as_deref()),
    };
    finish(result)
}

fn finish(result: Result<ExitCode, Failure>) -> ExitCode {
    result.unwrap_or_else(|e| {
        // Home errors say `error:` on each line already.
        let text = e.to_string();
        if text.starts_with("error:") {
            eprintln!("{text}");
        } else {
            eprintln!("error: {text}");
        }
        ExitCode::from(1)
    })
}

#[allow(clippy::too_many_arguments)]
fn create(
    dir: &Path,
    title: String,
    severity: Option<String>,
    service: Option<String>,
    labels: &[String],
    description: Option<String>,
    data: Option<&Path>,
) -> Result<ExitCode, Failure> {
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
    deliver(dir, Source::Manual, body.to_string().as_bytes(), data)
}

fn ingest(
    dir: &Path,
    file: &Path,
    source: Option<&str>,
    data: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let body = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let source = source_of(source, &body)?;
    deliver(dir, source, &body, data)
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

fn list(dir: &Path, limit: usize, json: bool, data: Option<&Path>) -> Result<ExitCode, Failure> {
    let store = store_at(dir, data)?;
    let incidents = store.incidents(limit)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&incidents)?);
        return Ok(ExitCode::SUCCESS);
    }
    for i in &incidents {
        println!(
            "{}\t{}\t{}\t{}\t{}x\t{}\t{}",
            i.id,
            i.source,
            i.status.as_str(),
            i.priority
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            i.count,
            i.agent.as_deref().unwrap_or("(not investigated)"),
            i.title
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
