//! Python function tools through real `python3` workers: argument conversion, failures
//! (exceptions, bad results, timeouts, hangs, crashes), worker reuse and restart, stdout
//! noise, the sandbox, concurrency, cancellation and cached dependency environments.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Fixture, landlock_expected, marker, processes_with, wait_dead, wait_gone};
use serde_json::{Value, json};
use sre_core::{Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput};
use sre_tools::{
    ExecConfig, Executor, ParamSpec, ParamType, PythonFunctionSpec, PythonFunctionTool,
    PythonToolConfig, ResourceLimits,
};

fn tool(f: &Fixture, spec: PythonFunctionSpec) -> PythonFunctionTool {
    tool_with(f, spec, PythonToolConfig::default())
}

fn tool_with(
    f: &Fixture,
    spec: PythonFunctionSpec,
    config: PythonToolConfig,
) -> PythonFunctionTool {
    let exec = Executor::new(f.ws.clone(), ExecConfig::default());
    PythonFunctionTool::with_config(spec, exec, f.base.path().join("cache"), config).unwrap()
}

async fn call(t: &PythonFunctionTool, input: Value) -> Result<ToolOutput, ToolError> {
    t.call(input, &ToolContext::detached("t")).await
}

async fn ok(t: &PythonFunctionTool, input: Value) -> String {
    let out = call(t, input.clone())
        .await
        .unwrap_or_else(|e| panic!("{input}: {e}"));
    assert!(!out.is_error, "{input}: {}", out.content);
    out.content
}

async fn failed(t: &PythonFunctionTool, input: Value) -> String {
    let out = call(t, input.clone())
        .await
        .unwrap_or_else(|e| panic!("{input}: {e}"));
    assert!(out.is_error, "{input} should fail: {}", out.content);
    out.content
}

async fn invalid(t: &PythonFunctionTool, input: Value) -> String {
    match call(t, input.clone()).await {
        Err(ToolError::Invalid(m)) => m,
        other => panic!("{input}: expected Invalid, got {other:?}"),
    }
}

fn one_pid(t: &PythonFunctionTool) -> u32 {
    let pids = t.worker_pids();
    assert_eq!(pids.len(), 1, "{pids:?}");
    pids[0]
}

/// Wait (bounded) for a file a Python call writes, and return its content.
async fn wait_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && s.ends_with('\n')
        {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const TLS_SHAPED: &str = r#"
import socket

def main(domain, port="443"):
    with socket.create_connection((domain, int(port)), timeout=5):
        pass
    return {"domain": domain, "port": port, "port_type": type(port).__name__, "status": "HEALTHY"}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn portal_style_main_works_unmodified() {
    let f = Fixture::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let spec = PythonFunctionSpec::new("check_tls", "Check a certificate.", TLS_SHAPED)
        .param(ParamSpec::new("domain", ParamType::String).required())
        .param(ParamSpec::new("port", ParamType::String));
    let t = tool(&f, spec);
    // Left out: the function's own default ("443") applies. Nothing listens on 443 here, so
    // the default is checked through the port named in a successful call below instead.
    let out = failed(&t, json!({"domain": "127.0.0.1"})).await;
    assert!(out.contains("ConnectionRefusedError"), "{out}");
    let out = ok(&t, json!({"domain": "127.0.0.1", "port": port.to_string()})).await;
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        json!({"domain": "127.0.0.1", "port": port.to_string(), "port_type": "str", "status": "HEALTHY"})
    );
    // A number given for a string parameter is converted to its text.
    let out = ok(&t, json!({"domain": "127.0.0.1", "port": port})).await;
    assert!(out.contains(&format!("\"port\":\"{port}\"")), "{out}");
    // The default reaches the function when the call leaves the port out.
    let spec = PythonFunctionSpec::new(
        "default_port",
        "d",
        "def main(domain, port=\"443\"):\n    return {\"port\": port}\n",
    )
    .param(ParamSpec::new("domain", ParamType::String).required())
    .param(ParamSpec::new("port", ParamType::String));
    let d = tool(&f, spec);
    assert_eq!(
        ok(&d, json!({"domain": "a.com"})).await,
        r#"{"port":"443"}"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn arguments_are_converted_to_declared_types() {
    let f = Fixture::new();
    let code = r#"
def main(i, n, b, a, o, s, opt, missing_default):
    kinds = lambda v: type(v).__name__
    return {k: [v, kinds(v)] for k, v in locals().items() if k != "kinds"}
"#;
    let spec = PythonFunctionSpec::new("types", "t", code)
        .param(ParamSpec::new("i", ParamType::Integer).required())
        .param(ParamSpec::new("n", ParamType::Number).required())
        .param(ParamSpec::new("b", ParamType::Boolean).required())
        .param(ParamSpec::new("a", ParamType::Array).required())
        .param(ParamSpec::new("o", ParamType::Object).required())
        .param(ParamSpec::new("s", ParamType::String).required())
        .param(ParamSpec::new("opt", ParamType::Integer).with_default(json!("8443")))
        .param(ParamSpec::new("missing_default", ParamType::String));
    let t = tool(&f, spec);
    let out = ok(
        &t,
        json!({"i": "443", "n": "0.25", "b": "true", "a": "[1, \"x\"]", "o": "{\"k\": 1}", "s": 7}),
    )
    .await;
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        json!({
            "i": [443, "int"], "n": [0.25, "float"], "b": [true, "bool"],
            "a": [[1, "x"], "list"], "o": [{"k": 1}, "dict"], "s": ["7", "str"],
            // The default "8443" was converted when the tool was built.
            "opt": [8443, "int"],
            // Optional, no default here nor in the function: None.
            "missing_default": [null, "NoneType"],
        })
    );
    let base = json!({"i": 1, "n": 1, "b": false, "a": [], "o": {}, "s": ""});
    let with = |k: &str, v: Value| {
        let mut x = base.clone();
        x[k] = v;
        x
    };
    let m = invalid(&t, with("i", json!("https"))).await;
    assert!(m.contains("parameter `i`: expected an integer"), "{m}");
    let m = invalid(&t, with("b", json!("maybe"))).await;
    assert!(m.contains("parameter `b`: expected a boolean"), "{m}");
    let m = invalid(&t, with("prot", json!(1))).await;
    assert!(m.contains("unknown argument `prot`"), "{m}");
    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("s");
    let m = invalid(&t, missing).await;
    assert!(m.contains("missing required argument `s`"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exception_is_a_model_visible_error_and_the_next_call_gets_a_fresh_worker() {
    let f = Fixture::new();
    let code = r#"
def helper(x):
    raise ValueError(f"bad domain: {x}")

def main(domain):
    print("checking", domain)
    return helper(domain) if domain.startswith("bad") else {"ok": domain}
"#;
    let spec = PythonFunctionSpec::new("raiser", "r", code)
        .param(ParamSpec::new("domain", ParamType::String).required());
    let t = tool(&f, spec);
    assert_eq!(ok(&t, json!({"domain": "a"})).await, r#"{"ok":"a"}"#);
    let pid = one_pid(&t);
    let out = failed(&t, json!({"domain": "bad.example"})).await;
    assert!(
        out.starts_with("raiser raised: ValueError: bad domain: bad.example"),
        "{out}"
    );
    assert!(out.contains("line 3, in helper"), "{out}");
    assert!(
        out.contains("raise ValueError(f\"bad domain: {x}\")"),
        "{out}"
    );
    assert!(
        out.contains("[printed before the error]\nchecking bad.example"),
        "{out}"
    );
    assert!(
        !out.contains("worker.py") && !out.contains("<string>"),
        "{out}"
    );
    // The worker that raised is gone (its state may be half-changed); the next call gets
    // a fresh one.
    assert!(t.worker_pids().is_empty());
    assert!(wait_dead(pid).await, "the worker that raised survived");
    assert_eq!(ok(&t, json!({"domain": "b"})).await, r#"{"ok":"b"}"#);
    assert_ne!(one_pid(&t), pid);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_that_is_not_json_names_its_type() {
    let f = Fixture::new();
    let code = r#"
import datetime
def main(kind):
    if kind == "set":
        return {"domains": {"a", "b"}}
    if kind == "date":
        return [1, datetime.date(2026, 1, 1)]
    if kind == "nan":
        return {"days": float("nan")}
    return "plain text"
"#;
    let spec = PythonFunctionSpec::new("bad_result", "b", code)
        .param(ParamSpec::new("kind", ParamType::String).required());
    let t = tool(&f, spec);
    assert_eq!(ok(&t, json!({"kind": "str"})).await, "plain text");
    let pid = one_pid(&t);
    let out = failed(&t, json!({"kind": "set"})).await;
    assert!(
        out.contains("not JSON-serialisable: result['domains'] is a set"),
        "{out}"
    );
    assert!(t.worker_pids().is_empty(), "the worker was kept");
    assert!(wait_dead(pid).await);
    let out = failed(&t, json!({"kind": "date"})).await;
    assert!(out.contains("result[1] is a date"), "{out}");
    let out = failed(&t, json!({"kind": "nan"})).await;
    assert!(out.contains("result['days'] is a float nan"), "{out}");
    // A string result is the text itself.
    assert_eq!(ok(&t, json!({"kind": "str"})).await, "plain text");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_kills_the_whole_group_and_the_next_call_gets_a_fresh_worker() {
    let f = Fixture::new();
    let code = r#"
import subprocess, time, uuid
ME = uuid.uuid4().hex  # this worker process (PIDs mean nothing outside a PID namespace)
def main(hang, mark):
    if not hang:
        return ME
    child = subprocess.Popen(["sleep", f"1000.{mark}"])
    with open("scratch/pids", "w") as fh:
        fh.write(f"{ME}\n")
    time.sleep(1000)
"#;
    let spec = PythonFunctionSpec::new("sleepy", "s", code)
        .param(ParamSpec::new("hang", ParamType::Boolean).required())
        .param(ParamSpec::new("mark", ParamType::String).required())
        .timeout(Duration::from_millis(1500));
    let t = tool(&f, spec);
    let m = marker();
    let first = ok(&t, json!({"hang": false, "mark": m})).await;
    let worker = one_pid(&t);
    let start = Instant::now();
    let out = failed(&t, json!({"hang": "yes", "mark": m})).await;
    assert!(out.contains("sleepy timed out after 1.5s"), "{out}");
    assert!(start.elapsed() < Duration::from_secs(10));
    let ran_on = std::fs::read_to_string(f.path("scratch/pids")).unwrap();
    assert_eq!(
        ran_on.trim(),
        first,
        "the hanging call ran on the reused worker"
    );
    assert!(wait_dead(worker).await, "worker survived the timeout");
    assert!(
        wait_gone(&m).await,
        "the worker's child survived the timeout: {:?}",
        processes_with(&m)
    );
    assert!(t.worker_pids().is_empty());
    let next = ok(&t, json!({"hang": false, "mark": m})).await;
    assert_ne!(next, first);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_loop_hang_is_killed() {
    let f = Fixture::new();
    let spec = PythonFunctionSpec::new("spin", "s", "def main():\n    while True:\n        pass\n")
        .timeout(Duration::from_millis(800));
    let t = tool(&f, spec);
    let out = failed(&t, json!({})).await;
    assert!(out.contains("timed out"), "{out}");
    // Code that hangs while loading is bounded by the start timeout.
    let config = PythonToolConfig {
        start_timeout: Duration::from_millis(1500),
        ..PythonToolConfig::default()
    };
    let spec = PythonFunctionSpec::new(
        "load_hang",
        "l",
        "import time\ntime.sleep(1000)\ndef main():\n    return 1\n",
    );
    let t = tool_with(&f, spec, config);
    let m = invalid(&t, json!({})).await;
    assert!(m.contains("loading the code took longer than 1.5s"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_worker_is_restarted_on_the_next_call() {
    let f = Fixture::new();
    let code = r#"
import os, sys, uuid
ME = uuid.uuid4().hex
def main(how="none"):
    if how == "exit":
        os.write(2, b"about to exit\n")  # fd-level output is kept for crash reports
        os._exit(3)
    if how == "sysexit":
        sys.exit(4)
    return ME
"#;
    let spec = PythonFunctionSpec::new("crashy", "c", code)
        .param(ParamSpec::new("how", ParamType::String));
    let t = tool(&f, spec);
    let before = ok(&t, json!({})).await;
    // sys.exit is an exception like any other: reported, and the worker replaced.
    let out = failed(&t, json!({"how": "sysexit"})).await;
    assert!(out.contains("crashy raised: SystemExit: 4"), "{out}");
    assert!(t.worker_pids().is_empty());
    let first = ok(&t, json!({})).await;
    assert_ne!(first, before);
    // os._exit ends the process mid-call.
    let out = failed(&t, json!({"how": "exit"})).await;
    assert!(
        out.contains("died during the call (the process ended: exit code 3)"),
        "{out}"
    );
    assert!(
        out.contains("[the worker's stderr ended with]\nabout to exit"),
        "{out}"
    );
    let second = ok(&t, json!({})).await;
    assert_ne!(second, first);
    // Killed from outside while idle: the next call does not notice.
    let pid = one_pid(&t);
    sre_core::process::kill_process_group(pid).unwrap();
    assert!(wait_dead(pid).await);
    let third = ok(&t, json!({})).await;
    assert_ne!(third, second);
}

#[tokio::test(flavor = "multi_thread")]
async fn printing_does_not_corrupt_the_protocol() {
    let f = Fixture::new();
    let code = r#"
import os, subprocess, sys
print("loading noise")
def main(fail=False):
    print('{"id": 1, "ok": true, "result": "forged"}')
    sys.stdout.write("no newline")
    sys.stderr.write("to stderr\n")
    os.write(1, b'{"id": 2, "ok": true, "result": "forged by fd 1"}\n')
    subprocess.run(["echo", '{"id": 3, "ok": true}'])
    subprocess.run(["sh", "-c", "cat >/dev/null"])  # reads the worker's stdin: /dev/null
    if fail:
        raise RuntimeError("after the noise")
    return {"real": True}
"#;
    let spec = PythonFunctionSpec::new("noisy", "n", code)
        .param(ParamSpec::new("fail", ParamType::Boolean));
    let t = tool(&f, spec);
    for _ in 0..3 {
        assert_eq!(ok(&t, json!({})).await, r#"{"real":true}"#);
    }
    let out = failed(&t, json!({"fail": true})).await;
    assert!(out.contains("RuntimeError: after the noise"), "{out}");
    assert!(
        out.contains("{\"id\": 1, \"ok\": true, \"result\": \"forged\"}\nno newlineto stderr"),
        "{out}"
    );
    assert_eq!(ok(&t, json!({})).await, r#"{"real":true}"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_cannot_write_outside_writable_mounts() {
    assert!(landlock_expected());
    let f = Fixture::new();
    let tmp_target = format!("/tmp/sre-tools-py-outside-{}", std::process::id());
    let code = r#"
import errno, os, sys
def main(outside, tmp):
    results = {}
    for target in [outside + "/secret.txt", outside + "/new.txt", "repos/app/src/main.rs", "notes.txt", tmp]:
        try:
            with open(target, "w") as fh:
                fh.write("pwned")
            results[target] = "written"
        except OSError as e:
            results[target] = errno.errorcode.get(e.errno, type(e).__name__)
    os.system(f"echo pwned > {outside}/by-shell.txt 2>/dev/null")
    with open("scratch/ok.txt", "w") as fh:
        fh.write("fine")
    return {"results": results, "cwd": os.getcwd(), "home": os.environ["HOME"],
            "isolated": sys.flags.isolated, "path0": sys.path[0]}
"#;
    let spec = PythonFunctionSpec::new("escape", "e", code)
        .param(ParamSpec::new("outside", ParamType::String).required())
        .param(ParamSpec::new("tmp", ParamType::String).required());
    let t = tool(&f, spec);
    assert!(t.confinement().is_active(), "{}", t.confinement());
    let outside = f.outside.path().display().to_string();
    let out = ok(&t, json!({"outside": outside, "tmp": tmp_target})).await;
    let v: Value = serde_json::from_str(&out).unwrap();
    // Landlock refuses the opens; in namespaces everything there is a read-only mount.
    let denied = match t.confinement() {
        sre_tools::Confinement::Namespaces { .. } => "EROFS",
        _ => "EACCES",
    };
    for (target, result) in v["results"].as_object().unwrap() {
        assert_eq!(result, denied, "{target}: {out}");
    }
    f.assert_outside_untouched();
    assert!(!Path::new(&tmp_target).exists());
    assert!(!f.path("notes.txt").exists());
    assert_eq!(
        std::fs::read_to_string(f.path("repos/app/src/main.rs")).unwrap(),
        "fn main() {\n    println!(\"hi\");\n}\n"
    );
    assert_eq!(
        std::fs::read_to_string(f.path("scratch/ok.txt")).unwrap(),
        "fine"
    );
    let root = f.ws.root().display().to_string();
    assert_eq!(v["cwd"], json!(root));
    assert_eq!(v["home"], json!(format!("{root}/scratch/.tmp")));
    assert_eq!(v["isolated"], json!(1));
    assert_ne!(
        v["path0"],
        json!(""),
        "the workspace must not be on sys.path"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_run_on_separate_workers_up_to_the_limit() {
    let f = Fixture::new();
    // Each call waits for the other's file: they finish only if both run at once.
    let code = r#"
import os, time, uuid
ME = uuid.uuid4().hex
def main(me, other):
    open(f"scratch/{me}", "w").close()
    deadline = time.time() + 20
    while not os.path.exists(f"scratch/{other}"):
        if time.time() > deadline:
            raise TimeoutError("the other call never ran")
        time.sleep(0.01)
    return ME
"#;
    let spec = PythonFunctionSpec::new("rendezvous", "r", code)
        .param(ParamSpec::new("me", ParamType::String).required())
        .param(ParamSpec::new("other", ParamType::String).required());
    let t = tool(&f, spec);
    let (a, b) = tokio::join!(
        ok(&t, json!({"me": "a", "other": "b"})),
        ok(&t, json!({"me": "b", "other": "a"}))
    );
    assert_ne!(a, b, "two calls, two workers");
    assert_eq!(
        t.worker_pids().len(),
        2,
        "both workers are kept for later calls"
    );

    // With one worker, calls to the tool queue: the intervals do not overlap.
    let code = "import time, uuid\nME = uuid.uuid4().hex\ndef main():\n    s = time.time()\n    time.sleep(0.3)\n    return [ME, s, time.time()]\n";
    let config = PythonToolConfig {
        max_workers: 1,
        ..PythonToolConfig::default()
    };
    let t = tool_with(&f, PythonFunctionSpec::new("serial", "s", code), config);
    let (a, b) = tokio::join!(ok(&t, json!({})), ok(&t, json!({})));
    let a: (String, f64, f64) = serde_json::from_str(&a).unwrap();
    let b: (String, f64, f64) = serde_json::from_str(&b).unwrap();
    assert_eq!(a.0, b.0);
    assert!(a.2 <= b.1 || b.2 <= a.1, "{a:?} {b:?} overlap");
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_are_reused_across_calls_and_sessions() {
    let f = Fixture::new();
    let code = "import uuid\nME = uuid.uuid4().hex\nCOUNT = [0]\ndef main():\n    COUNT[0] += 1\n    return [ME, COUNT[0]]\n";
    let t = tool(&f, PythonFunctionSpec::new("counter", "c", code));
    let mut ctx = ToolContext::detached("1");
    let first = t.call(json!({}), &ctx).await.unwrap().content;
    ctx.session_id = "another-session".into();
    let second = t.call(json!({}), &ctx).await.unwrap().content;
    let a: (String, u32) = serde_json::from_str(&first).unwrap();
    let b: (String, u32) = serde_json::from_str(&second).unwrap();
    assert_eq!((a.0, a.1), (b.0, 1), "same worker, code loaded once");
    assert_eq!(b.1, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancellation_and_drop_kill_a_blocked_call() {
    let f = Fixture::new();
    let code = r#"
import time
def main(tag):
    if tag == "warm":
        return "idle"
    with open(f"scratch/{tag}", "w") as fh:
        fh.write("blocked\n")
    time.sleep(1000)
"#;
    let spec = PythonFunctionSpec::new("blocker", "b", code)
        .param(ParamSpec::new("tag", ParamType::String).required());
    let t = tool(&f, spec);
    // A first call leaves an idle worker, whose host PID the blocked call then runs on.
    ok(&t, json!({"tag": "warm"})).await;
    let pid = one_pid(&t);
    let ctx = ToolContext::detached("c");
    let cancel = ctx.cancel.clone();
    let t2 = t.clone();
    let task = tokio::spawn(async move { t2.call(json!({"tag": "cancel"}), &ctx).await });
    wait_file(&f.path("scratch/cancel")).await;
    assert!(t.worker_pids().is_empty(), "the worker is busy");
    cancel.cancel();
    let res = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(res, Err(ToolError::Cancelled));
    assert!(wait_dead(pid).await, "cancelled worker survived");

    // Dropping the call's future (e.g. the loop gave up on it) kills the worker too.
    ok(&t, json!({"tag": "warm"})).await;
    let pid = one_pid(&t);
    let t3 = t.clone();
    let call = async move {
        t3.call(json!({"tag": "drop"}), &ToolContext::detached("d"))
            .await
    };
    let drop_file = f.path("scratch/drop");
    tokio::select! {
        _ = call => panic!("the call cannot finish"),
        _ = wait_file(&drop_file) => {}
    };
    assert!(wait_dead(pid).await, "worker of a dropped call survived");
    assert!(t.worker_pids().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn code_that_fails_to_load_is_reported() {
    let f = Fixture::new();
    let t = tool(
        &f,
        PythonFunctionSpec::new("broken", "b", "def main(:\n    pass\n"),
    );
    let m = invalid(&t, json!({})).await;
    assert!(
        m.contains("the code of Python tool `broken` failed to load: SyntaxError"),
        "{m}"
    );
    let t = tool(
        &f,
        PythonFunctionSpec::new("nomain", "n", "def run():\n    return 1\n"),
    );
    let m = invalid(&t, json!({})).await;
    assert!(m.contains("the code defines no function `main`"), "{m}");
    let t = tool(
        &f,
        PythonFunctionSpec::new(
            "noimport",
            "n",
            "import no_such_module_xyz\ndef main():\n    return 1\n",
        ),
    );
    let m = invalid(&t, json!({})).await;
    assert!(
        m.contains("ModuleNotFoundError: No module named 'no_such_module_xyz'"),
        "{m}"
    );
    // An async entry point is awaited.
    let t = tool(
        &f,
        PythonFunctionSpec::new("asyncy", "a", "async def main():\n    return 'awaited'\n"),
    );
    assert_eq!(ok(&t, json!({})).await, "awaited");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_near_its_cpu_limit_is_replaced() {
    let f = Fixture::new();
    let exec = Executor::new(
        f.ws.clone(),
        ExecConfig {
            limits: ResourceLimits {
                cpu_seconds: Some(2),
                ..ResourceLimits::default()
            },
            ..ExecConfig::default()
        },
    );
    let code = "import time, uuid\nME = uuid.uuid4().hex\ndef main(burn=0.0):\n    end = time.process_time() + burn\n    while time.process_time() < end:\n        pass\n    return ME\n";
    let spec = PythonFunctionSpec::new("burner", "b", code)
        .param(ParamSpec::new("burn", ParamType::Number));
    let t = PythonFunctionTool::new(spec, exec, f.base.path().join("cache")).unwrap();
    let first = ok(&t, json!({})).await;
    // Over half of RLIMIT_CPU used: retired after answering, before SIGXCPU kills it mid-call.
    assert_eq!(ok(&t, json!({"burn": "1.2"})).await, first);
    assert!(t.worker_pids().is_empty());
    assert_ne!(ok(&t, json!({})).await, first);
}

#[test]
fn spec_errors_name_the_problem() {
    let f = Fixture::new();
    let exec = Executor::new(f.ws.clone(), ExecConfig::default());
    let build = |spec: PythonFunctionSpec| {
        PythonFunctionTool::new(spec, exec.clone(), "/nonexistent")
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let base = || PythonFunctionSpec::new("t", "d", "def main(**kw):\n    return kw\n");
    let e = build(base().param(ParamSpec::new("class", ParamType::String)));
    assert!(
        e.contains("parameter `class` is not a Python identifier"),
        "{e}"
    );
    let e = build(
        base()
            .param(ParamSpec::new("a", ParamType::String))
            .param(ParamSpec::new("a", ParamType::Integer)),
    );
    assert!(e.contains("parameter `a` is declared twice"), "{e}");
    let e = build(
        base().param(ParamSpec::new("port", ParamType::Integer).with_default(json!("https"))),
    );
    assert!(
        e.contains("the default of parameter `port`: expected an integer"),
        "{e}"
    );
    let e = build(base().dependencies(["--index-url=http://evil.invalid"]));
    assert!(
        e.contains("dependency `--index-url=http://evil.invalid` is not a pip requirement"),
        "{e}"
    );
    let e = build(PythonFunctionSpec::new("bad name", "d", "x"));
    assert!(
        e.starts_with("Python tool `bad name`: the name must be"),
        "{e}"
    );
    let e = build(base().timeout(Duration::ZERO));
    assert!(e.contains("timeout"), "{e}");
}

#[test]
fn the_tool_spec_comes_from_the_parameters() {
    let f = Fixture::new();
    let spec = PythonFunctionSpec::new("check_tls", "Check a certificate.", TLS_SHAPED)
        .param(
            ParamSpec::new("domain", ParamType::String)
                .required()
                .describe("Host name"),
        )
        .param(ParamSpec::new("port", ParamType::Integer).with_default(json!("443")));
    let t = tool(&f, spec.clone());
    assert_eq!(t.spec().name, "check_tls");
    assert_eq!(
        t.spec().input_schema,
        json!({
            "type": "object",
            "properties": {
                "domain": {"type": "string", "description": "Host name"},
                "port": {"type": "integer", "default": 443},
            },
            "required": ["domain"],
            "additionalProperties": false,
        })
    );
    assert_eq!(t.annotations(), ToolAnnotations::unrestricted());
    let t = tool(
        &f,
        spec.annotations(ToolAnnotations::read_only().with_open_world(true)),
    );
    assert!(t.annotations().read_only && t.annotations().open_world);
}

/// `six==1.16.0` from PyPI, installed once into `<cache>/python-envs/<hash>` although two
/// tools (listing the same dependencies in another order) make their first calls at once.
#[tokio::test(flavor = "multi_thread")]
async fn dependencies_are_installed_once_and_shared() {
    let f = Fixture::new();
    let code = "import six, sys\ndef main():\n    return [six.__version__, sys.prefix]\n";
    let a = tool(
        &f,
        PythonFunctionSpec::new("uses_six_a", "a", code).dependencies(["six==1.16.0", "pip"]),
    );
    let b = tool(
        &f,
        PythonFunctionSpec::new("uses_six_b", "b", code).dependencies(["pip", " six==1.16.0"]),
    );
    let start = Instant::now();
    let (ra, rb) = tokio::join!(ok(&a, json!({})), ok(&b, json!({})));
    let first_calls = start.elapsed();
    let ra: (String, String) = serde_json::from_str(&ra).unwrap();
    let rb: (String, String) = serde_json::from_str(&rb).unwrap();
    assert_eq!(ra.0, "1.16.0");
    assert_eq!(ra, rb, "both tools run in the same environment");
    let envs = f.base.path().join("cache/python-envs");
    assert!(ra.1.starts_with(&envs.display().to_string()), "{ra:?}");
    let logs: Vec<_> = std::fs::read_dir(&envs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    assert_eq!(log.lines().count(), 1, "installed more than once: {log}");
    assert!(log.starts_with("installed [pip, six==1.16.0] in "), "{log}");

    // A third tool with the same dependencies finds the environment ready.
    let c = tool(
        &f,
        PythonFunctionSpec::new("uses_six_c", "c", code).dependencies(["six==1.16.0", "pip"]),
    );
    let env = c.environment(&Default::default()).await.unwrap().unwrap();
    assert!(!env.installed_now);
    let start = Instant::now();
    assert!(ok(&c, json!({})).await.contains("1.16.0"));
    let warm = start.elapsed();
    assert_eq!(std::fs::read_to_string(&logs[0]).unwrap(), log);
    eprintln!(
        "first calls (install): {first_calls:?}; a new tool on the ready environment: {warm:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_install_names_the_dependency_and_pips_message() {
    let f = Fixture::new();
    let spec = PythonFunctionSpec::new("bad_dep", "b", "def main():\n    return 1\n")
        .dependencies(["six==1.16.0", "not a valid requirement!!"]);
    let t = tool(&f, spec);
    let m = invalid(&t, json!({})).await;
    assert!(m.contains("installing the Python dependencies [not a valid requirement!!, six==1.16.0] failed (pip install)"), "{m}");
    assert!(
        m.contains("Invalid requirement: 'not a valid requirement!!'"),
        "{m}"
    );
    // No ready marker, no install record: the next call rebuilds the half-made environment.
    let envs = f.base.path().join("cache/python-envs");
    for entry in std::fs::read_dir(&envs).unwrap() {
        let path = entry.unwrap().path();
        assert!(
            !path.join(sre_tools::python::env::READY_MARKER).exists(),
            "{}",
            path.display()
        );
        assert!(
            path.extension().is_none_or(|x| x != "log"),
            "{}",
            path.display()
        );
    }
}
