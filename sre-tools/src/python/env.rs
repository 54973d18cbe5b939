//! Cached virtual environments for Python tools' `dependencies`.
//!
//! One environment per (interpreter build, sorted dependency list), at
//! `<cache>/python-envs/<hash>`, created with `python -m venv` and filled with `pip install`
//! once. A file lock (`<hash>.lock`) makes concurrent first calls (in this process or
//! another) install once: the first takes the lock and installs, the others wait, then find
//! the ready marker. A half-made environment (a killed install) has no marker and is rebuilt.
//! Every completed install appends a line to `<hash>.log`.
//!
//! The install runs through the tool's [`Executor`] (scrubbed environment, rlimits, process
//! group, timeout, cancellation) with Landlock allowing writes only under
//! `<cache>/python-envs` (the environment, pip's cache, a temp dir).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::exec::{ExecOutcome, ExecRequest, Executor, ExitKind};
use crate::files::off_runtime;

/// Host variables pip may need to reach the package index (passed to the install only).
const PIP_PASS_ENV: &[&str] = &[
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "PIP_CERT",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
];

/// Name of the file that marks an environment as complete.
pub const READY_MARKER: &str = ".sre-ready";

/// A virtual environment holding a tool's dependencies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonEnv {
    /// The environment's directory (`<cache>/python-envs/<hash>`).
    pub dir: PathBuf,
    /// Its interpreter (`<dir>/bin/python`).
    pub python: PathBuf,
    /// Whether this call installed it (false: it was already there).
    pub installed_now: bool,
}

/// The environment for `dependencies` (installed on first use) under `cache_dir`, built
/// from `interpreter`. `dependencies` must be pip requirement specifiers (the caller has
/// refused option-like ones).
pub async fn prepare_env(
    exec: &Executor,
    interpreter: &str,
    dependencies: &[String],
    cache_dir: &Path,
    install_timeout: Duration,
    cancel: &CancellationToken,
) -> Result<PythonEnv> {
    let mut deps: Vec<String> = dependencies.iter().map(|d| d.trim().to_string()).collect();
    deps.sort();
    deps.dedup();
    let listed = deps.join(", ");
    let fail = |step: &str, message: String| Error::DependencyInstall {
        dependencies: listed.clone(),
        step: step.to_string(),
        message,
    };
    let root = cache_dir.join("python-envs");
    let probe = run_step(
        exec,
        ExecRequest::new(
            interpreter,
            vec![
                "-I".into(),
                "-c".into(),
                "import sys, platform; print(sys.version); print(platform.machine()); \
                 print(getattr(sys, '_base_executable', sys.executable))"
                    .into(),
            ],
            exec.workspace().root().to_path_buf(),
        ),
        None,
        cancel,
    )
    .await
    .map_err(|e| fail("probing the interpreter", e))?;
    let key = env_key(probe.stdout.render().trim(), &deps);
    let dir = root.join(&key);
    let python = dir.join("bin").join("python");

    let lock_path = root.join(format!("{key}.lock"));
    let root_c = root.clone();
    let lock = off_runtime(move || {
        std::fs::create_dir_all(&root_c)
            .map_err(|e| Error::io("creating", root_c.display().to_string(), e))?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io("opening", lock_path.display().to_string(), e))?;
        file.lock()
            .map_err(|e| Error::io("locking", lock_path.display().to_string(), e))?;
        Ok(file)
    })
    .await
    .map_err(|e| fail("locking the cache", e.to_string()))?;

    let marker = dir.join(READY_MARKER);
    let ready = tokio::fs::metadata(&marker).await.is_ok();
    if ready {
        drop(lock);
        return Ok(PythonEnv {
            dir,
            python,
            installed_now: false,
        });
    }
    let start = Instant::now();
    if tokio::fs::metadata(&dir).await.is_ok() {
        tokio::fs::remove_dir_all(&dir)
            .await
            .map_err(|e| fail("removing a half-made environment", e.to_string()))?;
    }
    let confined = |program: &str, args: Vec<String>| {
        let mut req = ExecRequest::new(program, args, root.clone());
        req.timeout = Some(install_timeout);
        req.env = PIP_PASS_ENV
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        req.env.push((
            "PIP_CACHE_DIR".into(),
            root.join(".pip-cache").display().to_string(),
        ));
        req
    };
    let dir_arg = dir.display().to_string();
    run_step(
        exec,
        confined(
            interpreter,
            vec!["-I".into(), "-m".into(), "venv".into(), dir_arg],
        ),
        Some(&root),
        cancel,
    )
    .await
    .map_err(|e| fail("python -m venv", e))?;
    let mut pip: Vec<String> = [
        "-I",
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    pip.extend(deps.iter().cloned());
    run_step(
        exec,
        confined(&python.display().to_string(), pip),
        Some(&root),
        cancel,
    )
    .await
    .map_err(|e| fail("pip install", e))?;

    let took = start.elapsed();
    let log_path = root.join(format!("{key}.log"));
    let line = format!("installed [{listed}] in {:.1}s\n", took.as_secs_f64());
    let deps_text = deps.join("\n") + "\n";
    off_runtime(move || {
        std::fs::write(&marker, deps_text)
            .map_err(|e| Error::io("writing", marker.display().to_string(), e))?;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Error::io("opening", log_path.display().to_string(), e))?;
        log.write_all(line.as_bytes())
            .map_err(|e| Error::io("writing", log_path.display().to_string(), e))?;
        drop(lock);
        Ok(())
    })
    .await
    .map_err(|e| fail("recording the environment", e.to_string()))?;
    Ok(PythonEnv {
        dir,
        python,
        installed_now: true,
    })
}

/// The environment's directory name: a hash of the interpreter build and the sorted,
/// deduplicated dependency list.
fn env_key(interpreter: &str, sorted_deps: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(b"sre-tools python env v1\n");
    h.update(interpreter.as_bytes());
    for d in sorted_deps {
        h.update(b"\n");
        h.update(d.as_bytes());
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Run one step; its output tail is the error when it fails.
async fn run_step(
    exec: &Executor,
    req: ExecRequest,
    writable_root: Option<&Path>,
    cancel: &CancellationToken,
) -> std::result::Result<ExecOutcome, String> {
    let (writable, home) = match writable_root {
        Some(root) => (Some(vec![root.to_path_buf()]), Some(root.join(".tmp"))),
        None => (None, None),
    };
    // The install reaches the package index even for a tool whose calls have no network:
    // its dependencies are the operator's declaration, not the model's.
    let exec = exec.with_network(crate::namespace::Network::On);
    let outcome = exec
        .run_with(req, writable, home, cancel)
        .await
        .map_err(|e| e.to_string())?;
    if outcome.success() {
        return Ok(outcome);
    }
    let status = match outcome.exit {
        ExitKind::Code(c) => format!("exit code {c}"),
        ExitKind::Signal(s) => format!("killed by signal {s}"),
        ExitKind::TimedOut(t) => format!("timed out after {}s", t.as_secs()),
    };
    let text = if outcome.stderr.total() > 0 {
        outcome.stderr.render()
    } else {
        outcome.stdout.render()
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(12)..].join("\n");
    Err(format!("{status}\n{tail}"))
}

#[cfg(test)]
mod tests {
    use super::env_key;

    #[test]
    fn the_key_depends_on_interpreter_and_dependencies() {
        let deps = vec!["a==1".to_string(), "b".to_string()];
        let k = env_key("3.11.7 x86_64", &deps);
        assert_eq!(k.len(), 16);
        assert_eq!(k, env_key("3.11.7 x86_64", &deps));
        assert_ne!(k, env_key("3.12.1 x86_64", &deps));
        assert_ne!(k, env_key("3.11.7 x86_64", &deps[..1]));
    }
}
