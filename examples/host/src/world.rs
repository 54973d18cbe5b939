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
/// A git URL takes credentials from the environment (`https://${GIT_USER}:${GIT_TOKEN}@host/...`).
/// They are expanded here, at the last moment, and handed to git by a credential helper
/// through its environment: never in its arguments (`/proc/*/cmdline`), never in the
/// clone's `.git/config` (which the agent can read), never in an error.
pub async fn sync_repository(root: &Path, repo: &RepositoryDef) -> Result<PathBuf, HostError> {
    sync(root, repo, &sre_mcp::process_env).await
}

async fn sync(
    root: &Path,
    repo: &RepositoryDef,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<PathBuf, HostError> {
    let failure = |message: String| HostError::World {
        what: format!("repository `{}`", repo.name),
        message,
    };
    let remote = match &repo.source {
        RepoSource::Git(u) => Remote::expand(u, env).map_err(failure)?,
        RepoSource::Path(p) => Remote::plain(p.display().to_string()),
    };
    if let Some(b) = repo.branch.as_deref().filter(|b| b.starts_with('-')) {
        return Err(failure(format!("branch `{b}` starts with `-`")));
    }
    let dest = root.join(&repo.mount);
    let at = dest.display().to_string();
    if dest.join(".git").exists() {
        // Also cleans the remote of a clone made when credentials were kept in it.
        remote
            .git(
                ["-C", &at, "remote", "set-url", "origin", "--", &remote.url],
                &repo.name,
            )
            .await?;
        let branch = repo.branch.as_deref().unwrap_or("HEAD");
        remote
            .git(
                ["-C", &at, "fetch", "--quiet", "--", "origin", branch],
                &repo.name,
            )
            .await?;
        remote
            .git(
                ["-C", &at, "reset", "--quiet", "--hard", "FETCH_HEAD"],
                &repo.name,
            )
            .await?;
        return Ok(dest);
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| HostError::io(parent, e))?;
    }
    let mut args = vec!["clone", "--quiet"];
    if let Some(b) = &repo.branch {
        args.extend(["--branch", b]);
    }
    args.extend(["--", &remote.url, &at]);
    remote.git(args, &repo.name).await?;
    Ok(dest)
}

/// A repository's URL without credentials, and the credentials git gets from its helper.
struct Remote {
    url: String,
    /// (user, password) from the URL's user information, once expanded.
    credentials: Option<(String, String)>,
}

impl Remote {
    fn plain(url: String) -> Self {
        Remote {
            url,
            credentials: None,
        }
    }

    /// Expand `${VAR}` in `template`; user information moves out of the URL.
    fn expand(
        template: &str,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Self, String> {
        let expand = |text: &str| {
            sre_mcp::expand(text, "", "url", env).map_err(|e| match e {
                sre_mcp::McpError::MissingEnv { var, .. } => {
                    format!("the URL uses `${{{var}}}`, which is not set in the environment")
                }
                other => format!("the URL: {other}"),
            })
        };
        // The user information is found in the template, where `${...}` holds no `/` or `@`.
        let Some(userinfo) = crate::home::url_userinfo(template) else {
            return Ok(Remote::plain(expand(template)?));
        };
        let (scheme, rest) = template.split_once("://").unwrap_or(("", template));
        let host_and_path = &rest[userinfo.len() + 1..];
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        Ok(Remote {
            url: format!("{scheme}://{}", expand(host_and_path)?),
            credentials: Some((expand(user)?, expand(password)?)),
        })
    }

    /// Run git with `args`; credentials, if any, come from a helper reading the child's
    /// environment, and are masked in any error.
    async fn git<'a>(
        &self,
        args: impl IntoIterator<Item = &'a str>,
        repo: &str,
    ) -> Result<(), HostError> {
        let args: Vec<&str> = args.into_iter().collect();
        let mut cmd = tokio::process::Command::new("git");
        if self.credentials.is_some() {
            // An empty helper first resets the helpers configured on the host.
            cmd.args(["-c", "credential.helper=", "-c", CREDENTIAL_HELPER]);
        }
        cmd.args(&args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("SRE_GIT_USERNAME")
            .env_remove("SRE_GIT_PASSWORD")
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null());
        if let Some((user, password)) = &self.credentials {
            cmd.env("SRE_GIT_USERNAME", user)
                .env("SRE_GIT_PASSWORD", password);
        }
        let shown = || format!("git {}", args.join(" "));
        let failure = |message: String| HostError::World {
            what: format!("repository `{repo}`"),
            message: self.mask(&message),
        };
        let out = tokio::time::timeout(GIT_TIMEOUT, cmd.output())
            .await
            .map_err(|_| failure(format!("{} took longer than {GIT_TIMEOUT:?}", shown())))?
            .map_err(|e| failure(format!("cannot run git (is it installed?): {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        Err(failure(format!(
            "{} failed: {}",
            shown(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }

    /// `text` with the credentials replaced by `***`.
    fn mask(&self, text: &str) -> String {
        let mut text = text.to_string();
        if let Some((user, password)) = &self.credentials {
            for secret in [password, user].into_iter().filter(|s| !s.is_empty()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }
}

/// A git credential helper that answers `get` from the environment of the git process.
const CREDENTIAL_HELPER: &str = "credential.helper=!f() { test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' \"$SRE_GIT_USERNAME\" \"$SRE_GIT_PASSWORD\"; }; f";

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
    fn credentials_move_out_of_the_url() {
        let env = |name: &str| match name {
            "GIT_USER" => Some("bot".to_string()),
            "GIT_TOKEN" => Some("tok/with@odd:chars".to_string()),
            "HOST" => Some("git.example".to_string()),
            _ => None,
        };
        let r = Remote::expand("https://${GIT_USER}:${GIT_TOKEN}@${HOST}/a/b.git", &env)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.url, "https://git.example/a/b.git");
        assert_eq!(
            r.credentials,
            Some(("bot".to_string(), "tok/with@odd:chars".to_string()))
        );
        assert_eq!(r.mask("x tok/with@odd:chars y bot"), "x *** y ***");
        // An `@` in the path is not user information.
        let r =
            Remote::expand("https://git.example/a/@b.git", &env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (r.url.as_str(), r.credentials),
            ("https://git.example/a/@b.git", None)
        );
        let err = Remote::expand("https://${GIT_USER}:${NOPE}@h/a.git", &env)
            .err()
            .unwrap_or_default();
        assert_eq!(
            err,
            "the URL uses `${NOPE}`, which is not set in the environment"
        );
    }

    /// The git server of `tests/fixtures/git_http.py` over `root`, demanding `bot:<token>`.
    struct GitServer {
        child: std::process::Child,
        port: u16,
    }

    impl Drop for GitServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn git_server(root: &Path, token: &str) -> GitServer {
        use std::io::BufRead;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/git_http.py");
        let mut child = std::process::Command::new("python3")
            .arg(fixture)
            .arg(root)
            .args([&port.to_string(), "bot", token])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(line.trim(), "listening");
        GitServer { child, port }
    }

    #[tokio::test]
    async fn credentials_reach_git_over_http_and_nowhere_else() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let served = tmp.path().join("served");
        let origin = served.join("svc.git");
        std::fs::create_dir_all(&origin).unwrap_or_else(|e| panic!("{e}"));
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&work).unwrap_or_else(|e| panic!("{e}"));
        run(&work, &["init", "-q", "-b", "main"]);
        std::fs::write(work.join("a.txt"), "one").unwrap_or_else(|e| panic!("{e}"));
        run(&work, &["add", "-A"]);
        run(&work, &["commit", "-q", "-m", "one"]);
        run(&origin, &["init", "-q", "--bare"]);
        run(
            &work,
            &["push", "-q", origin.to_str().unwrap_or_default(), "main"],
        );
        let token = "s3cr3t/t0ken";
        let server = git_server(&served, token);
        let spec = RepositoryDef {
            name: "svc".into(),
            source: RepoSource::Git(format!(
                "http://${{GIT_USER}}:${{GIT_TOKEN}}@127.0.0.1:{}/svc.git",
                server.port
            )),
            branch: Some("main".into()),
            mount: "repos/svc".into(),
        };
        let with = |token: &'static str| {
            move |name: &str| match name {
                "GIT_USER" => Some("bot".to_string()),
                "GIT_TOKEN" => Some(token.to_string()),
                _ => None,
            }
        };
        let ws = tmp.path().join("ws");
        let dest = sync(&ws, &spec, &with("s3cr3t/t0ken"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(dest.join("a.txt")).ok().as_deref(),
            Some("one")
        );
        // The credential reached the server...
        let log = std::fs::read_to_string(served.join("auth.log")).unwrap_or_default();
        assert!(log.contains("Basic "), "{log}");
        // ... and is nowhere in the clone the agent reads.
        let config = std::fs::read_to_string(dest.join(".git/config")).unwrap_or_default();
        assert!(
            config.contains(&format!("url = http://127.0.0.1:{}/svc.git", server.port)),
            "{config}"
        );
        assert!(
            !config.contains("s3cr3t") && !config.contains("bot"),
            "{config}"
        );
        // A fetch goes through the helper too.
        std::fs::write(work.join("a.txt"), "two").unwrap_or_else(|e| panic!("{e}"));
        run(&work, &["commit", "-qam", "two"]);
        run(
            &work,
            &["push", "-q", origin.to_str().unwrap_or_default(), "main"],
        );
        sync(&ws, &spec, &with("s3cr3t/t0ken"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(dest.join("a.txt")).ok().as_deref(),
            Some("two")
        );
        // A wrong token fails with an error that shows neither it nor the user.
        let err = sync(&tmp.path().join("ws2"), &spec, &with("wr0ng-t0ken"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("git clone") && err.contains("127.0.0.1"),
            "{err}"
        );
        assert!(!err.contains("wr0ng-t0ken"), "{err}");
    }
}
