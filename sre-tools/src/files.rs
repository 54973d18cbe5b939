//! `read_file`, `write_file` and `edit_file`.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use sre_core::{ToolAnnotations, ToolContext, ToolError, ToolOutput, TypedTool};

use crate::beneath::OpenError;
use crate::error::{Error, Result};
use crate::workspace::{Access, Workspace};

/// Limits of [`ReadFile`].
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    /// Lines returned when the call gives no `limit`.
    pub default_lines: usize,
    /// Most bytes of file text returned by one call.
    pub max_bytes: usize,
    /// Lines longer than this are cut (with a marker).
    pub max_line_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            default_lines: 2000,
            max_bytes: 100 * 1024,
            max_line_bytes: 2000,
        }
    }
}

/// Arguments of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFileArgs {
    /// File path, relative to the workspace root (e.g. `repos/api/src/main.rs`).
    pub path: String,
    /// First line to return, 1-based (default 1).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub offset: Option<u64>,
    /// How many lines to return (default 2000).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub limit: Option<u64>,
}

/// `read_file`: numbered lines of a text file, by line range.
#[derive(Clone, Debug)]
pub struct ReadFile {
    ws: Workspace,
    limits: ReadLimits,
}

impl ReadFile {
    /// `read_file` over `ws` with default limits.
    pub fn new(ws: Workspace) -> Self {
        ReadFile {
            ws,
            limits: ReadLimits::default(),
        }
    }

    /// Override the limits.
    pub fn with_limits(mut self, limits: ReadLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Read synchronously (the tool runs this on the blocking pool).
    pub fn read(&self, args: &ReadFileArgs) -> Result<String> {
        let r = self.ws.resolve(&args.path, Access::Read)?;
        let file = match self.ws.anchor().read(self.ws.rel_path(&r.host)?) {
            Err(OpenError::NotRegular(rustix::fs::FileType::Directory)) => {
                return Err(Error::InvalidArgument(format!(
                    "`{}` is a directory; use `list` or `find` to see its contents",
                    r.rel
                )));
            }
            other => other.map_err(|e| Error::open(e, "reading", &r.rel))?,
        };
        let meta = file
            .metadata()
            .map_err(|e| Error::io("reading", &r.rel, e))?;
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        // Binary detection: a NUL byte in the first 8 KiB.
        let sniff = reader
            .fill_buf()
            .map_err(|e| Error::io("reading", &r.rel, e))?;
        if sniff[..sniff.len().min(8192)].contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "`{}` looks like a binary file ({} bytes, NUL bytes in its first 8 KiB); inspect it with `shell` (e.g. `file`, `xxd | head`, `strings`)",
                r.rel,
                meta.len()
            )));
        }
        let offset = args.offset.unwrap_or(1).max(1);
        let limit = args
            .limit
            .map(|l| l as usize)
            .unwrap_or(self.limits.default_lines)
            .max(1);
        let mut out = String::new();
        let mut line = Vec::new();
        let mut lineno: u64 = 0;
        let mut shown = 0usize;
        let mut last_shown = 0u64;
        let mut lossy = false;
        let mut capped = false;
        let mut cut_lines = 0usize;
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::io("reading", &r.rel, e))?;
            if n == 0 {
                break;
            }
            lineno += 1;
            if lineno < offset || shown >= limit || capped {
                continue;
            }
            let mut body: &[u8] = &line;
            if body.ends_with(b"\n") {
                body = &body[..body.len() - 1];
            }
            if body.ends_with(b"\r") {
                body = &body[..body.len() - 1];
            }
            let mut text = match std::str::from_utf8(body) {
                Ok(s) => s.to_string(),
                Err(_) => {
                    lossy = true;
                    String::from_utf8_lossy(body).into_owned()
                }
            };
            if text.len() > self.limits.max_line_bytes {
                let full = text.len();
                let cut = sre_core::text::floor_char_boundary(&text, self.limits.max_line_bytes);
                text.truncate(cut);
                text.push_str(&format!(" [... line cut, {full} bytes]"));
                cut_lines += 1;
            }
            let entry = format!("{lineno:>6}\t{text}\n");
            if out.len() + entry.len() > self.limits.max_bytes && shown > 0 {
                capped = true;
                continue;
            }
            out.push_str(&entry);
            shown += 1;
            last_shown = lineno;
        }
        let total = lineno;
        let mut header = if total == 0 {
            format!("[{}: empty file]\n", r.rel)
        } else if shown == 0 {
            format!(
                "[{}: {total} lines; offset {offset} is past the end]\n",
                r.rel
            )
        } else {
            format!("[{}: lines {offset}-{last_shown} of {total}]\n", r.rel)
        };
        if lossy {
            header.push_str(
                "[note: the file is not valid UTF-8; invalid bytes are shown as U+FFFD]\n",
            );
        }
        let mut footer = String::new();
        if cut_lines > 0 {
            footer.push_str(&format!(
                "[{cut_lines} long line(s) cut at {} bytes; use `shell` (e.g. `cut -c`, `jq`) for the full text]\n",
                self.limits.max_line_bytes
            ));
        }
        if shown > 0 && last_shown < total {
            let why = if capped {
                format!("output capped at {} bytes", self.limits.max_bytes)
            } else {
                "line limit reached".into()
            };
            footer.push_str(&format!(
                "[{why}; {} more lines; continue with offset={}]\n",
                total - last_shown,
                last_shown + 1
            ));
        }
        Ok(format!("{header}{out}{footer}"))
    }
}

#[async_trait]
impl TypedTool for ReadFile {
    type Args = ReadFileArgs;

    fn name(&self) -> &str {
        "read_file"
    }

    fn description(&self) -> &str {
        "Read a text file from the workspace with line numbers. Paths are relative to the workspace root. \
         Use offset (1-based first line) and limit (line count) to page through large files; the header \
         gives the total line count and the footer says how to continue. Binary files are refused."
    }

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    async fn run(&self, args: ReadFileArgs, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let this = self.clone();
        let text = blocking(move || this.read(&args)).await?;
        Ok(ToolOutput::ok(text))
    }
}

/// Run `f` on the blocking pool (file I/O and CPU-heavy work never run on a runtime thread).
pub(crate) async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::InvalidArgument(format!("tool task failed: {e}")))?
}

/// [`off_runtime`] with the error as the model sees it.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T, ToolError> {
    off_runtime(f).await.map_err(ToolError::from)
}

/// Run `f` on the blocking pool with a stop flag that is raised when `cancel` fires or when
/// the returned future is dropped; `f` should poll the flag and return early.
pub(crate) async fn blocking_cancellable<T: Send + 'static>(
    cancel: &tokio_util::sync::CancellationToken,
    f: impl FnOnce(&std::sync::atomic::AtomicBool) -> Result<T> + Send + 'static,
) -> Result<T, ToolError> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    struct StopOnDrop(Arc<AtomicBool>, tokio::task::JoinHandle<()>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
            self.1.abort();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let token = cancel.clone();
    let watcher = tokio::spawn(async move {
        token.cancelled().await;
        flag.store(true, Ordering::Relaxed);
    });
    let _guard = StopOnDrop(stop.clone(), watcher);
    let result = blocking(move || f(&stop)).await;
    if cancel.is_cancelled() {
        return Err(ToolError::Cancelled);
    }
    result
}

/// Replace the workspace file `rel` (host path `host`) with `bytes`, relative to the root
/// handle ([`crate::beneath::Anchor::replace`]: parents created, a temp file renamed over it,
/// the old permissions kept, a symlink at the destination replaced and never followed).
/// Returns whether it existed. No fsync: workspace files are the agent's scratch work, a crash
/// still leaves the old or the new content (never a torn file), and an fsync per write would
/// make every `write_file`/`edit_file` wait on the disk.
fn replace_file(ws: &Workspace, host: &Path, rel: &str, bytes: &[u8]) -> Result<bool> {
    ws.anchor()
        .replace(ws.rel_path(host)?, bytes)
        .map_err(|e| Error::open(e, "writing", rel))
}

/// Check that writing `len` bytes at `host` stays within the workspace quota, if any.
fn check_quota(ws: &Workspace, host: &Path, len: usize, what: &str) -> Result<()> {
    let Some(quota) = ws.quota() else {
        return Ok(());
    };
    let (old_len, new_file) = match std::fs::symlink_metadata(host) {
        Ok(m) => (m.len(), 0),
        Err(_) => (0, 1),
    };
    let grows = (len as u64).saturating_sub(old_len);
    quota.check(ws, grows, new_file, what).map(|_| ())
}

/// Arguments of `write_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFileArgs {
    /// File path relative to the workspace root; must be inside a writable mount (e.g. `scratch/report.md`).
    pub path: String,
    /// The complete new content of the file.
    pub content: String,
}

/// `write_file`: create or overwrite a file in a writable mount.
#[derive(Clone, Debug)]
pub struct WriteFile {
    ws: Workspace,
}

impl WriteFile {
    /// `write_file` over `ws`.
    pub fn new(ws: Workspace) -> Self {
        WriteFile { ws }
    }

    /// Write synchronously.
    pub fn write(&self, args: &WriteFileArgs) -> Result<String> {
        let r = self.ws.resolve(&args.path, Access::Write)?;
        check_quota(
            &self.ws,
            &r.host,
            args.content.len(),
            &format!("writing `{}`", r.rel),
        )?;
        let existed = replace_file(&self.ws, &r.host, &r.rel, args.content.as_bytes())?;
        let lines = args.content.lines().count();
        Ok(format!(
            "{} `{}` ({} bytes, {lines} lines)",
            if existed { "overwrote" } else { "created" },
            r.rel,
            args.content.len()
        ))
    }
}

#[async_trait]
impl TypedTool for WriteFile {
    type Args = WriteFileArgs;

    fn name(&self) -> &str {
        "write_file"
    }

    fn description(&self) -> &str {
        "Create or overwrite a file with the given content. Only paths inside writable mounts (e.g. scratch/) \
         are accepted; parent directories are created. To change part of an existing file use edit_file."
    }

    fn annotations(&self) -> ToolAnnotations {
        // Writing the same content twice leaves the same file; it may overwrite one.
        ToolAnnotations {
            read_only: false,
            destructive: true,
            idempotent: true,
            open_world: false,
        }
    }

    async fn run(&self, args: WriteFileArgs, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let this = self.clone();
        Ok(ToolOutput::ok(blocking(move || this.write(&args)).await?))
    }
}

/// Arguments of `edit_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditFileArgs {
    /// File path relative to the workspace root; must be inside a writable mount.
    pub path: String,
    /// Exact text to replace (whitespace and indentation included). Must occur exactly once unless replace_all is true.
    pub old_string: String,
    /// Replacement text.
    pub new_string: String,
    /// Replace every occurrence instead of requiring a unique match (default false).
    #[serde(default)]
    pub replace_all: bool,
}

/// `edit_file`: exact-match replacement that refuses missing or ambiguous matches.
#[derive(Clone, Debug)]
pub struct EditFile {
    ws: Workspace,
}

impl EditFile {
    /// `edit_file` over `ws`.
    pub fn new(ws: Workspace) -> Self {
        EditFile { ws }
    }

    /// Edit synchronously.
    pub fn edit(&self, args: &EditFileArgs) -> Result<String> {
        if args.old_string.is_empty() {
            return Err(Error::InvalidArgument(
                "old_string is empty; use write_file to create a file".into(),
            ));
        }
        if args.old_string == args.new_string {
            return Err(Error::InvalidArgument(
                "old_string and new_string are identical; nothing to change".into(),
            ));
        }
        let r = self.ws.resolve(&args.path, Access::Write)?;
        let mut bytes = Vec::new();
        self.ws
            .anchor()
            .read(self.ws.rel_path(&r.host)?)
            .map_err(|e| Error::open(e, "reading", &r.rel))?
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading", &r.rel, e))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::InvalidArgument(format!(
                "`{}` is not valid UTF-8 text; edit it with `shell` instead",
                r.rel
            ))
        })?;
        let count = text.matches(args.old_string.as_str()).count();
        if count == 0 {
            return Err(Error::InvalidArgument(format!(
                "old_string not found in `{}` (0 matches); read the file again and copy the exact text, including whitespace",
                r.rel
            )));
        }
        if count > 1 && !args.replace_all {
            return Err(Error::InvalidArgument(format!(
                "old_string matches {count} times in `{}`; include more surrounding lines to make it unique, or set replace_all to true",
                r.rel
            )));
        }
        let first_line = text
            .find(args.old_string.as_str())
            .map(|at| text[..at].matches('\n').count() + 1)
            .unwrap_or(1);
        let new = if args.replace_all {
            text.replace(args.old_string.as_str(), &args.new_string)
        } else {
            text.replacen(args.old_string.as_str(), &args.new_string, 1)
        };
        check_quota(
            &self.ws,
            &r.host,
            new.len(),
            &format!("editing `{}`", r.rel),
        )?;
        replace_file(&self.ws, &r.host, &r.rel, new.as_bytes())?;
        Ok(format!(
            "replaced {count} occurrence{} in `{}` (first at line {first_line})",
            if count == 1 { "" } else { "s" },
            r.rel
        ))
    }
}

#[async_trait]
impl TypedTool for EditFile {
    type Args = EditFileArgs;

    fn name(&self) -> &str {
        "edit_file"
    }

    fn description(&self) -> &str {
        "Replace an exact string in a file inside a writable mount. old_string must match exactly once \
         (copy it from read_file output without the line-number prefix); a missing or ambiguous match is \
         refused with the number of matches found. Set replace_all to change every occurrence."
    }

    fn annotations(&self) -> ToolAnnotations {
        // A second identical edit may change the file again (e.g. `replace_all` of `a` by `aa`).
        ToolAnnotations {
            read_only: false,
            destructive: true,
            idempotent: false,
            open_world: false,
        }
    }

    async fn run(&self, args: EditFileArgs, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let this = self.clone();
        Ok(ToolOutput::ok(blocking(move || this.edit(&args)).await?))
    }
}
