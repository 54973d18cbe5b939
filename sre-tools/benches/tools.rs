//! `grep` tool vs the `rg` binary, `read_file` and `find` throughput on a generated tree
//! (`tests/common/tree.rs`, shape `BENCH`: the same bytes on every machine), and the
//! transcript bytes saved by offloading a 5 MB log.
//!
//! Run: `cargo bench -p sre-tools --bench tools`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/common/tree.rs"]
mod tree;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, LazyLock};

use serde_json::{Value, json};
use sre_core::{OutputOffload, Tool, ToolContext, typed_tool};
use sre_tools::{
    Find, Grep, GrepLimits, MountMode, OffloadConfig, OffloadStore, ReadFile, ReadLimits, Workspace,
};

fn main() {
    tree_figures();
    offload_figures();
    divan::main();
}

struct Env {
    dir: PathBuf,
    rt: tokio::runtime::Runtime,
    grep: Arc<dyn Tool>,
    find: Arc<dyn Tool>,
    read: Arc<dyn Tool>,
    log_ws: Workspace,
    _tmp: tempfile::TempDir,
    _tree: tempfile::TempDir,
}

static ENV: LazyLock<Env> = LazyLock::new(|| {
    let tree_tmp = tempfile::tempdir().unwrap();
    let dir = tree_tmp.path().join("tree");
    tree::generate(&dir, tree::Shape::BENCH);
    let ws = Workspace::builder(&dir)
        .mount(".", MountMode::ReadOnly)
        .build()
        .unwrap();
    let unlimited = GrepLimits {
        default_matches: usize::MAX,
        max_matches: usize::MAX,
        max_bytes: usize::MAX,
        max_line_bytes: usize::MAX,
        threads: 0,
    };
    let grep = typed_tool(Grep::new(ws.clone()).with_limits(unlimited)).unwrap();
    let find = typed_tool(Find::new(ws.clone())).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("logs")).unwrap();
    std::fs::write(tmp.path().join("logs/app.log"), log_5mb()).unwrap();
    let log_ws = Workspace::builder(tmp.path())
        .mount("logs", MountMode::ReadOnly)
        .mount("scratch", MountMode::Writable)
        .build()
        .unwrap();
    let big = ReadLimits {
        default_lines: usize::MAX,
        max_bytes: usize::MAX,
        max_line_bytes: usize::MAX,
    };
    let read = typed_tool(ReadFile::new(log_ws.clone()).with_limits(big)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    Env {
        dir,
        rt,
        grep,
        find,
        read,
        log_ws,
        _tmp: tmp,
        _tree: tree_tmp,
    }
});

/// Files and bytes of the generated tree.
fn tree_figures() {
    let (files, bytes) = tree::size(&ENV.dir);
    println!("tree: {files} files, {bytes} bytes (generated, shape BENCH)");
}

fn log_5mb() -> String {
    let mut s = String::new();
    let mut i = 0u64;
    while s.len() < 5 << 20 {
        let level = if i.is_multiple_of(97) {
            "ERROR"
        } else {
            "INFO"
        };
        s.push_str(&format!(
            "2026-11-24T10:{:02}:{:02}Z {level} req={i} path=/api/v1/items latency_ms={}\n",
            (i / 60) % 60,
            i % 60,
            i % 500
        ));
        i += 1;
    }
    s
}

fn call(tool: &Arc<dyn Tool>, input: Value) -> String {
    ENV.rt
        .block_on(tool.call(input, &ToolContext::detached("bench")))
        .unwrap()
        .content
}

const PATTERNS: &[(&str, &[&str])] = &[
    ("literal", &["-F", "unsafe impl Send"]),
    ("regex", &[r"fn\s+landlock_\w+"]),
    ("icase", &["-i", "deadlock"]),
];

fn grep_input(name: &str) -> Value {
    match name {
        "literal" => json!({"pattern": "unsafe impl Send", "fixed_strings": true}),
        "regex" => json!({"pattern": r"fn\s+landlock_\w+"}),
        _ => json!({"pattern": "deadlock", "case_insensitive": true}),
    }
}

#[divan::bench(args = ["literal", "regex", "icase"], sample_count = 10, sample_size = 1)]
fn grep_tool(name: &str) -> usize {
    call(&ENV.grep, grep_input(name)).len()
}

#[divan::bench(args = ["literal", "regex", "icase"], sample_count = 10, sample_size = 1)]
fn rg_binary(name: &str) -> usize {
    let args = PATTERNS
        .iter()
        .find(|p| p.0 == name)
        .map(|p| p.1)
        .unwrap_or_default();
    let out = Command::new("rg")
        .current_dir(&ENV.dir)
        .args(["--no-config", "--no-heading", "-n", "--color", "never"])
        .args(args)
        .output()
        .expect("rg (ripgrep) must be installed for this bench");
    out.stdout.len()
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn find_rs_files() -> usize {
    call(&ENV.find, json!({"glob": ["*.rs"], "max_results": 100000})).len()
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn find_binary_fd_equivalent_rg_files() -> usize {
    let out = Command::new("rg")
        .current_dir(&ENV.dir)
        .args(["--files", "-g", "*.rs"])
        .output()
        .expect("rg");
    out.stdout.len()
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn read_file_5mb_whole(b: divan::Bencher) {
    b.counter(divan::counter::BytesCount::new(5usize << 20))
        .bench(|| call(&ENV.read, json!({"path": "logs/app.log"})).len());
}

#[divan::bench(sample_count = 20)]
fn read_file_default_page() -> usize {
    let read = typed_tool(ReadFile::new(ENV.log_ws.clone())).unwrap();
    call(&read, json!({"path": "logs/app.log", "offset": 30000})).len()
}

/// Offload: what reaches the transcript when a 5 MB log is read in full.
fn offload_figures() {
    let env = &*ENV;
    let full = call(&env.read, json!({"path": "logs/app.log"}));
    let store = OffloadStore::new(env.log_ws.clone(), OffloadConfig::default()).unwrap();
    let preview = env
        .rt
        .block_on(store.offload("read_file", "bench", &full))
        .unwrap();
    println!(
        "offload: read_file of a 5 MiB log = {} bytes of output; {} bytes reach the transcript ({:.3}% ; threshold {} bytes)",
        full.len(),
        preview.len(),
        100.0 * preview.len() as f64 / full.len() as f64,
        store.threshold_bytes()
    );
    let default = typed_tool(ReadFile::new(env.log_ws.clone())).unwrap();
    let page = call(&default, json!({"path": "logs/app.log"}));
    println!(
        "offload: read_file with default limits (no offload needed) = {} bytes",
        page.len()
    );
}
