//! The agents' world (`kind: Workspace`): repositories, knowledge folder, topology file,
//! memory folder. Paths are resolved against the YAML file.

use std::path::{Component, PathBuf};

use super::diag::{Sink, Source};
use super::document::Envelope;
use super::fields::Fields;
use super::yaml::{Node, Pos};
use super::{Loaded, Location};

/// Where a repository comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RepoSource {
    /// A git URL (`https://...`, `ssh://...`, `git@host:org/repo.git`, `file://...`).
    Git(String),
    /// A local folder (absolute).
    Path(PathBuf),
}

/// A repository the agents work on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositoryDef {
    /// Unique name (default: the URL's or folder's last part, without `.git`).
    pub name: String,
    /// URL or folder.
    pub source: RepoSource,
    /// Branch to check out (`None`: the default branch).
    pub branch: Option<String>,
    /// Where in the workspace it is mounted (relative; default: its name).
    pub mount: PathBuf,
}

/// The agents' world. Empty when the home has no `Workspace` document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorldDef {
    /// Repositories cloned or fetched into the workspace at start.
    pub repositories: Vec<RepositoryDef>,
    /// A folder of Markdown/text runbooks and notes feeding memory.
    pub knowledge: Option<PathBuf>,
    /// The resource topology file.
    pub topology: Option<PathBuf>,
    /// Where memory is kept (created when missing).
    pub memory: Option<PathBuf>,
    /// Where it is defined.
    pub location: Option<Location>,
}

pub(crate) fn parse_workspace(
    env: &Envelope<'_>,
    src: &Source,
    out: &mut Sink,
    loaded: &mut Loaded,
) {
    let Some(spec) = env.spec else { return };
    if let Some(first) = &loaded.world.location {
        out.error(src, env.pos, "kind", "a second `Workspace` document")
            .help(format!(
                "an agent home has one world; the first is at {}:{}",
                first.file.display(),
                first.line
            ));
        return;
    }
    let Some(mut f) = Fields::of(spec, "spec", src, out) else {
        return;
    };
    let mut world = WorldDef {
        location: Some(Location::new(src, env.pos)),
        ..WorldDef::default()
    };

    if let Some(k) = f.take(&["knowledge"], src, out)
        && let Some(s) = k.string(src, out)
    {
        let p = src.join(&s);
        if p.is_dir() {
            world.knowledge = Some(p);
        } else {
            out.error(
                src,
                k.node.pos,
                "spec.knowledge",
                format!("not a folder: {}", p.display()),
            )
            .help("paths are relative to this YAML file");
        }
    }
    if let Some(t) = f.take(&["topology"], src, out)
        && let Some(s) = t.string(src, out)
    {
        let p = src.join(&s);
        if p.is_file() {
            world.topology = Some(p);
        } else {
            out.error(
                src,
                t.node.pos,
                "spec.topology",
                format!("file not found: {}", p.display()),
            )
            .help("paths are relative to this YAML file");
        }
    }
    if let Some(m) = f.take(&["memory"], src, out)
        && let Some(s) = m.string(src, out)
    {
        world.memory = Some(src.join(&s));
    }
    if let Some(r) = f.take(&["repositories"], src, out) {
        match r.node.items() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("spec.repositories[{i}]");
                    if let Some(repo) = parse_repo(item, &path, src, out) {
                        if let Some(prev) = world
                            .repositories
                            .iter()
                            .find(|x| x.name == repo.0.name || x.mount == repo.0.mount)
                        {
                            let what = if prev.name == repo.0.name {
                                "name"
                            } else {
                                "mount"
                            };
                            out.error(
                                src,
                                repo.1,
                                &path,
                                format!("two repositories with the same {what} (`{}`)", prev.name),
                            );
                            continue;
                        }
                        world.repositories.push(repo.0);
                    }
                }
            }
            None => {
                out.error(
                    src,
                    r.node.pos,
                    "spec.repositories",
                    format!("expected a list, got {}", r.node.kind_name()),
                );
            }
        }
    }
    f.finish(
        &["repositories", "knowledge", "topology", "memory"],
        &[],
        false,
        src,
        out,
    );
    loaded.world = world;
}

/// `user@host:path`, git's scp-like SSH form (the user a plain name, no password).
fn is_scp_like(url: &str) -> bool {
    let Some((user, rest)) = url.split_once('@') else {
        return false;
    };
    let Some((host, _)) = rest.split_once(':') else {
        return false;
    };
    !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !host.is_empty()
        && !host.contains('/')
}

fn parse_repo(
    node: &Node,
    path: &str,
    src: &Source,
    out: &mut Sink,
) -> Option<(RepositoryDef, Pos)> {
    let mut f = Fields::of(node, path, src, out)?;
    let p = |k: &str| format!("{path}.{k}");
    let string = |f: &mut Fields<'_>, key: &str, out: &mut Sink| {
        f.take(&[key], src, out)
            .and_then(|x| x.string(src, out).map(|s| (s, x.node.pos)))
    };
    let name = string(&mut f, "name", out);
    let url = string(&mut f, "url", out);
    let local = string(&mut f, "path", out);
    let branch = string(&mut f, "branch", out);
    let mount = string(&mut f, "mount", out);
    f.finish(
        &["name", "url", "path", "branch", "mount"],
        &[],
        false,
        src,
        out,
    );
    let source = match (url, local) {
        (Some((u, pos)), None) => {
            let ok = ["https://", "http://", "ssh://", "git://", "file://", "${"]
                .iter()
                .any(|s| u.starts_with(s))
                || is_scp_like(&u);
            if !ok {
                // Whatever precedes an `@` may be a credential: never shown.
                if let Some((user, _)) = u.rsplit_once('@') {
                    out.secret(src, user.rsplit_once("://").map_or(user, |(_, u)| u));
                }
                out.error(src, pos, p("url"), format!("`{u}` is not a git URL"))
                    .help("use `path:` for a local folder");
                return None;
            }
            if let Some(userinfo) = super::secret::literal_url_credential(&u) {
                out.secret(src, userinfo);
                out.error(src, pos, p("url"), "a credential written in the file")
                    .help("take it from the environment: `https://${GIT_USER}:${GIT_TOKEN}@host/repo.git`")
                    .redact(userinfo);
                return None;
            }
            RepoSource::Git(u)
        }
        (None, Some((l, pos))) => {
            let abs = src.join(&l);
            if !abs.is_dir() {
                out.error(
                    src,
                    pos,
                    p("path"),
                    format!("not a folder: {}", abs.display()),
                );
                return None;
            }
            RepoSource::Path(abs)
        }
        (Some(_), Some((_, pos))) => {
            out.error(src, pos, p("path"), "give either `url` or `path`, not both");
            return None;
        }
        (None, None) => {
            out.error(
                src,
                node.pos,
                p("url"),
                "missing: `url` (git) or `path` (local folder)",
            );
            return None;
        }
    };
    let branch = match branch {
        Some((b, pos)) if b.starts_with('-') || b.is_empty() => {
            out.error(src, pos, p("branch"), format!("`{b}` is not a branch name"));
            return None;
        }
        b => b.map(|b| b.0),
    };
    let (name, name_pos) = match name {
        Some(n) => n,
        None => {
            let raw = match &source {
                RepoSource::Git(u) => u.trim_end_matches('/').to_string(),
                RepoSource::Path(p) => p.display().to_string(),
            };
            let last = raw.rsplit(['/', ':']).next().unwrap_or("");
            (last.trim_end_matches(".git").to_string(), node.pos)
        }
    };
    if !super::agent::check_name(&name, name_pos, &p("name"), "repository", src, out) {
        return None;
    }
    let mount = match mount {
        Some((m, pos)) => {
            let mp = PathBuf::from(&m);
            let inside = mp
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
            if !inside || m.trim().is_empty() {
                out.error(
                    src,
                    pos,
                    p("mount"),
                    format!("`{m}` must be a relative path inside the workspace (no `..`)"),
                );
                return None;
            }
            mp
        }
        None => PathBuf::from(&name),
    };
    Some((
        RepositoryDef {
            name,
            source,
            branch,
            mount,
        },
        name_pos,
    ))
}
