//! `sre approvals`, `sre approve`, `sre deny`: the durable approval requests of `Review`
//! agents (`sre run --approve durable`), answered from the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::store::approvals::always_policy;
use crate::store::{ApprovalStore, Decision, SqliteStore};

type Failure = Box<dyn std::error::Error>;

/// The store of the home `dir` (`<dir>/.sre/data/incidents.db` unless `data` says).
pub fn store_at(dir: &Path, data: Option<&Path>) -> Result<SqliteStore, Failure> {
    // A mistyped home is an error, not a new folder with a database in it.
    if data.is_none() && !dir.is_dir() {
        return Err(format!("{}: not an agent home (no such folder)", dir.display()).into());
    }
    let data = data
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join(".sre/data"));
    Ok(SqliteStore::open(data.join("incidents.db"))?)
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

/// `sre approvals DIR`: the requests (pending ones unless `all`).
pub fn list(dir: &Path, all: bool, json: bool, data: Option<&Path>) -> ExitCode {
    finish((|| {
        let store = store_at(dir, data)?;
        let requests = store.approvals(!all, 100)?;
        if json {
            println!("{}", serde_json::to_string_pretty(&requests)?);
            return Ok(ExitCode::SUCCESS);
        }
        if requests.is_empty() {
            println!("no {}approval requests", if all { "" } else { "pending " });
        }
        for r in &requests {
            println!(
                "{}\t{}\t{}\tthread {}\tagent {}\t{} {}\t({})",
                r.id,
                r.status,
                r.created_at.format("%Y-%m-%d %H:%M:%S"),
                r.thread,
                r.agent,
                r.tool,
                r.input,
                r.reason
            );
        }
        Ok(ExitCode::SUCCESS)
    })())
}

/// What `sre approve` was told.
#[derive(Debug, Clone)]
pub struct ApproveArgs {
    /// The agent home.
    pub dir: PathBuf,
    /// The request.
    pub id: String,
    /// An edited input (JSON).
    pub input: Option<String>,
    /// Also allow such calls for the rest of the thread.
    pub always: bool,
    /// The data folder.
    pub data: Option<PathBuf>,
}

/// `sre approve DIR ID`: approve (with an edited input, and for the rest of the thread).
pub fn approve(args: ApproveArgs) -> ExitCode {
    finish((|| {
        let store = store_at(&args.dir, args.data.as_deref())?;
        let input = match &args.input {
            Some(text) => Some(
                serde_json::from_str::<serde_json::Value>(text)
                    .map_err(|e| format!("--input is not JSON: {e}"))?,
            ),
            None => None,
        };
        let record = store.decide(&args.id, &Decision::Approve { input }, chrono::Utc::now())?;
        if args.always {
            // This call's kind, for the rest of the thread: the tool, and for a command
            // tool the command as asked (more arguments still match; another command not).
            let policy = always_policy(&record);
            let prefix = policy.prefix.clone();
            store.add_policy(&policy)?;
            println!(
                "{}: approved; `{}`{} is allowed for the rest of thread {}",
                record.id,
                record.tool,
                prefix.map(|p| format!(" `{p}`")).unwrap_or_default(),
                record.thread
            );
        } else {
            println!("{}: approved", record.id);
        }
        println!(
            "continue the run with: sre run ... --resume --session {}",
            record.thread
        );
        Ok(ExitCode::SUCCESS)
    })())
}

/// `sre deny DIR ID --reason R`: deny, the reason going to the agent.
pub fn deny(dir: &Path, id: &str, reason: &str, data: Option<&Path>) -> ExitCode {
    finish((|| {
        let store = store_at(dir, data)?;
        let record = store.decide(
            id,
            &Decision::Deny {
                reason: reason.to_string(),
            },
            chrono::Utc::now(),
        )?;
        println!("{}: denied", record.id);
        println!(
            "continue the run with: sre run ... --resume --session {}",
            record.thread
        );
        Ok(ExitCode::SUCCESS)
    })())
}
