//! The PostgreSQL lab of the reference team (`examples/team/lab/postgres-lab.sh`) for the
//! tests: a real server whose pool 17 idle transactions exhaust, stopped when dropped.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn script() -> PathBuf {
    crate::common::repo().join("examples/team/lab/postgres-lab.sh")
}

/// A running lab; stopped (its server and load) when dropped, the test passing or not.
pub struct Lab(PathBuf);

impl Lab {
    /// Start a lab in `dir` on `port`, its remediation script installed in `workspace`; on
    /// return its sessions have been idle for over 5 s (what the script ends).
    pub fn start(dir: &Path, port: u16, workspace: &Path) -> Lab {
        let out = Command::new(script())
            .arg("start")
            .arg(dir)
            .arg(port.to_string())
            .arg(workspace)
            .output()
            .unwrap();
        let lab = Lab(dir.to_path_buf());
        assert!(
            out.status.success(),
            "the lab did not start:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_secs(6));
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.0).status();
    }
}

/// What `psql` prints (stdout then stderr) for `sql` as `user` on database `orders`.
pub fn psql(port: u16, user: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-At", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", user, "-d", "orders", "-c", sql])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
