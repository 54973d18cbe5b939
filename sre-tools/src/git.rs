//! Point-in-time git investigation with the `git` binary: the commit live at a time, the log
//! of a window, the diff between commits, and a checkout of a commit into a writable mount
//! (`git archive | tar -x`, so the repository itself is never written).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use sre_core::{ToolAnnotations, ToolContext, ToolError, ToolOutput, TypedTool};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::exec::{ExecRequest, Executor};
use crate::files::{blocking, off_runtime};
use crate::timefmt::parse_time;
use crate::workspace::{Access, Workspace};

/// Runs git commands for the git tools.
#[derive(Clone, Debug)]
pub struct Git {
    exec: Executor,
}

impl Git {
    /// Git over `exec` (its workspace, sandbox and limits apply).
    pub fn new(exec: Executor) -> Self {
        Git { exec }
    }

    fn ws(&self) -> &Workspace {
        self.exec.workspace()
    }

    /// Resolve a repository path (path checks touch the disk: on the blocking pool).
    async fn repo(&self, repo: &str) -> Result<(PathBuf, String)> {
        let ws = self.ws().clone();
        let repo = repo.to_string();
        off_runtime(move || {
            let r = ws.resolve(&repo, Access::Read)?;
            if !r.host.is_dir() {
                return Err(Error::InvalidArgument(format!(
                    "repo `{}` is not a directory",
                    r.rel
                )));
            }
            Ok((r.host, r.rel))
        })
        .await
    }

    /// Run `git -C repo args...`; returns stdout, or a [`Error::Git`] with stderr.
    pub async fn run(
        &self,
        repo: &str,
        args: &[String],
        cancel: &CancellationToken,
    ) -> Result<String> {
        let (host, rel) = self.repo(repo).await?;
        let mut argv: Vec<String> = vec![
            "-c".into(),
            "safe.directory=*".into(),
            "-c".into(),
            "core.quotepath=off".into(),
            // A repository under investigation is untrusted: none of its config may run code.
            "-c".into(),
            "core.fsmonitor=false".into(),
            "-c".into(),
            "core.hooksPath=/dev/null".into(),
            "-c".into(),
            "diff.external=".into(),
            "-c".into(),
            "protocol.allow=never".into(),
            "--no-pager".into(),
            "-C".into(),
            host.to_string_lossy().into_owned(),
        ];
        argv.extend(args.iter().cloned());
        let req = ExecRequest::new("git", argv, host);
        let out = self.exec.run(req, cancel).await?;
        if out.success() {
            Ok(out.stdout.render())
        } else {
            Err(Error::Git {
                command: args.first().cloned().unwrap_or_default(),
                repo: rel,
                message: out.stderr.render().trim().to_string(),
            })
        }
    }
}

/// Refuse revisions that git could read as options or that are not a plain revision.
fn check_rev(what: &str, rev: &str) -> Result<()> {
    if rev.is_empty()
        || rev.starts_with('-')
        || rev.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::InvalidArgument(format!(
            "{what} `{rev}` is not a valid revision (no leading `-`, no spaces)"
        )));
    }
    Ok(())
}

/// A time argument as git's exact `@<unix seconds>` form.
fn git_time(what: &str, s: &str) -> Result<String> {
    let t = parse_time(s, SystemTime::now())
        .map_err(|e| Error::InvalidArgument(format!("{what}: {e}")))?;
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    Ok(format!("@{secs}"))
}

const LOG_FORMAT: &str = "--format=%H %cI %an: %s";

/// Arguments of `git_live_commit`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveCommitArgs {
    /// Repository directory relative to the workspace root (e.g. `repos/api`).
    pub repo: String,
    /// The moment: UTC timestamp (`2026-11-24T10:00:00Z`) or a duration ago (`2h`).
    pub at: String,
    /// Branch or ref whose history is used (default HEAD).
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
}

/// `git_live_commit`: the commit a branch pointed to at a given time.
#[derive(Clone, Debug)]
pub struct GitLiveCommit(pub Git);

#[async_trait]
impl TypedTool for GitLiveCommit {
    type Args = LiveCommitArgs;

    fn name(&self) -> &str {
        "git_live_commit"
    }

    fn description(&self) -> &str {
        "Find the commit that was live on a branch at a given time: the newest commit in the branch's \
         first-parent history whose committer date is at or before `at`. Output: `<sha> <committer date> <author>: <subject>`."
    }

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    async fn run(&self, args: LiveCommitArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let reference = args.reference.unwrap_or_else(|| "HEAD".into());
        check_rev("ref", &reference)?;
        let before = git_time("at", &args.at)?;
        let argv = vec![
            "log".into(),
            "-1".into(),
            "--first-parent".into(),
            LOG_FORMAT.into(),
            format!("--until={before}"),
            "--end-of-options".into(),
            reference.clone(),
            "--".into(),
        ];
        let out = self.0.run(&args.repo, &argv, &ctx.cancel).await?;
        let line = out.trim();
        if line.is_empty() {
            return Ok(ToolOutput::error(format!(
                "no commit on `{reference}` at or before {} (the branch's history starts later)",
                args.at
            )));
        }
        Ok(ToolOutput::ok(format!(
            "{line}\n[live on `{reference}` at {}: newest first-parent commit with committer date <= that time]",
            args.at
        )))
    }
}

/// Arguments of `git_log`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitLogArgs {
    /// Repository directory relative to the workspace root.
    pub repo: String,
    /// Window start (inclusive): UTC timestamp or duration ago (`6h`).
    #[serde(default)]
    pub since: Option<String>,
    /// Window end (inclusive): UTC timestamp or duration ago.
    #[serde(default)]
    pub until: Option<String>,
    /// Only commits touching this path (relative to the repository root).
    #[serde(default)]
    pub path: Option<String>,
    /// Branch or ref (default HEAD).
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    /// Most commits to show (default 50).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub max_count: Option<u32>,
}

/// `git_log`: commits in a time window.
#[derive(Clone, Debug)]
pub struct GitLog(pub Git);

#[async_trait]
impl TypedTool for GitLog {
    type Args = GitLogArgs;

    fn name(&self) -> &str {
        "git_log"
    }

    fn description(&self) -> &str {
        "List commits of a repository in a time window (committer dates, both ends inclusive), optionally \
         only those touching a path. One line per commit, newest first: `<sha> <committer date> <author>: <subject>`."
    }

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    async fn run(&self, args: GitLogArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let reference = args.reference.unwrap_or_else(|| "HEAD".into());
        check_rev("ref", &reference)?;
        let mut argv: Vec<String> = vec![
            "log".into(),
            LOG_FORMAT.into(),
            format!("-n{}", args.max_count.unwrap_or(50).clamp(1, 1000)),
        ];
        if let Some(s) = &args.since {
            argv.push(format!("--since={}", git_time("since", s)?));
        }
        if let Some(u) = &args.until {
            argv.push(format!("--until={}", git_time("until", u)?));
        }
        argv.push("--end-of-options".into());
        argv.push(reference);
        argv.push("--".into());
        if let Some(p) = &args.path {
            check_path(p)?;
            argv.push(p.clone());
        }
        let out = self.0.run(&args.repo, &argv, &ctx.cancel).await?;
        if out.trim().is_empty() {
            return Ok(ToolOutput::ok("[no commits in that window]"));
        }
        Ok(ToolOutput::ok(out))
    }
}

fn check_path(p: &str) -> Result<()> {
    if p.starts_with('/') || p.split('/').any(|c| c == "..") || p.contains('\0') {
        return Err(Error::InvalidArgument(format!(
            "path `{p}` must be relative to the repository root, without `..`"
        )));
    }
    Ok(())
}

/// Arguments of `git_diff`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitDiffArgs {
    /// Repository directory relative to the workspace root.
    pub repo: String,
    /// Old commit (sha, tag, branch, `HEAD~3`...).
    pub from: String,
    /// New commit (default HEAD).
    #[serde(default)]
    pub to: Option<String>,
    /// Only this path (relative to the repository root).
    #[serde(default)]
    pub path: Option<String>,
    /// Only a per-file summary of changed lines (`--stat`).
    #[serde(default)]
    pub stat: bool,
}

/// `git_diff`: the diff between two commits.
#[derive(Clone, Debug)]
pub struct GitDiff(pub Git);

#[async_trait]
impl TypedTool for GitDiff {
    type Args = GitDiffArgs;

    fn name(&self) -> &str {
        "git_diff"
    }

    fn description(&self) -> &str {
        "Show the unified diff between two commits of a repository (from..to), optionally for one path or \
         as a --stat summary. Use git_log or git_live_commit first to find the commits."
    }

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    async fn run(&self, args: GitDiffArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let to = args.to.unwrap_or_else(|| "HEAD".into());
        check_rev("from", &args.from)?;
        check_rev("to", &to)?;
        let mut argv: Vec<String> =
            vec!["diff".into(), "--no-color".into(), "--no-ext-diff".into()];
        if args.stat {
            argv.push("--stat".into());
        }
        argv.extend(["--end-of-options".into(), args.from, to, "--".into()]);
        if let Some(p) = &args.path {
            check_path(p)?;
            argv.push(p.clone());
        }
        let out = self.0.run(&args.repo, &argv, &ctx.cancel).await?;
        if out.is_empty() {
            return Ok(ToolOutput::ok("[no differences]"));
        }
        Ok(ToolOutput::ok(out))
    }
}

/// Arguments of `git_checkout`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitCheckoutArgs {
    /// Repository directory relative to the workspace root.
    pub repo: String,
    /// Commit to check out (sha, tag, branch...).
    pub commit: String,
    /// Destination directory in a writable mount (default `<first writable mount>/checkouts/<repo>-<short sha>`); must not exist or be empty.
    #[serde(default)]
    pub dest: Option<String>,
}

/// `git_checkout`: the tree of a commit, extracted into a writable mount.
#[derive(Clone, Debug)]
pub struct GitCheckout(pub Git);

#[async_trait]
impl TypedTool for GitCheckout {
    type Args = GitCheckoutArgs;

    fn name(&self) -> &str {
        "git_checkout"
    }

    fn description(&self) -> &str {
        "Extract the files of a commit into a directory of a writable mount (like a detached checkout, \
         but the repository itself is not touched), to read or grep the code as it was at that commit."
    }

    fn annotations(&self) -> ToolAnnotations {
        // Writes a worktree under scratch/; the same commit twice gives the same worktree.
        ToolAnnotations::idempotent_write()
    }

    async fn run(&self, args: GitCheckoutArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        check_rev("commit", &args.commit)?;
        let sha = self
            .0
            .run(
                &args.repo,
                &[
                    "rev-parse".into(),
                    "--verify".into(),
                    "--end-of-options".into(),
                    format!("{}^{{commit}}", args.commit),
                ],
                &ctx.cancel,
            )
            .await?
            .trim()
            .to_string();
        let ws = self.0.ws();
        let (repo_host, _) = self.0.repo(&args.repo).await?;
        let dest = match &args.dest {
            Some(d) => d.clone(),
            None => {
                let mount = ws.writable_mounts().next().ok_or_else(|| {
                    ToolError::Invalid("no writable mount to check out into".into())
                })?;
                let name = repo_host
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "repo".into());
                format!(
                    "{}/checkouts/{name}-{}",
                    mount.name,
                    sha.get(..12).unwrap_or(&sha)
                )
            }
        };
        let ws = ws.clone();
        let d = blocking(move || {
            let d = ws.resolve(&dest, Access::Write)?;
            if d.host.exists()
                && std::fs::read_dir(&d.host)
                    .map(|mut r| r.next().is_some())
                    .unwrap_or(true)
            {
                return Err(Error::InvalidArgument(format!(
                    "destination `{}` exists and is not empty; choose another dest",
                    d.rel
                )));
            }
            std::fs::create_dir_all(&d.host).map_err(|e| Error::io("creating", &d.rel, e))?;
            Ok(d)
        })
        .await?;
        let script = "set -o pipefail; git -c safe.directory='*' -c core.fsmonitor=false -C \"$1\" archive --format=tar \"$2\" | tar -x --no-same-owner -C \"$3\"";
        let req = ExecRequest::new(
            "bash",
            vec![
                "-c".into(),
                script.into(),
                "checkout".into(),
                repo_host.to_string_lossy().into_owned(),
                sha.clone(),
                d.host.to_string_lossy().into_owned(),
            ],
            d.host.clone(),
        );
        let out = self.0.exec.run(req, &ctx.cancel).await?;
        if !out.success() {
            return Ok(ToolOutput::error(format!(
                "checkout failed:\n{}",
                out.render()
            )));
        }
        let root = d.host.clone();
        let files = blocking(move || Ok(count_files(&root))).await?;
        Ok(ToolOutput::ok(format!(
            "checked out {sha} of `{}` into `{}` ({files} files); the repository is untouched",
            args.repo, d.rel
        )))
    }
}

fn count_files(dir: &std::path::Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                match e.file_type() {
                    Ok(t) if t.is_dir() => stack.push(e.path()),
                    Ok(_) => n += 1,
                    Err(_) => {}
                }
            }
        }
    }
    n
}
