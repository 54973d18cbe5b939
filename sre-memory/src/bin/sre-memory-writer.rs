//! A writer process for a memory folder: the tests' cross-process and crash scenarios and
//! the multi-process bench start it as a child.
//!
//! ```text
//! sre-memory-writer <root> <name> <count> [--chain] [--spread] [--no-sync] [--barrier]
//! sre-memory-writer <root> --hold-lock
//! ```
//!
//! Writes `count` facts (forever if 0) as `<name> fact <i>` to topic `shared`; `--spread`
//! lets `remember` pick the topic from words rotating over four topics; `--chain` instead
//! supersedes its own previous fact each time (`<name> v<i>` in topic `chain`).
//! `--no-sync` turns fsync off. With `--barrier` it prints `ready`, waits for a line on
//! stdin, then writes. At the end it prints `<writes> <start_ns> <end_ns>` (Unix epoch
//! nanoseconds around the writes). `--hold-lock` takes the store's cross-process lock
//! (`.sre-memory/lock`), prints `locked`, and holds it until a line arrives on stdin.

use std::fs::OpenOptions;
use std::io::BufRead;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use sre_memory::{MarkdownMemory, MemoryConfig};

struct Args {
    root: String,
    name: String,
    count: u64,
    chain: bool,
    spread: bool,
    sync: bool,
    barrier: bool,
    hold_lock: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut args = Args {
        root: String::new(),
        name: String::new(),
        count: 0,
        chain: false,
        spread: false,
        sync: true,
        barrier: false,
        hold_lock: false,
    };
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--chain" => args.chain = true,
            "--spread" => args.spread = true,
            "--no-sync" => args.sync = false,
            "--barrier" => args.barrier = true,
            "--hold-lock" => args.hold_lock = true,
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            _ => positional.push(a),
        }
    }
    if args.hold_lock {
        let [root] = <[String; 1]>::try_from(positional)
            .map_err(|_| "usage: sre-memory-writer <root> --hold-lock".to_string())?;
        args.root = root;
        return Ok(args);
    }
    let [root, name, count] = <[String; 3]>::try_from(positional)
        .map_err(|_| "usage: sre-memory-writer <root> <name> <count> [flags]".to_string())?;
    args.count = count.parse().map_err(|e| format!("count `{count}`: {e}"))?;
    args.root = root;
    args.name = name;
    Ok(args)
}

fn epoch_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A fact whose words send `remember` to one of four topics, in rotation.
fn spread_fact(name: &str, i: u64) -> String {
    match i % 4 {
        0 => format!("{name} fact {i}: team atlas owns checkout shard {i}"),
        1 => format!("{name} fact {i}: logs of shard {i} are in loki"),
        2 => format!("{name} fact {i}: error on shard {i} is fixed by a restart"),
        _ => format!("{name} fact {i}: shard {i} runs in eu-west-1"),
    }
}

async fn write(store: &MarkdownMemory, a: &Args) -> sre_memory::Result<u64> {
    let mut i = 0;
    if a.chain {
        let mut id = store
            .append("chain", &format!("{} v0", a.name), &a.name)
            .await?;
        i = 1;
        while a.count == 0 || i < a.count {
            id = store
                .supersede(&id, &format!("{} v{i}", a.name), &a.name)
                .await?;
            i += 1;
        }
        return Ok(i);
    }
    while a.count == 0 || i < a.count {
        if a.spread {
            store
                .remember(&spread_fact(&a.name, i), None, &a.name)
                .await?;
        } else {
            store
                .remember(&format!("{} fact {i}", a.name), Some("shared"), &a.name)
                .await?;
        }
        i += 1;
    }
    Ok(i)
}

fn wait_for_line() -> Result<(), String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("stdin: {e}"))?;
    Ok(())
}

fn hold_lock(root: &str) -> Result<(), String> {
    let path = std::path::Path::new(root).join(".sre-memory").join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.lock()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("locked");
    wait_for_line()
}

fn run(a: Args) -> Result<(), String> {
    if a.hold_lock {
        return hold_lock(&a.root);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let cfg = MemoryConfig {
        sync: a.sync,
        ..MemoryConfig::default()
    };
    let store = MarkdownMemory::open_with(&a.root, cfg).map_err(|e| e.to_string())?;
    if a.barrier {
        println!("ready");
        wait_for_line()?;
    }
    let start = epoch_ns();
    let n = rt.block_on(write(&store, &a)).map_err(|e| e.to_string())?;
    println!("{n} {start} {}", epoch_ns());
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sre-memory-writer: {e}");
            ExitCode::FAILURE
        }
    }
}
