//! `list`: a directory tree with depth and entry caps.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use sre_core::{ToolAnnotations, ToolContext, ToolError, ToolOutput, TypedTool};

use rustix::fs::{self as rfs, AtFlags, FileType};

use crate::beneath::{self, OpenError};
use crate::error::{Error, Result};
use crate::files::blocking;
use crate::timefmt::human_size;
use crate::workspace::{Access, MountMode, Workspace};

/// Arguments of `list`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Directory to list, relative to the workspace root (default: the root).
    #[serde(default)]
    pub path: Option<String>,
    /// How many levels to descend (default 2, at most 10).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10))]
    pub depth: Option<u32>,
    /// Most entries to show in total (default 300).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_entries: Option<u64>,
}

/// `list`: show a directory tree.
#[derive(Clone, Debug)]
pub struct List {
    ws: Workspace,
}

impl List {
    /// `list` over `ws`.
    pub fn new(ws: Workspace) -> Self {
        List { ws }
    }

    /// List synchronously.
    pub fn list(&self, args: &ListArgs) -> Result<String> {
        let r = self
            .ws
            .resolve(args.path.as_deref().unwrap_or("."), Access::Read)?;
        let anchor = self.ws.anchor();
        let rel = self.ws.rel_path(&r.host)?;
        let dir = match anchor.dir(rel) {
            Ok(dir) => dir,
            Err(OpenError::Io(e)) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                let size = std::fs::symlink_metadata(&r.host).map_or(0, |m| m.len());
                return Err(Error::InvalidArgument(format!(
                    "`{}` is a file ({}); use read_file",
                    r.rel,
                    human_size(size)
                )));
            }
            Err(e) => return Err(Error::open(e, "listing", &r.rel)),
        };
        let depth = args.depth.unwrap_or(2).clamp(1, 10) as usize;
        let mut budget = args.max_entries.unwrap_or(300).clamp(1, 10_000) as usize;
        let mut out = format!("{}/{}\n", r.rel, self.mount_note(&r.host));
        self.walk(&dir, &r.host, 1, depth, &mut budget, &mut out);
        Ok(out)
    }

    fn mount_note(&self, host: &Path) -> String {
        match self.ws.mounts().iter().find(|m| m.host == host) {
            Some(m) if m.mode == MountMode::Writable => "  [writable mount]".into(),
            Some(_) => "  [read-only mount]".into(),
            None => String::new(),
        }
    }

    /// List the directory `host` (open as `dir`, a handle taken without following any
    /// symlink): its entries are read and its subdirectories opened relative to that
    /// handle, so a directory swapped for a symlink meanwhile is never followed.
    fn walk(
        &self,
        dir: &OwnedFd,
        host: &Path,
        level: usize,
        depth: usize,
        budget: &mut usize,
        out: &mut String,
    ) {
        let indent = "  ".repeat(level);
        let mut entries = match beneath::entries(dir) {
            Ok(e) => e,
            Err(e) => {
                out.push_str(&format!("{indent}[cannot read: {e}]\n"));
                return;
            }
        };
        entries.sort();
        let count = entries.len();
        for (i, name) in entries.into_iter().enumerate() {
            if *budget == 0 {
                out.push_str(&format!("{indent}[... {} more entries not shown; raise max_entries or list a subdirectory]\n", count - i));
                return;
            }
            *budget -= 1;
            let shown = name.to_string_lossy().into_owned();
            let Ok(st) = rfs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            match FileType::from_raw_mode(st.st_mode) {
                FileType::Symlink => {
                    let target = rfs::readlinkat(dir, &name, Vec::new())
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    out.push_str(&format!("{indent}{shown} -> {target}\n"));
                }
                FileType::Directory => {
                    let path = host.join(&name);
                    let note = self.mount_note(&path);
                    let sub = beneath::open_dir(dir.as_fd(), &name);
                    if level >= depth || shown == ".git" {
                        let n = sub
                            .ok()
                            .and_then(|d| beneath::entries(&d).ok())
                            .map_or(0, |e| e.len());
                        out.push_str(&format!("{indent}{shown}/  ({n} entries){note}\n"));
                    } else {
                        out.push_str(&format!("{indent}{shown}/{note}\n"));
                        match sub {
                            Ok(sub) => self.walk(&sub, &path, level + 1, depth, budget, out),
                            Err(_) => out.push_str(&format!(
                                "{indent}  [cannot read: it changed while being listed]\n"
                            )),
                        }
                    }
                }
                _ => {
                    let size = u64::try_from(st.st_size).unwrap_or(0);
                    out.push_str(&format!("{indent}{shown}  {}\n", human_size(size)));
                }
            }
        }
    }
}

#[async_trait]
impl TypedTool for List {
    type Args = ListArgs;

    fn name(&self) -> &str {
        "list"
    }

    fn description(&self) -> &str {
        "Show the directory tree under a path (default the workspace root) with file sizes, to a given \
         depth (default 2). Mounts are marked [read-only mount] or [writable mount]; symlinks show their target."
    }

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    async fn run(&self, args: ListArgs, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let this = self.clone();
        Ok(ToolOutput::ok(blocking(move || this.list(&args)).await?))
    }
}
