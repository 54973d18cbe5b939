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
use sre_tools::{MountMode, Workspace};

pub struct Fixture {
    pub root: tempfile::TempDir,
    pub outside: tempfile::TempDir,
    pub ws: Workspace,
    pub tools: Vec<Arc<dyn Tool>>,
}

impl Fixture {
    /// root/ with repos/app (read-only, with a file), scratch (writable), logs (read-only);
    /// `outside` is a sibling temp dir that must never be touched.
    pub fn new() -> Self {
        Self::with(false)
    }

    pub fn with(rooted: bool) -> Self {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
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
        let tools = ws.tools().unwrap();
        Fixture {
            root,
            outside,
            ws,
            tools,
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
