//! A small sample service on disk to investigate: a git repository with dated commits (one
//! of which introduces the bug), an application log showing the failure, and a deployment
//! history. Everything is deterministic, so a scripted investigation can check its evidence.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Where the pieces of the sample workspace live, relative to its root.
pub const REPO: &str = "repos/checkout-api";
/// The service log.
pub const LOG: &str = "logs/checkout-api.log";
/// The deployment history.
pub const DEPLOYS: &str = "deploy/history.log";

/// Build the sample workspace under `root` (which must be empty or absent).
pub fn build(root: &Path) -> Result<PathBuf> {
    if root.exists() && std::fs::read_dir(root)?.next().is_some() {
        bail!("{} is not empty", root.display());
    }
    let repo = root.join(REPO);
    std::fs::create_dir_all(&repo)?;
    git(&repo, &["init", "-q", "-b", "main"], None)?;
    git(&repo, &["config", "user.name", "Dana Ops"], None)?;
    git(&repo, &["config", "user.email", "dana@example.com"], None)?;

    write(
        &repo,
        "README.md",
        "# checkout-api\n\nHandles POST /payments for the storefront. Python 3.11, PostgreSQL.\n",
    )?;
    write(
        &repo,
        "AGENTS.md",
        "Production config lives in config/production.yaml. The reconciler runs 16 workers.\n",
    )?;
    write(&repo, "config/production.yaml", &production_yaml(50))?;
    write(&repo, "app/db.py", DB_PY)?;
    write(&repo, "app/handlers.py", HANDLERS_PY)?;
    write(&repo, "app/reconciler.py", RECONCILER_V1)?;
    commit(
        &repo,
        "checkout-api: initial service",
        "2026-11-10T09:00:00Z",
    )?;
    git(&repo, &["tag", "v1.4.0"], None)?;

    write(
        &repo,
        "app/handlers.py",
        &HANDLERS_PY.replace("def create_payment(request):", IDEMPOTENCY),
    )?;
    commit(
        &repo,
        "Add idempotency keys to POST /payments",
        "2026-11-18T16:30:00Z",
    )?;
    git(&repo, &["tag", "v1.4.1"], None)?;

    write(&repo, "config/production.yaml", &production_yaml(5))?;
    write(&repo, "app/reconciler.py", RECONCILER_V2)?;
    commit(
        &repo,
        "Cut RDS cost: fewer DB connections; reconcile each batch in one session",
        "2026-11-20T13:40:00Z",
    )?;
    git(&repo, &["tag", "v1.5.0"], None)?;

    write(
        &repo,
        "README.md",
        "# checkout-api\n\nHandles POST /payments for the storefront. Python 3.11, PostgreSQL.\nOn-call: #payments-oncall.\n",
    )?;
    commit(&repo, "docs: on-call channel", "2026-11-21T10:00:00Z")?;

    let sha = |rev: &str| git(&repo, &["rev-parse", "--short=12", rev], None);
    let deploys = format!(
        "2026-11-10T09:30:12Z deploy checkout-api v1.4.0 commit={} by=ci status=success\n\
         2026-11-18T17:02:40Z deploy checkout-api v1.4.1 commit={} by=ci status=success\n\
         2026-11-20T13:58:03Z deploy checkout-api v1.5.0 commit={} by=ci status=success rollout_complete=2026-11-20T14:01:40Z\n",
        sha("v1.4.0")?,
        sha("v1.4.1")?,
        sha("v1.5.0")?
    );
    write(root, DEPLOYS, &deploys)?;
    write(root, LOG, &service_log())?;
    std::fs::create_dir_all(root.join("scratch"))?;
    Ok(root.to_path_buf())
}

/// The figures an investigation of the sample log should report, computed from the log
/// itself (so a scripted answer can be checked against the data it claims to describe).
#[derive(Clone, Debug, PartialEq)]
pub struct LogFacts {
    /// `PoolTimeoutError` lines.
    pub pool_timeouts: usize,
    /// `POST /payments 503` responses.
    pub http_503: usize,
    /// Timestamp of the first `PoolTimeoutError`.
    pub first_timeout: String,
    /// Highest `waiters=` value.
    pub max_waiters: u32,
    /// Slow ledger calls logged with `holding_db_conn=true`.
    pub slow_ledger_calls: usize,
    /// Shortest and longest of those calls, as logged (e.g. `9.1`).
    pub slow_ledger_range: (String, String),
}

impl LogFacts {
    /// Read the figures off a log written by [`build`].
    pub fn from_log(log: &str) -> Self {
        let mut facts = LogFacts {
            pool_timeouts: 0,
            http_503: 0,
            first_timeout: String::new(),
            max_waiters: 0,
            slow_ledger_calls: 0,
            slow_ledger_range: (String::new(), String::new()),
        };
        let mut durations: Vec<(f64, String)> = Vec::new();
        for line in log.lines() {
            if line.contains("PoolTimeoutError") {
                facts.pool_timeouts += 1;
                if facts.first_timeout.is_empty() {
                    facts.first_timeout = line.split(' ').next().unwrap_or_default().to_string();
                }
                if let Some(w) = line
                    .split("waiters=")
                    .nth(1)
                    .and_then(|r| r.trim_end_matches(')').parse::<u32>().ok())
                {
                    facts.max_waiters = facts.max_waiters.max(w);
                }
            }
            if line.contains("POST /payments 503") {
                facts.http_503 += 1;
            }
            if line.contains("holding_db_conn=true") {
                facts.slow_ledger_calls += 1;
                if let Some(d) = line.split("took ").nth(1).and_then(|r| r.split('s').next()) {
                    durations.push((d.parse().unwrap_or(0.0), d.to_string()));
                }
            }
        }
        durations.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let (Some(min), Some(max)) = (durations.first(), durations.last()) {
            facts.slow_ledger_range = (min.1.clone(), max.1.clone());
        }
        facts
    }
}

fn production_yaml(pool: u32) -> String {
    format!(
        "service: checkout-api\nregion: eastus2\ndb_pool_max: {pool}\ndb_pool_timeout_s: 2\nreconciler_workers: 16\nledger_timeout_s: 30\n"
    )
}

/// A deterministic log: healthy traffic, then the rollout, then pool exhaustion.
fn service_log() -> String {
    let mut out = String::new();
    for i in 0..1200u32 {
        let secs = 13 * 3600 + 50 * 60 + i; // from 13:50:00, one line a second
        let ts = format!(
            "2026-11-20T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        let after = secs >= 14 * 3600 + 2 * 60 + 5;
        if after && i % 3 == 0 {
            out.push_str(&format!(
                "{ts} ERROR api.handlers create_payment PoolTimeoutError: timed out waiting for connection (pool_size=5, in_use=5, waiters={})\n",
                20 + i % 70
            ));
            out.push_str(&format!(
                "{ts} INFO  api.access POST /payments 503 2004ms\n"
            ));
        } else if after && i % 10 == 1 {
            out.push_str(&format!(
                "{ts} WARN  workers.reconciler slow ledger call took {}.{}s holding_db_conn=true\n",
                8 + (i / 10) % 20,
                (i / 7) % 10
            ));
        } else {
            out.push_str(&format!(
                "{ts} INFO  api.access POST /payments 201 {}ms\n",
                40 + i % 30
            ));
        }
    }
    out
}

fn write(dir: &Path, rel: &str, text: &str) -> Result<()> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

fn commit(repo: &Path, message: &str, date: &str) -> Result<()> {
    git(repo, &["add", "-A"], None)?;
    git(repo, &["commit", "-q", "-m", message], Some(date))?;
    Ok(())
}

fn git(repo: &Path, args: &[&str], date: Option<&str>) -> Result<String> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(repo).args(args);
    cmd.env("GIT_AUTHOR_NAME", "Dana Ops")
        .env("GIT_AUTHOR_EMAIL", "dana@example.com");
    cmd.env("GIT_COMMITTER_NAME", "Dana Ops")
        .env("GIT_COMMITTER_EMAIL", "dana@example.com");
    if let Some(d) = date {
        cmd.env("GIT_AUTHOR_DATE", d).env("GIT_COMMITTER_DATE", d);
    }
    let out = cmd.output().context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

const DB_PY: &str = r#""""Connection pool for the payments database."""
import os
import queue
import time

DB_POOL_MAX = int(os.environ.get("DB_POOL_MAX", "50"))
DB_POOL_TIMEOUT_S = float(os.environ.get("DB_POOL_TIMEOUT_S", "2"))


class PoolTimeoutError(RuntimeError):
    """No connection became free within DB_POOL_TIMEOUT_S."""


class Pool:
    def __init__(self, factory, size=DB_POOL_MAX, timeout_s=DB_POOL_TIMEOUT_S):
        self._factory, self._size, self._timeout = factory, size, timeout_s
        self._free, self._in_use = queue.LifoQueue(), 0

    def acquire(self):
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if not self._free.empty():
                self._in_use += 1
                return self._free.get_nowait()
            if self._in_use < self._size:
                self._in_use += 1
                return self._factory()
            time.sleep(0.01)
        raise PoolTimeoutError(f"timed out waiting for connection (pool_size={self._size}, in_use={self._in_use})")

    def release(self, conn):
        self._in_use -= 1
        self._free.put_nowait(conn)
"#;

const HANDLERS_PY: &str = r#""""HTTP handlers."""
from app.db import PoolTimeoutError, pool


def create_payment(request):
    try:
        conn = pool.acquire()
    except PoolTimeoutError:
        return 503, {"error": "database busy"}
    try:
        return 201, conn.insert_payment(request.json)
    finally:
        pool.release(conn)
"#;

const IDEMPOTENCY: &str =
    "def create_payment(request):\n    key = request.headers.get(\"Idempotency-Key\")";

const RECONCILER_V1: &str = r#""""Reconciles payments with the ledger, 16 workers."""
from app.db import pool
from app.ledger import fetch_batch


def reconcile_once():
    batch = fetch_batch(timeout_s=30)  # slow HTTP call, no DB connection held
    conn = pool.acquire()
    try:
        conn.mark_reconciled(batch)
    finally:
        pool.release(conn)
"#;

const RECONCILER_V2: &str = r#""""Reconciles payments with the ledger, 16 workers."""
from app.db import pool
from app.ledger import fetch_batch


def reconcile_once():
    conn = pool.acquire()
    try:
        batch = fetch_batch(timeout_s=30)  # now inside the session: holds a connection
        conn.mark_reconciled(batch)
    finally:
        pool.release(conn)
"#;
