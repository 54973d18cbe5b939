//! `grep`: ripgrep's own crates (`ignore` for the parallel, .gitignore-aware walk,
//! `grep-regex` + `grep-searcher` for matching), run on the blocking pool.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{
    BinaryDetection, Searcher, SearcherBuilder, Sink, SinkContext, SinkContextKind, SinkMatch,
};
use ignore::overrides::OverrideBuilder;
use ignore::{WalkBuilder, WalkState};
use schemars::JsonSchema;
use serde::Deserialize;
use sre_core::{ToolAnnotations, ToolContext, ToolError, ToolOutput, TypedTool};

use crate::error::{Error, Result};
use crate::files::blocking_cancellable;
use crate::workspace::{Access, Workspace};

/// Limits of [`Grep`].
#[derive(Clone, Copy, Debug)]
pub struct GrepLimits {
    /// Matches returned when the call gives no `max_matches`.
    pub default_matches: usize,
    /// Largest `max_matches` a call may ask for.
    pub max_matches: usize,
    /// Most output bytes.
    pub max_bytes: usize,
    /// Matched lines longer than this are cut.
    pub max_line_bytes: usize,
    /// Walker threads (0: as many as cores).
    pub threads: usize,
}

impl Default for GrepLimits {
    fn default() -> Self {
        GrepLimits {
            default_matches: 200,
            max_matches: 10_000,
            max_bytes: 64 * 1024,
            max_line_bytes: 400,
            threads: 0,
        }
    }
}

/// Arguments of `grep`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrepArgs {
    /// Regular expression (Rust regex syntax, like ripgrep), or a literal string when fixed_strings is true.
    pub pattern: String,
    /// File or directory to search, relative to the workspace root (default: the whole workspace).
    #[serde(default)]
    pub path: Option<String>,
    /// Treat the pattern as a literal string, not a regex.
    #[serde(default)]
    pub fixed_strings: bool,
    /// Case-insensitive matching.
    #[serde(default)]
    pub case_insensitive: bool,
    /// Only search files matching these globs (ripgrep -g syntax, relative to path; prefix with `!` to exclude), e.g. ["*.rs", "!target/**"].
    #[serde(default)]
    pub glob: Vec<String>,
    /// Lines of context before and after each match (default 0).
    #[serde(default)]
    #[schemars(range(max = 50))]
    pub context: Option<u32>,
    /// Stop after this many matching lines (default 200).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_matches: Option<u64>,
    /// Only list the paths of files that match.
    #[serde(default)]
    pub files_with_matches: bool,
    /// Also search hidden files and directories (names starting with `.`).
    #[serde(default)]
    pub hidden: bool,
    /// Do not respect .gitignore / .ignore files.
    #[serde(default)]
    pub no_ignore: bool,
}

/// `grep`: search file contents.
#[derive(Clone, Debug)]
pub struct Grep {
    ws: Workspace,
    limits: GrepLimits,
}

/// One file's results.
struct FileHits {
    rel: String,
    lines: Vec<String>,
    matches: usize,
}

impl Grep {
    /// `grep` over `ws` with default limits.
    pub fn new(ws: Workspace) -> Self {
        Grep {
            ws,
            limits: GrepLimits::default(),
        }
    }

    /// Override the limits.
    pub fn with_limits(mut self, limits: GrepLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Search synchronously; returns the rendered output.
    pub fn search(&self, args: &GrepArgs, cancel: Option<&AtomicBool>) -> Result<String> {
        let start = self
            .ws
            .resolve(args.path.as_deref().unwrap_or("."), Access::Read)?;
        if !start.host.exists() {
            return Err(Error::NotFound { path: start.rel });
        }
        let matcher = RegexMatcherBuilder::new()
            .case_insensitive(args.case_insensitive)
            .fixed_strings(args.fixed_strings)
            .line_terminator(Some(b'\n'))
            .build(&args.pattern)
            .map_err(|e| Error::InvalidArgument(format!("invalid pattern: {e}")))?;
        let context = args.context.unwrap_or(0).min(50) as usize;
        let max = args
            .max_matches
            .map(|m| m as usize)
            .unwrap_or(self.limits.default_matches)
            .clamp(1, self.limits.max_matches);

        let mut walk = WalkBuilder::new(&start.host);
        walk.hidden(!args.hidden)
            .git_ignore(!args.no_ignore)
            .git_global(!args.no_ignore)
            .git_exclude(!args.no_ignore)
            .ignore(!args.no_ignore)
            .parents(!args.no_ignore)
            .follow_links(false)
            .threads(self.limits.threads);
        if !args.no_ignore {
            walk.add_custom_ignore_filename(".rgignore");
        }
        if !args.glob.is_empty() {
            let mut ob = OverrideBuilder::new(&start.host);
            for g in &args.glob {
                ob.add(g)
                    .map_err(|e| Error::InvalidArgument(format!("invalid glob `{g}`: {e}")))?;
            }
            walk.overrides(
                ob.build()
                    .map_err(|e| Error::InvalidArgument(format!("invalid globs: {e}")))?,
            );
        }

        let found = AtomicUsize::new(0);
        let results: Mutex<Vec<FileHits>> = Mutex::new(Vec::new());
        let errors = AtomicUsize::new(0);
        let ws = &self.ws;
        let limits = self.limits;
        let files_only = args.files_with_matches;
        walk.build_parallel().run(|| {
            let matcher = matcher.clone();
            let mut searcher = SearcherBuilder::new()
                .line_number(true)
                .before_context(context)
                .after_context(context)
                .binary_detection(BinaryDetection::quit(b'\x00'))
                .build();
            let found = &found;
            let results = &results;
            let errors = &errors;
            Box::new(move |entry| {
                if cancel.is_some_and(|c| c.load(Ordering::Relaxed))
                    || found.load(Ordering::Relaxed) >= max
                {
                    return WalkState::Quit;
                }
                let entry = match entry {
                    Ok(e) => e,
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        return WalkState::Continue;
                    }
                };
                if !entry.file_type().is_some_and(|t| t.is_file()) {
                    return WalkState::Continue;
                }
                if let Some(hits) = search_file(
                    &mut searcher,
                    &matcher,
                    entry.path(),
                    ws,
                    limits,
                    found,
                    max,
                    files_only,
                ) && let Ok(mut r) = results.lock()
                {
                    r.push(hits);
                }
                WalkState::Continue
            })
        });
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(Error::Cancelled);
        }
        let mut results = results.into_inner().unwrap_or_default();
        results.sort_by(|a, b| a.rel.cmp(&b.rel));
        let total: usize = results.iter().map(|h| h.matches).sum();
        let mut out = String::new();
        let mut capped = false;
        for hits in &results {
            if files_only {
                out.push_str(&hits.rel);
                out.push('\n');
                continue;
            }
            for line in &hits.lines {
                if out.len() + line.len() + 1 > limits.max_bytes {
                    capped = true;
                    break;
                }
                out.push_str(line);
                out.push('\n');
            }
            if capped {
                break;
            }
        }
        if results.is_empty() {
            out.push_str(&format!(
                "[no matches for `{}` in {}]\n",
                args.pattern, start.rel
            ));
        } else {
            let mut note = format!("[{total} matching lines in {} files", results.len());
            if total >= max {
                note.push_str(&format!(
                    "; stopped at max_matches={max}, narrow the path or pattern"
                ));
            }
            if capped {
                note.push_str(&format!("; output capped at {} bytes", limits.max_bytes));
            }
            note.push_str("]\n");
            out.push_str(&note);
        }
        Ok(out)
    }
}

#[allow(clippy::too_many_arguments)]
fn search_file(
    searcher: &mut Searcher,
    matcher: &RegexMatcher,
    path: &Path,
    ws: &Workspace,
    limits: GrepLimits,
    found: &AtomicUsize,
    max: usize,
    files_only: bool,
) -> Option<FileHits> {
    let rel = ws.rel(path);
    let mut sink = Collect {
        rel: &rel,
        lines: Vec::new(),
        matches: 0,
        found,
        max,
        files_only,
        max_line: limits.max_line_bytes,
        last_line: None,
    };
    // Opened relative to the root handle: a directory swapped for a symlink during the
    // walk is not followed, and a FIFO or device is skipped instead of hanging the search.
    let file = ws.anchor().read(ws.rel_path(path).ok()?).ok()?;
    if searcher.search_file(matcher, &file, &mut sink).is_err() {
        return None;
    }
    let Collect { lines, matches, .. } = sink;
    (matches > 0).then_some(FileHits {
        rel,
        lines,
        matches,
    })
}

struct Collect<'a> {
    rel: &'a str,
    lines: Vec<String>,
    matches: usize,
    found: &'a AtomicUsize,
    max: usize,
    files_only: bool,
    max_line: usize,
    last_line: Option<u64>,
}

impl Collect<'_> {
    fn line(&mut self, sep: char, number: Option<u64>, bytes: &[u8]) {
        let mut body = bytes;
        while let Some(stripped) = body
            .strip_suffix(b"\n")
            .or_else(|| body.strip_suffix(b"\r"))
        {
            body = stripped;
        }
        let mut text = String::from_utf8_lossy(body).into_owned();
        if text.len() > self.max_line {
            let full = text.len();
            text.truncate(sre_core::text::floor_char_boundary(&text, self.max_line));
            text.push_str(&format!(" [... {full} bytes]"));
        }
        let n = number.unwrap_or(0);
        self.lines.push(format!("{}{sep}{n}{sep}{text}", self.rel));
        self.last_line = Some(n);
    }
}

impl Sink for Collect<'_> {
    type Error = std::io::Error;

    fn matched(&mut self, _s: &Searcher, m: &SinkMatch<'_>) -> Result<bool, std::io::Error> {
        let prev = self.found.fetch_add(1, Ordering::Relaxed);
        if prev >= self.max {
            return Ok(false);
        }
        self.matches += 1;
        if self.files_only {
            return Ok(false);
        }
        self.line(':', m.line_number(), m.bytes());
        Ok(true)
    }

    fn context(&mut self, _s: &Searcher, c: &SinkContext<'_>) -> Result<bool, std::io::Error> {
        if !matches!(c.kind(), SinkContextKind::Other) {
            self.line('-', c.line_number(), c.bytes());
        }
        Ok(true)
    }

    fn context_break(&mut self, _s: &Searcher) -> Result<bool, std::io::Error> {
        self.lines.push("--".into());
        Ok(true)
    }
}

#[async_trait]
impl TypedTool for Grep {
    type Args = GrepArgs;

    fn name(&self) -> &str {
        "grep"
    }

    fn description(&self) -> &str {
        "Search file contents with a regex (ripgrep engine). Respects .gitignore and skips hidden and binary \
         files by default. Output lines are `path:line:text` (context lines `path-line-text`) with \
         workspace-relative paths, sorted by path. Narrow with path, glob (e.g. [\"*.log\"]) and \
         case_insensitive; use files_with_matches to list files only."
    }

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    async fn run(&self, args: GrepArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let this = self.clone();
        let text =
            blocking_cancellable(&ctx.cancel, move |stop| this.search(&args, Some(stop))).await?;
        Ok(ToolOutput::ok(text))
    }
}
