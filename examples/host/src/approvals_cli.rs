//! `sre approvals`, `sre approve`, `sre deny`: the durable approval requests of `Review`
//! agents (`sre run --approve durable`), answered from the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::remote::{Server, ServerArgs, home, segment};
use crate::store::approvals::always_policy;
use crate::store::{ApprovalStore, Decision, SqliteStore};

type Failure = Box<dyn std::error::Error>;

/// The store of the home `dir` (`<dir>/.sre/data/incidents.db` unless `data` says).
pub fn store_at(dir: &Path, data: Option<&Path>) -> Result<SqliteStore, Failure> {
    // A mistyped home is an error, not a new folder with a database in it.
    if data.is_none() && !dir.is_dir() {
        return Err(format!("{}: not an agent home (no such folder)", dir.display()).into());
    }
    Ok(SqliteStore::open(data_dir(dir, data).join("incidents.db"))?)
}

/// The data folder of home `dir`.
fn data_dir(dir: &Path, data: Option<&Path>) -> PathBuf {
    data.map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join(".sre/data"))
}

/// What continues the thread after a decision: a running `sre serve` on the same data
/// folder (it holds the folder's lock) takes it up by itself; otherwise `sre run --resume`.
fn next_step(dir: &Path, data: Option<&Path>, thread: &str) {
    let lock = data_dir(dir, data).join("serve.lock");
    let served = std::fs::File::open(&lock).is_ok_and(|f| f.try_lock_shared().is_err());
    if served {
        println!("a running `sre serve` on this data folder continues thread {thread}");
    } else {
        println!("continue the run with: sre run ... --resume --session {thread}");
    }
}

/// Print a command's error (`error: ...`) and give exit status 1.
pub fn finish(result: Result<ExitCode, Failure>) -> ExitCode {
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

/// `sre approvals DIR` (or `--server URL`): the requests (pending ones unless `all`).
pub async fn list(
    dir: Option<&Path>,
    all: bool,
    json: bool,
    data: Option<&Path>,
    server: &ServerArgs,
) -> ExitCode {
    finish(
        async {
            let requests = match Server::from_args(server)? {
                Some(s) => s
                    .get(&format!("/api/approvals?all={all}"))
                    .await?
                    .get("approvals")
                    .cloned()
                    .unwrap_or_default(),
                None => serde_json::to_value(store_at(home(dir)?, data)?.approvals(!all, 100)?)?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&requests)?);
                return Ok(ExitCode::SUCCESS);
            }
            let requests = requests.as_array().cloned().unwrap_or_default();
            if requests.is_empty() {
                println!("no {}approval requests", if all { "" } else { "pending " });
            }
            let text = |r: &Value, k: &str| match &r[k] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            for r in &requests {
                println!(
                    "{}\t{}\t{}\tthread {}\tagent {}\t{} {}\t({})",
                    text(r, "id"),
                    text(r, "status"),
                    text(r, "created_at"),
                    text(r, "thread"),
                    text(r, "agent"),
                    text(r, "tool"),
                    text(r, "input"),
                    text(r, "reason")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        .await,
    )
}

/// What `sre approve` was told.
#[derive(Debug, Clone)]
pub struct ApproveArgs {
    /// The agent home (none with a server).
    pub dir: Option<PathBuf>,
    /// The request.
    pub id: String,
    /// An edited input (JSON).
    pub input: Option<String>,
    /// Also allow such calls for the rest of the thread.
    pub always: bool,
    /// The data folder.
    pub data: Option<PathBuf>,
    /// A running server to ask instead.
    pub server: ServerArgs,
}

/// `sre approve DIR ID` (or `--server URL ID`): approve (with an edited input, and for the
/// rest of the thread).
pub async fn approve(args: ApproveArgs) -> ExitCode {
    finish(
        async {
            let input = match &args.input {
                Some(text) => Some(
                    serde_json::from_str::<Value>(text)
                        .map_err(|e| format!("--input is not JSON: {e}"))?,
                ),
                None => None,
            };
            if let Some(server) = Server::from_args(&args.server)? {
                let answer = server
                    .post(
                        &format!("/api/approvals/{}/approve", segment(&args.id)),
                        &signed(json!({"input": input, "always": args.always})),
                    )
                    .await?;
                return Ok(remote_decided(&answer, "approved"));
            }
            let store = store_at(home(args.dir.as_deref())?, args.data.as_deref())?;
            let record = store.decide(
                &args.id,
                &Decision::Approve { input },
                operator().as_deref(),
                chrono::Utc::now(),
            )?;
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
            next_step(
                home(args.dir.as_deref())?,
                args.data.as_deref(),
                &record.thread,
            );
            Ok(ExitCode::SUCCESS)
        }
        .await,
    )
}

/// Who decides from this shell: the login name (`USER`, else `LOGNAME`), recorded with the
/// decision.
fn operator() -> Option<String> {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

/// A decision's body with `by` (who) when the login name is known (left out otherwise).
fn signed(mut body: Value) -> Value {
    if let Some(name) = operator() {
        body["by"] = name.into();
    }
    body
}

/// What a server said about a decision.
fn remote_decided(answer: &Value, what: &str) -> ExitCode {
    let approval = &answer["approval"];
    let id = approval["id"].as_str().unwrap_or("?");
    let thread = approval["thread"].as_str().unwrap_or("?");
    println!("{id}: {what}");
    if answer["threadResumed"].as_bool() == Some(true) {
        println!("thread {thread} continues on the server");
    } else {
        println!("thread {thread} continues once none of its requests waits");
    }
    ExitCode::SUCCESS
}

/// `sre deny DIR ID --reason R` (or `--server URL ID`): deny, the reason going to the agent.
pub async fn deny(
    dir: Option<&Path>,
    id: &str,
    reason: &str,
    data: Option<&Path>,
    server: &ServerArgs,
) -> ExitCode {
    finish(
        async {
            if let Some(s) = Server::from_args(server)? {
                let answer = s
                    .post(
                        &format!("/api/approvals/{}/deny", segment(id)),
                        &signed(json!({"reason": reason})),
                    )
                    .await?;
                return Ok(remote_decided(&answer, "denied"));
            }
            let store = store_at(home(dir)?, data)?;
            let record = store.decide(
                id,
                &Decision::Deny {
                    reason: reason.to_string(),
                },
                operator().as_deref(),
                chrono::Utc::now(),
            )?;
            println!("{}: denied", record.id);
            next_step(home(dir)?, data, &record.thread);
            Ok(ExitCode::SUCCESS)
        }
        .await,
    )
}
