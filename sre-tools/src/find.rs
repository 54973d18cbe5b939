//! `find`: files by glob, type, size and modification time (`ignore` walk + `globset`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use async_trait::async_trait;
use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::{WalkBuilder, WalkState};
use schemars::JsonSchema;
use serde::Deserialize;
use sre_core::{ToolAnnotations, ToolContext, ToolError, ToolOutput, TypedTool};

use crate::error::{Error, Result};
use crate::files::blocking_cancellable;
use crate::timefmt::{format_utc, human_size, parse_size, parse_time};
use crate::workspace::{Access, Workspace};

/// Kind of entry to find.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryType {
    /// Regular files (default).
    #[default]
    File,
    /// Directories.
    Dir,
    /// Symbolic links.
    Symlink,
    /// Anything.
    Any,
}

/// Arguments of `find`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindArgs {
    /// Glob patterns; an entry matches if any matches. A pattern without `/` matches the file name (`*.log`), one with `/` matches the path relative to `path` (`**/nginx/*.conf`). Default: everything.
    #[serde(default)]
    pub glob: Vec<String>,
    /// Directory to search, relative to the workspace root (default: the whole workspace).
    #[serde(default)]
    pub path: Option<String>,
    /// Entry type: file (default), dir, symlink or any.
    #[serde(default, rename = "type")]
    pub entry_type: EntryType,
    /// Minimum size, e.g. `10k`, `5M` (files only).
    #[serde(default)]
    pub min_size: Option<String>,
    /// Maximum size, e.g. `100k`, `1G` (files only).
    #[serde(default)]
    pub max_size: Option<String>,
    /// Modified after this time: a duration ago (`30m`, `2h`, `3d`) or a UTC timestamp (`2026-11-24T10:00:00Z`).
    #[serde(default)]
    pub newer_than: Option<String>,
    /// Modified before this time (same formats as newer_than).
    #[serde(default)]
    pub older_than: Option<String>,
    /// Maximum directory depth below path.
    #[serde(default)]
    pub max_depth: Option<u32>,
    /// Most results to return (default 500).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_results: Option<u64>,
    /// Include hidden entries.
    #[serde(default)]
    pub hidden: bool,
    /// Do not respect .gitignore / .ignore files.
    #[serde(default)]
    pub no_ignore: bool,
}

/// `find`: locate files.
#[derive(Clone, Debug)]
pub struct Find {
    ws: Workspace,
    threads: usize,
}

struct Hit {
    rel: String,
    host: std::path::PathBuf,
    /// Size and mtime, when a filter needed them during the walk.
    meta: Option<(u64, Option<SystemTime>)>,
    is_dir: bool,
}

impl Find {
    /// `find` over `ws`.
    pub fn new(ws: Workspace) -> Self {
        Find { ws, threads: 0 }
    }

    /// Find synchronously; returns the rendered output.
    pub fn find(&self, args: &FindArgs, cancel: Option<&AtomicBool>) -> Result<String> {
        let base = self
            .ws
            .resolve(args.path.as_deref().unwrap_or("."), Access::Read)?;
        if !base.host.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "`{}` is not a directory",
                base.rel
            )));
        }
        let (name_set, path_set) = build_globs(&args.glob)?;
        let now = SystemTime::now();
        let newer = args
            .newer_than
            .as_deref()
            .map(|s| parse_time(s, now))
            .transpose()?;
        let older = args
            .older_than
            .as_deref()
            .map(|s| parse_time(s, now))
            .transpose()?;
        let min_size = args.min_size.as_deref().map(parse_size).transpose()?;
        let max_size = args.max_size.as_deref().map(parse_size).transpose()?;
        let max_results = args.max_results.unwrap_or(500).clamp(1, 100_000) as usize;
        let mut walk = WalkBuilder::new(&base.host);
        walk.hidden(!args.hidden)
            .git_ignore(!args.no_ignore)
            .git_global(!args.no_ignore)
            .git_exclude(!args.no_ignore)
            .ignore(!args.no_ignore)
            .parents(!args.no_ignore)
            .follow_links(false)
            .max_depth(args.max_depth.map(|d| d as usize))
            .threads(self.threads);
        let hits: Mutex<Vec<Hit>> = Mutex::new(Vec::new());
        let ws = &self.ws;
        let base_host = &base.host;
        let want = args.entry_type;
        let no_globs = args.glob.is_empty();
        walk.build_parallel().run(|| {
            let hits = &hits;
            let name_set = &name_set;
            let path_set = &path_set;
            Box::new(move |entry| {
                let Ok(entry) = entry else {
                    return WalkState::Continue;
                };
                if entry.depth() == 0 {
                    return WalkState::Continue;
                }
                let Some(ft) = entry.file_type() else {
                    return WalkState::Continue;
                };
                let type_ok = match want {
                    EntryType::File => ft.is_file(),
                    EntryType::Dir => ft.is_dir(),
                    EntryType::Symlink => ft.is_symlink(),
                    EntryType::Any => true,
                };
                if !type_ok {
                    return WalkState::Continue;
                }
                if !no_globs {
                    let rel = entry.path().strip_prefix(base_host).unwrap_or(entry.path());
                    let name_ok = name_set.is_match(entry.file_name());
                    if !name_ok && !path_set.is_match(rel) {
                        return WalkState::Continue;
                    }
                }
                // Stat only when a filter needs it; the shown results are stat'ed after sorting.
                let needs_meta =
                    min_size.is_some() || max_size.is_some() || newer.is_some() || older.is_some();
                let meta = if needs_meta {
                    entry.metadata().ok().map(|m| (m.len(), m.modified().ok()))
                } else {
                    None
                };
                let size = meta.map(|m| m.0).unwrap_or(0);
                let mtime = meta.and_then(|m| m.1);
                if ft.is_file() {
                    if min_size.is_some_and(|min| size < min)
                        || max_size.is_some_and(|max| size > max)
                    {
                        return WalkState::Continue;
                    }
                } else if min_size.is_some() || max_size.is_some() {
                    return WalkState::Continue;
                }
                if let Some(t) = newer
                    && mtime.is_none_or(|m| m <= t)
                {
                    return WalkState::Continue;
                }
                if let Some(t) = older
                    && mtime.is_none_or(|m| m >= t)
                {
                    return WalkState::Continue;
                }
                if let Ok(mut h) = hits.lock() {
                    if h.len() >= 200_000 {
                        return WalkState::Quit;
                    }
                    h.push(Hit {
                        rel: ws.rel(entry.path()),
                        host: entry.path().to_path_buf(),
                        meta,
                        is_dir: ft.is_dir(),
                    });
                }
                WalkState::Continue
            })
        });
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(Error::Cancelled);
        }
        let mut hits = hits.into_inner().unwrap_or_default();
        hits.sort_by(|a, b| a.rel.cmp(&b.rel));
        let total = hits.len();
        let mut out = String::new();
        for h in hits.iter().take(max_results) {
            let (size, mtime) = h.meta.unwrap_or_else(|| {
                std::fs::symlink_metadata(&h.host)
                    .map(|m| (m.len(), m.modified().ok()))
                    .unwrap_or((0, None))
            });
            let when = mtime.map(format_utc).unwrap_or_default();
            if h.is_dir {
                out.push_str(&format!("{}/\t{when}\n", h.rel));
            } else {
                out.push_str(&format!("{}\t{}\t{when}\n", h.rel, human_size(size)));
            }
        }
        if total == 0 {
            out.push_str(&format!("[nothing matched under {}]\n", base.rel));
        } else if total > max_results {
            out.push_str(&format!("[{total} matches; showing the first {max_results} by path; narrow the search or raise max_results]\n"));
        } else {
            out.push_str(&format!("[{total} matches]\n"));
        }
        Ok(out)
    }
}

fn build_globs(globs: &[String]) -> Result<(GlobSet, GlobSet)> {
    let mut names = GlobSetBuilder::new();
    let mut paths = GlobSetBuilder::new();
    for g in globs {
        let glob =
            Glob::new(g).map_err(|e| Error::InvalidArgument(format!("invalid glob `{g}`: {e}")))?;
        if g.contains('/') {
            paths.add(glob);
        } else {
            names.add(glob);
        }
    }
    let b = |s: GlobSetBuilder| {
        s.build()
            .map_err(|e| Error::InvalidArgument(format!("invalid globs: {e}")))
    };
    Ok((b(names)?, b(paths)?))
}

#[async_trait]
impl TypedTool for Find {
    type Args = FindArgs;

    fn name(&self) -> &str {
        "find"
    }

    fn description(&self) -> &str {
        "Find files (or dirs/symlinks) by glob, size and modification time. Output lines: \
         `path<TAB>size<TAB>mtime (UTC)`, sorted by path. Respects .gitignore and skips hidden entries by \
         default. Example: glob [\"*.log\"], newer_than \"2h\", min_size \"1M\"."
    }

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    async fn run(&self, args: FindArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let this = self.clone();
        Ok(ToolOutput::ok(
            blocking_cancellable(&ctx.cancel, move |stop| this.find(&args, Some(stop))).await?,
        ))
    }
}
