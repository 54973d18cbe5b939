//! The agent's world on disk: the workspace a team runs in. Repositories are cloned (or
//! fetched, when already there) into it at start, as the published product clones its
//! connected repositories; knowledge files are ingested into the Markdown memory; skill
//! folders are copied in so the agent reads their files with its file tools.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::HostError;
use crate::home::{RepoSource, RepositoryDef};

/// Longest a clone or fetch may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(300);

/// Clone `repo` into `root/<mount>`, or bring an existing clone up to date (fetch, then
/// reset to the fetched head: the workspace copy is read-only for the agent, so nothing
/// local is lost).
///
/// A git URL may take credentials from the environment (`https://${GIT_TOKEN}@host/...`);
/// they are expanded here, at the last moment, and never appear in an error.
pub async fn sync_repository(root: &Path, repo: &RepositoryDef) -> Result<PathBuf, HostError> {
    sync(root, repo, &sre_mcp::process_env).await
}

async fn sync(
    root: &Path,
    repo: &RepositoryDef,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<PathBuf, HostError> {
    let dest = root.join(&repo.mount);
    let source = match &repo.source {
        RepoSource::Git(u) => {
            sre_mcp::expand(u, &repo.name, "url", env).map_err(|e| HostError::World {
                what: format!("repository `{}`", repo.name),
                message: e.to_string(),
            })?
        }
        RepoSource::Path(p) => p.display().to_string(),
    };
    if let Some(b) = repo.branch.as_deref().filter(|b| b.starts_with('-')) {
        return Err(HostError::World {
            what: format!("repository `{}`", repo.name),
            message: format!("branch `{b}` starts with `-`"),
        });
    }
    let secrets = Redact::of(&source);
    if dest.join(".git").exists() {
        // Fetch from the URL itself, not `origin`: the clone keeps no credential.
        let mut fetch = vec!["-C".to_string(), dest.display().to_string()];
        fetch.extend(["fetch", "--quiet", "--"].map(String::from));
        fetch.push(source.clone());
        fetch.push(repo.branch.clone().unwrap_or_else(|| "HEAD".into()));
        git(&fetch, &repo.name, &secrets).await?;
        git(
            &[
                "-C".into(),
                dest.display().to_string(),
                "reset".into(),
                "--quiet".into(),
                "--hard".into(),
                "FETCH_HEAD".into(),
            ],
            &repo.name,
            &secrets,
        )
        .await?;
        return Ok(dest);
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| HostError::io(parent, e))?;
    }
    let mut args = vec!["clone".to_string(), "--quiet".to_string()];
    if let Some(b) = &repo.branch {
        args.push("--branch".into());
        args.push(b.clone());
    }
    args.push("--".into());
    args.push(source.clone());
    args.push(dest.display().to_string());
    git(&args, &repo.name, &secrets).await?;
    if let Some(clean) = secrets.stripped(&source) {
        // The workspace is the agent's to read: its git config keeps the URL without
        // the credential.
        let args = [
            "-C",
            &dest.display().to_string(),
            "remote",
            "set-url",
            "origin",
            "--",
            &clean,
        ]
        .map(String::from);
        git(&args, &repo.name, &secrets).await?;
    }
    Ok(dest)
}

/// What must not appear in an error about a repository: the user information of its URL
/// (`user:token@`), which may hold a credential.
struct Redact(Option<String>);

impl Redact {
    fn of(url: &str) -> Self {
        let userinfo = url.split_once("://").and_then(|(_, rest)| {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
            authority.rsplit_once('@').map(|(user, _)| user.to_string())
        });
        Redact(userinfo.filter(|u| !u.is_empty()))
    }

    /// `url` without its user information, when it has some.
    fn stripped(&self, url: &str) -> Option<String> {
        let user = self.0.as_deref()?;
        Some(url.replacen(&format!("{user}@"), "", 1))
    }

    fn apply(&self, text: &str) -> String {
        match &self.0 {
            Some(secret) => text.replace(secret.as_str(), "***"),
            None => text.to_string(),
        }
    }
}

async fn git(args: &[String], repo: &str, secrets: &Redact) -> Result<(), HostError> {
    let mut cmd = tokio::process::Command::new("git");
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    let out = tokio::time::timeout(GIT_TIMEOUT, cmd.output())
        .await
        .map_err(|_| HostError::World {
            what: format!("repository `{repo}`"),
            message: secrets.apply(&format!(
                "git {} took longer than {GIT_TIMEOUT:?}",
                args.join(" ")
            )),
        })?
        .map_err(|e| HostError::World {
            what: format!("repository `{repo}`"),
            message: format!("cannot run git (is it installed?): {e}"),
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(HostError::World {
        what: format!("repository `{repo}`"),
        message: secrets.apply(&format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    })
}

/// Copy the directory `from` to `to` (files and subdirectories; symlinks are not followed
/// and not copied), replacing what `to` held.
pub fn copy_dir(from: &Path, to: &Path) -> Result<(), HostError> {
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(|e| HostError::io(to, e))?;
    }
    std::fs::create_dir_all(to).map_err(|e| HostError::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| HostError::io(from, e))? {
        let entry = entry.map_err(|e| HostError::io(from, e))?;
        let kind = entry
            .file_type()
            .map_err(|e| HostError::io(entry.path(), e))?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).map_err(|e| HostError::io(&target, e))?;
        }
    }
    Ok(())
}

/// The Markdown and text files of a knowledge folder, as (name, text), sorted by path.
pub fn knowledge_files(dir: &Path) -> Result<Vec<(String, String)>, HostError> {
    let mut out = Vec::new();
    collect(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> Result<(), HostError> {
    for entry in std::fs::read_dir(dir).map_err(|e| HostError::io(dir, e))? {
        let entry = entry.map_err(|e| HostError::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| HostError::io(&path, e))?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if kind.is_file()
            && matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("md" | "markdown" | "txt")
            )
        {
            let text = std::fs::read_to_string(&path).map_err(|e| HostError::io(&path, e))?;
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let name: String = rel
                .with_extension("")
                .to_string_lossy()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            out.push((name, text));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "git {args:?}");
    }

    #[tokio::test]
    async fn a_repository_is_cloned_then_fetched_to_the_new_head() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let origin = tmp.path().join("origin");
        std::fs::create_dir_all(&origin).unwrap_or_else(|e| panic!("{e}"));
        run(&origin, &["init", "-q", "-b", "main"]);
        std::fs::write(origin.join("a.txt"), "one").unwrap_or_else(|e| panic!("{e}"));
        run(&origin, &["add", "-A"]);
        run(&origin, &["commit", "-q", "-m", "one"]);
        let ws = tmp.path().join("ws");
        let spec = RepositoryDef {
            name: "svc".into(),
            source: RepoSource::Path(origin.clone()),
            branch: Some("main".into()),
            mount: "repos/svc".into(),
        };
        let dest = sync_repository(&ws, &spec)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(dest.join("a.txt")).ok().as_deref(),
            Some("one")
        );
        std::fs::write(origin.join("a.txt"), "two").unwrap_or_else(|e| panic!("{e}"));
        run(&origin, &["commit", "-qam", "two"]);
        sync_repository(&ws, &spec)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(dest.join("a.txt")).ok().as_deref(),
            Some("two")
        );
        // A source that is not there is a clear error naming the repository.
        let missing = RepositoryDef {
            source: RepoSource::Path(tmp.path().join("nope")),
            mount: "repos/other".into(),
            ..spec
        };
        let err = sync_repository(&ws, &missing)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("repository `svc`") && err.contains("git clone"),
            "{err}"
        );
    }

    #[test]
    fn credentials_in_urls_are_redacted_and_stripped() {
        let r = Redact::of("https://bot:tok-123@git.example:8443/a/b.git");
        assert_eq!(
            r.apply("fatal: unable to access 'https://bot:tok-123@git.example:8443/a/b.git/'"),
            "fatal: unable to access 'https://***@git.example:8443/a/b.git/'"
        );
        assert_eq!(
            r.stripped("https://bot:tok-123@git.example:8443/a/b.git")
                .as_deref(),
            Some("https://git.example:8443/a/b.git")
        );
        // An `@` in the path is not user information.
        let plain = Redact::of("https://git.example/a/@b.git");
        assert_eq!(plain.apply("x @b"), "x @b");
        assert_eq!(plain.stripped("https://git.example/a/@b.git"), None);
        assert_eq!(Redact::of("/srv/repos/a").stripped("/srv/repos/a"), None);
    }

    #[tokio::test]
    async fn a_failed_clone_never_shows_the_token_of_its_url() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // Nothing listens on port 1: the clone fails, and git names the URL it tried.
        let spec = RepositoryDef {
            name: "svc".into(),
            source: RepoSource::Git("http://bot:${GIT_TOKEN}@127.0.0.1:1/svc.git".into()),
            branch: None,
            mount: "repos/svc".into(),
        };
        let env = |name: &str| (name == "GIT_TOKEN").then(|| "tok-s3cr3t".to_string());
        let err = sync(tmp.path(), &spec, &env).await.unwrap_err().to_string();
        assert!(
            err.contains("git clone") && err.contains("***@127.0.0.1:1"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
        let missing = RepositoryDef {
            source: RepoSource::Git("https://${GIT_USER}@x.example/a.git".into()),
            ..spec
        };
        let err = sync(tmp.path(), &missing, &env)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("GIT_USER"), "{err}");
    }
}
