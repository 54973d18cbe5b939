//! `list`: a directory tree with depth and entry caps.

use std::path::Path;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use sre_core::{ToolAnnotations, ToolContext, ToolError, ToolOutput, TypedTool};

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
        let meta = std::fs::metadata(&r.host).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound {
                    path: r.rel.clone(),
                }
            } else {
                Error::io("listing", &r.rel, e)
            }
        })?;
        if !meta.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "`{}` is a file ({}); use read_file",
                r.rel,
                human_size(meta.len())
            )));
        }
        let depth = args.depth.unwrap_or(2).clamp(1, 10) as usize;
        let mut budget = args.max_entries.unwrap_or(300).clamp(1, 10_000) as usize;
        let mut out = format!("{}/{}\n", r.rel, self.mount_note(&r.host));
        self.walk(&r.host, 1, depth, &mut budget, &mut out);
        Ok(out)
    }

    fn mount_note(&self, host: &Path) -> String {
        match self.ws.mounts().iter().find(|m| m.host == host) {
            Some(m) if m.mode == MountMode::Writable => "  [writable mount]".into(),
            Some(_) => "  [read-only mount]".into(),
            None => String::new(),
        }
    }

    fn walk(&self, dir: &Path, level: usize, depth: usize, budget: &mut usize, out: &mut String) {
        let indent = "  ".repeat(level);
        let mut entries: Vec<_> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok()).collect(),
            Err(e) => {
                out.push_str(&format!("{indent}[cannot read: {e}]\n"));
                return;
            }
        };
        entries.sort_by_key(|e| e.file_name());
        let count = entries.len();
        for (i, entry) in entries.into_iter().enumerate() {
            if *budget == 0 {
                out.push_str(&format!("{indent}[... {} more entries not shown; raise max_entries or list a subdirectory]\n", count - i));
                return;
            }
            *budget -= 1;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_symlink() {
                let target = std::fs::read_link(&path)
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push_str(&format!("{indent}{name} -> {target}\n"));
            } else if ft.is_dir() {
                let note = self.mount_note(&path);
                if level >= depth || name == ".git" {
                    let n = std::fs::read_dir(&path).map(|rd| rd.count()).unwrap_or(0);
                    out.push_str(&format!("{indent}{name}/  ({n} entries){note}\n"));
                } else {
                    out.push_str(&format!("{indent}{name}/{note}\n"));
                    self.walk(&path, level + 1, depth, budget, out);
                }
            } else {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                out.push_str(&format!("{indent}{name}  {}\n", human_size(size)));
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
