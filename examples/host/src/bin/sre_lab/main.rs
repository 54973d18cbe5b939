//! `sre-lab`: the local systems the reference agents of `examples/team` investigate where
//! they must speak a provider's wire format: the prompt-cache regression's gateway traffic,
//! and the daily LLM-error triage's day of agent sessions. See `examples/team/lab/`.

mod faults;
mod gateway;
mod prefix_cache;
mod ticketbot;
mod wire;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sre-lab", about = "Local systems for the reference agents")]
struct Cli {
    #[command(subcommand)]
    command: Lab,
}

#[derive(Subcommand)]
enum Lab {
    /// Two weeks of an LLM gateway's traffic: each request built by the gateway version
    /// deployed at its time, sent through sre-core's OpenAI provider to a local server that
    /// caches prompt prefixes; writes OUT/requests.jsonl and OUT/bodies/NNNN.json.
    GatewayTraffic {
        /// The gateway's git repository.
        #[arg(long)]
        repo: PathBuf,
        /// Its deploy history (JSONL: version, commit, deployed_at).
        #[arg(long)]
        deploys: PathBuf,
        /// The incoming requests (JSONL: time, route, tenant, question).
        #[arg(long)]
        requests: PathBuf,
        /// Where to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// A day of ticketbot's agent sessions, run by the harness (sre-core's agent loop,
    /// OpenAI provider and retry layer) against a local provider that injects real faults;
    /// appends their events, stamped with the time of the day, to OUT.
    TicketbotDay {
        /// The day's sessions (JSONL: session_id, time, route, system, task, tools, model,
        /// stream, timeout_s, max_attempts), from examples/team/lab/ticketbot_day.py.
        #[arg(long)]
        sessions: PathBuf,
        /// The event log to append to.
        #[arg(long)]
        out: PathBuf,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Lab::GatewayTraffic {
            repo,
            deploys,
            requests,
            out,
        } => gateway::traffic(&repo, &deploys, &requests, &out).await,
        Lab::TicketbotDay { sessions, out } => ticketbot::day(&sessions, &out).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sre-lab: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
