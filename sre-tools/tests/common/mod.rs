#![allow(
    dead_code,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sre_core::{Tool, ToolContext, ToolError, ToolOutput};
use sre_tools::{ExecConfig, MountMode, Workspace};

pub struct Fixture {
    pub root: tempfile::TempDir,
    pub outside: tempfile::TempDir,
    pub ws: Workspace,
    pub tools: Vec<Arc<dyn Tool>>,
    /// Private parent of `root` and `outside`: what a test finds next to the workspace
    /// (`../x`) never depends on what else is in the machine's temp dir.
    pub base: tempfile::TempDir,
}

impl Fixture {
    /// root/ with repos/app (read-only, with a file), scratch (writable), logs (read-only);
    /// `outside` is a sibling temp dir that must never be touched.
    pub fn new() -> Self {
        Self::with(false)
    }

    pub fn with(rooted: bool) -> Self {
        Self::configured(rooted, ExecConfig::default())
    }

    /// The fixture with commands confined by Landlock alone (the fallback of a host
    /// without bubblewrap or user namespaces).
    pub fn landlock_only() -> Self {
        Self::configured(false, landlock_only())
    }

    pub fn configured(rooted: bool, exec: ExecConfig) -> Self {
        let base = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir_in(base.path()).unwrap();
        let outside = tempfile::tempdir_in(base.path()).unwrap();
        std::fs::create_dir_all(root.path().join("repos/app/src")).unwrap();
        std::fs::write(
            root.path().join("repos/app/src/main.rs"),
            "fn main() {\n    println!(\"hi\");\n}\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.path().join("logs")).unwrap();
        std::fs::write(
            root.path().join("logs/app.log"),
            "line one\nERROR boom\nline three\n",
        )
        .unwrap();
        std::fs::write(outside.path().join("secret.txt"), "outside secret\n").unwrap();
        let ws = Workspace::builder(root.path())
            .mount("repos/app", MountMode::ReadOnly)
            .mount("logs", MountMode::ReadOnly)
            .mount("scratch", MountMode::Writable)
            .rooted_paths(rooted)
            .build()
            .unwrap();
        let tools = sre_tools::ToolSet::new(ws.clone())
            .exec_config(exec)
            .build()
            .unwrap();
        Fixture {
            root,
            outside,
            ws,
            tools,
            base,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    pub fn tool(&self, name: &str) -> Arc<dyn Tool> {
        self.tools
            .iter()
            .find(|t| t.spec().name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no tool {name}"))
    }

    pub async fn call(&self, name: &str, input: Value) -> Result<ToolOutput, ToolError> {
        self.tool(name)
            .call(input, &ToolContext::detached("t"))
            .await
    }

    pub async fn ok(&self, name: &str, input: Value) -> String {
        let out = self
            .call(name, input.clone())
            .await
            .unwrap_or_else(|e| panic!("{name} {input}: {e}"));
        assert!(!out.is_error, "{name} {input} failed: {}", out.content);
        out.content
    }

    pub async fn invalid(&self, name: &str, input: Value) -> String {
        match self.call(name, input.clone()).await {
            Err(ToolError::Invalid(m)) => m,
            other => panic!("{name} {input}: expected Invalid, got {other:?}"),
        }
    }

    /// The outside dir still holds exactly its one file, unchanged.
    pub fn assert_outside_untouched(&self) {
        let names: Vec<_> = std::fs::read_dir(self.outside.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("secret.txt")],
            "outside dir changed"
        );
        assert_eq!(
            std::fs::read_to_string(self.outside.path().join("secret.txt")).unwrap(),
            "outside secret\n"
        );
    }
}

/// Whether `pid` is gone (no /proc entry, or a zombie that no longer runs).
pub fn pid_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("");
            state == "Z" || state == "X"
        }
    }
}

/// Wait (bounded) until `pid` is dead: SIGKILL delivery is asynchronous.
pub async fn wait_dead(pid: u32) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if pid_dead(pid) {
            return true;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    false
}

/// An executor configuration without namespaces: Landlock alone confines commands.
pub fn landlock_only() -> ExecConfig {
    let mut config = ExecConfig::default();
    config.namespaces.enabled = false;
    config
}

/// Whether commands run in namespaces here by default (bubblewrap works on this host).
/// With `SRE_REQUIRE_NAMESPACES` set (scripts/test.sh sets it), a host without them is a
/// failure, not a skip.
pub fn namespaces_here() -> bool {
    match sre_tools::namespace::available(std::path::Path::new("bwrap")) {
        Ok(()) => true,
        Err(why) => {
            assert!(
                std::env::var_os("SRE_REQUIRE_NAMESPACES").is_none(),
                "namespaces are required here (SRE_REQUIRE_NAMESPACES) but unavailable: {why}"
            );
            false
        }
    }
}

/// A marker unique to this call, for finding a test's processes on the host by their
/// command line (PIDs seen inside a PID namespace mean nothing outside it).
pub fn marker() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    format!(
        "{}{:04}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Host PIDs of the live processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me || pid_dead(pid) {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(marker)
        {
            found.push(pid);
        }
    }
    found
}

/// Wait (bounded) until no process with `marker` in its command line is left.
pub async fn wait_gone(marker: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if processes_with(marker).is_empty() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    false
}

pub fn landlock_expected() -> bool {
    sre_tools::landlock_abi().is_some()
}

pub fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Read one line from a fifo (blocks until a writer writes it).
pub async fn read_fifo(path: PathBuf) -> String {
    tokio::task::spawn_blocking(move || std::fs::read_to_string(path).unwrap())
        .await
        .unwrap()
}

/// Await `work` on the current (current-thread) runtime while a ticker task on the same
/// thread wakes every 2 ms. Returns the work's output, its duration and the ticker's worst
/// lateness during it: blocking work on the runtime thread shows up as lateness close to
/// the work's duration, work moved to the blocking pool as lateness close to zero.
pub async fn lateness_during<F: std::future::Future>(
    work: F,
) -> (F::Output, std::time::Duration, std::time::Duration) {
    use std::time::{Duration, Instant};
    const TICK: Duration = Duration::from_millis(2);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let flag = stop.clone();
    let ticker = tokio::spawn(async move {
        let mut started = Some(started_tx);
        let mut worst = Duration::ZERO;
        let mut due = tokio::time::Instant::now() + TICK;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            tokio::time::sleep_until(due).await;
            let now = tokio::time::Instant::now();
            if let Some(tx) = started.take() {
                let _ = tx.send(());
            } else {
                worst = worst.max(now - due);
            }
            due = now + TICK;
        }
        worst
    });
    started_rx.await.unwrap();
    let start = Instant::now();
    let out = work.await;
    let took = start.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let worst = ticker.await.unwrap();
    (out, took, worst)
}

/// A current-thread runtime (one thread runs every task: any blocking call stalls them all).
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Set in the environment of a test binary run again as an unprivileged user.
pub const AS_NOBODY: &str = "SRE_TOOLS_TESTS_AS_NOBODY";

/// Run `tests` of this test binary again as the unprivileged user `nobody` (`setpriv`), so
/// that what they prove as root is proved for an unprivileged user too; panics with their
/// output if any fails. Returns `false` (and says why) when that cannot be done here: not
/// root, already the rerun, no `setpriv`, or the binary not reachable by `nobody` (a
/// checkout under a private home).
pub fn rerun_as_nobody(tests: &[&str]) -> bool {
    if std::env::var_os(AS_NOBODY).is_some() || !rustix::process::geteuid().is_root() {
        return false;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&exe)
        .args(["--exact", "--test-threads=1"])
        .args(tests)
        .env(AS_NOBODY, "1")
        .env("HOME", "/tmp")
        .env("TMPDIR", "/tmp")
        .current_dir("/tmp")
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            eprintln!("not rerun as nobody: setpriv: {e}");
            return false;
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let unreachable = matches!(out.status.code(), Some(126 | 127))
        || (text.contains("Permission denied") && !text.contains("running "));
    if unreachable {
        eprintln!("not rerun as nobody (the test binary is not reachable):\n{text}");
        return false;
    }
    assert!(out.status.success(), "as nobody:\n{text}");
    let ran = tests.len();
    assert!(
        text.contains(&format!("{ran} passed")),
        "as nobody, not every test ran:\n{text}"
    );
    true
}
