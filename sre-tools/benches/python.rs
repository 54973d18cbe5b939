//! Per-call overhead of a trivial Python tool: the persistent worker
//! ([`PythonFunctionTool`]) against a new interpreter per call (the [`Executor`] running
//! `python3 -c` with the same code, as the `python` tool does), side by side in one run,
//! each with `python3` from `PATH` and with the interpreter it resolves to.
//!
//! Run: `cargo bench -p sre-tools --bench python`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::LazyLock;

use serde_json::json;
use sre_core::{Tool, ToolContext};
use sre_tools::{
    ExecConfig, ExecRequest, Executor, MountMode, ParamSpec, ParamType, PythonFunctionSpec,
    PythonFunctionTool, PythonToolConfig, Workspace,
};
use tokio_util::sync::CancellationToken;

const CODE: &str = "def main(x):\n    return {\"x\": x + 1}\n";

fn main() {
    let e = &*ENV;
    eprintln!(
        "interpreters: `python3` from PATH, resolved to {}; confinement: {}",
        e.resolved,
        e.exec.confinement()
    );
    divan::main();
}

struct Env {
    rt: tokio::runtime::Runtime,
    exec: Executor,
    resolved: String,
    worker: PythonFunctionTool,
    worker_resolved: PythonFunctionTool,
    _dir: tempfile::TempDir,
}

static ENV: LazyLock<Env> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::builder(dir.path())
        .mount("scratch", MountMode::Writable)
        .build()
        .unwrap();
    let exec = Executor::new(ws, ExecConfig::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let resolved = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let resolved = String::from_utf8(resolved.stdout)
        .unwrap()
        .trim()
        .to_string();
    let spec = PythonFunctionSpec::new("inc", "Add one.", CODE)
        .param(ParamSpec::new("x", ParamType::Integer).required());
    let cache = dir.path().join("cache");
    let worker = PythonFunctionTool::new(spec.clone(), exec.clone(), &cache).unwrap();
    let config = PythonToolConfig {
        interpreter: resolved.clone(),
        ..PythonToolConfig::default()
    };
    let worker_resolved =
        PythonFunctionTool::with_config(spec, exec.clone(), &cache, config).unwrap();
    // Start the workers outside the measurement (the first call of a real host pays it once).
    for t in [&worker, &worker_resolved] {
        rt.block_on(t.warm_up(&CancellationToken::new())).unwrap();
    }
    Env {
        rt,
        exec,
        resolved,
        worker,
        worker_resolved,
        _dir: dir,
    }
});

fn through_worker(tool: &PythonFunctionTool) -> String {
    let out = ENV
        .rt
        .block_on(tool.call(json!({"x": "41"}), &ToolContext::detached("b")))
        .unwrap();
    assert_eq!(out.content, r#"{"x":42}"#);
    out.content
}

fn new_process(interpreter: &str) -> String {
    let code = format!("{CODE}\nimport json\nprint(json.dumps(main(x=int(\"41\"))))\n");
    let req = ExecRequest::new(
        interpreter,
        vec!["-c".into(), code],
        ENV.exec.workspace().root().to_path_buf(),
    );
    let out = ENV
        .rt
        .block_on(ENV.exec.run(req, &CancellationToken::new()))
        .unwrap();
    assert!(out.success());
    let text = out.stdout.render();
    assert_eq!(text, "{\"x\": 42}\n");
    text
}

#[divan::bench(sample_count = 200, sample_size = 1)]
fn persistent_worker_python3() -> String {
    through_worker(&ENV.worker)
}

#[divan::bench(sample_count = 200, sample_size = 1)]
fn new_process_python3() -> String {
    new_process("python3")
}

#[divan::bench(sample_count = 200, sample_size = 1)]
fn persistent_worker_resolved() -> String {
    through_worker(&ENV.worker_resolved)
}

#[divan::bench(sample_count = 200, sample_size = 1)]
fn new_process_resolved() -> String {
    new_process(&ENV.resolved)
}
