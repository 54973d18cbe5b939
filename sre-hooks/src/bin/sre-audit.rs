//! `sre-audit`: verify an sre-hooks audit log, create a key, or append synthetic records.
//!
//! ```text
//! sre-audit verify LOG --key-file KEY --anchor ANCHOR
//! sre-audit keygen KEY
//! sre-audit append-test-records LOG --key-file KEY --anchor ANCHOR --count N [--session S]
//! ```
//!
//! Exit status: 0 valid (or done), 1 the log or its anchor was tampered with, 2 usage or
//! I/O error.

use std::path::PathBuf;
use std::process::ExitCode;

use sre_core::{HookInput, HookPayload};
use sre_hooks::{AuditKey, AuditLog, verify_audit_log};

const USAGE: &str = "usage:
  sre-audit verify LOG --key-file KEY --anchor ANCHOR
      check the log's HMAC chain and its anchor (exit 0 valid, 1 tampered, 2 error)
  sre-audit keygen KEY
      write a new random key to KEY (mode 0600; an existing file is never overwritten)
  sre-audit append-test-records LOG --key-file KEY --anchor ANCHOR --count N [--session S]
      append N synthetic records (tests and drills)";

struct Args {
    positional: Vec<String>,
    key_file: Option<PathBuf>,
    anchor: Option<PathBuf>,
    count: Option<usize>,
    session: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut out = Args {
        positional: Vec::new(),
        key_file: None,
        anchor: None,
        count: None,
        session: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--key-file" => out.key_file = Some(value(a)?.into()),
            "--anchor" => out.anchor = Some(value(a)?.into()),
            "--session" => out.session = Some(value(a)?),
            "--count" => {
                let v = value(a)?;
                out.count = Some(
                    v.parse()
                        .map_err(|_| format!("--count: not a number: {v:?}"))?,
                );
            }
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => out.positional.push(a.clone()),
        }
    }
    Ok(out)
}

fn log_args(args: &Args) -> Result<(PathBuf, AuditKey, PathBuf), String> {
    let [log] = args.positional.as_slice() else {
        return Err("expected one LOG".into());
    };
    let key_file = args.key_file.as_ref().ok_or("--key-file is required")?;
    let anchor = args.anchor.clone().ok_or("--anchor is required")?;
    let key = AuditKey::from_file(key_file).map_err(|e| e.to_string())?;
    Ok((PathBuf::from(log), key, anchor))
}

fn run(command: &str, args: &Args) -> Result<ExitCode, String> {
    match command {
        "verify" => {
            let (log, key, anchor) = log_args(args)?;
            let report = verify_audit_log(&log, &key, &anchor).map_err(|e| e.to_string())?;
            match &report.problem {
                None => {
                    println!(
                        "ok: {} records, last seq {}, anchored at {}{}",
                        report.records,
                        report.last_seq,
                        report.anchor_seq.unwrap_or(0),
                        match report.unanchored() {
                            0 => String::new(),
                            n => format!(
                                " ({n} record(s) after the anchor: a crash between the two writes)"
                            ),
                        }
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some(problem) => {
                    println!(
                        "TAMPERED: {problem} ({} valid record(s) before it)",
                        report.records
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        "keygen" => {
            let [path] = args.positional.as_slice() else {
                return Err("expected one KEY path".into());
            };
            AuditKey::create_file(path).map_err(|e| e.to_string())?;
            println!("wrote a new key to {path} (mode 0600)");
            Ok(ExitCode::SUCCESS)
        }
        "append-test-records" => {
            let (log, key, anchor) = log_args(args)?;
            let count = args.count.ok_or("--count is required")?;
            let session = args
                .session
                .clone()
                .unwrap_or_else(|| format!("proc-{}", std::process::id()));
            let log = AuditLog::new(log, key, anchor);
            for i in 0..count {
                let input = HookInput {
                    session_id: session.clone(),
                    transcript_path: None,
                    cwd: None,
                    agent_name: "db-agent".into(),
                    current_turn: 1,
                    max_turns: 10,
                    payload: HookPayload::PostToolUse {
                        tool_name: "Bash".into(),
                        tool_input: serde_json::json!({"command": format!("{session} {i}")}),
                        tool_use_id: format!("call_{i}"),
                        tool_response: "ok".into(),
                        succeeded: i % 3 != 0,
                        duration_ms: 3,
                        annotations: None,
                    },
                };
                log.append_input(&input).map_err(|e| e.to_string())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if matches!(command.as_str(), "-h" | "--help" | "help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = parse_args(rest).and_then(|args| run(command, &args));
    match result {
        Ok(code) => code,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("sre-audit: {message}");
            }
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
