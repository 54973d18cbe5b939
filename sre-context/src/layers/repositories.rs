//! The repositories layer: for each attached repository, a capped, sorted tree that
//! respects `.gitignore`, and the instruction files (`AGENTS.md` and alternatives) from the
//! repository root down to the working directory, nearest last.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use sre_core::{ContextLayer, LayerContext};

use crate::error::ContextError;

/// Caps of a serialized tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeLimits {
    /// Directory levels shown below the root (1 = top level only). Default 3.
    pub max_depth: usize,
    /// Entries shown. Default 200.
    pub max_entries: usize,
    /// Bytes of tree text. Default 6 KiB.
    pub max_bytes: usize,
}

impl Default for TreeLimits {
    fn default() -> Self {
        TreeLimits {
            max_depth: 3,
            max_entries: 200,
            max_bytes: 6 * 1024,
        }
    }
}

/// Caps and names of instruction files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstructionLimits {
    /// File names looked for in each directory, by priority (matched case-insensitively;
    /// the first present wins in a directory). Default `AGENTS.md`, `CLAUDE.md`,
    /// `Copilot.md`, `.github/copilot-instructions.md`.
    pub names: Vec<String>,
    /// Bytes per file. Default 8 KiB.
    pub max_file_bytes: usize,
    /// Bytes of all files together (the nearest are kept first). Default 16 KiB.
    pub max_total_bytes: usize,
}

impl Default for InstructionLimits {
    fn default() -> Self {
        InstructionLimits {
            names: vec![
                "AGENTS.md".into(),
                "CLAUDE.md".into(),
                "Copilot.md".into(),
                ".github/copilot-instructions.md".into(),
            ],
            max_file_bytes: 8 * 1024,
            max_total_bytes: 16 * 1024,
        }
    }
}

/// A repository attached to the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    /// Display name.
    pub name: String,
    /// Root on the host's disk.
    pub root: PathBuf,
    /// How the agent's tools address the root (e.g. `repos/checkout`). Default: the name.
    pub mount: String,
    /// Working directory relative to the root (instruction files are read down to it).
    pub working_dir: PathBuf,
}

impl Repository {
    /// A repository at `root`, addressed as `name`, working at its root.
    pub fn new(name: impl Into<String>, root: impl Into<PathBuf>) -> Self {
        let name = name.into();
        Repository {
            mount: name.clone(),
            name,
            root: root.into(),
            working_dir: PathBuf::new(),
        }
    }

    /// How the agent's tools address the root.
    pub fn mount(mut self, mount: impl Into<String>) -> Self {
        self.mount = mount.into();
        self
    }

    /// The working directory, relative to the root.
    pub fn working_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.working_dir = dir.into();
        self
    }
}

/// Instruction files as `(relative path, text)`, root first, and a note naming files the
/// size cap left out.
pub type Instructions = (Vec<(String, String)>, Option<String>);

/// Serialize the tree under `root`: sorted by name, `.gitignore`d and `.git` entries left
/// out, directories suffixed with `/`, two spaces of indent per level, and a last line
/// saying what the caps cut.
pub fn render_tree(root: &Path, limits: TreeLimits) -> Result<String, ContextError> {
    if !root.is_dir() {
        return Err(ContextError::Walk {
            path: root.to_path_buf(),
            message: "not a directory".into(),
        });
    }
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .ignore(true)
        .parents(false)
        .require_git(false)
        .max_depth(Some(limits.max_depth))
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|e| e.file_name() != ".git")
        .build();
    let mut out = String::new();
    let mut shown = 0usize;
    let mut total = 0usize;
    let mut cut_by = None;
    const COUNT_LIMIT: usize = 100_000;
    for entry in walker {
        let entry = entry.map_err(|e| ContextError::Walk {
            path: root.to_path_buf(),
            message: e.to_string(),
        })?;
        let depth = entry.depth();
        if depth == 0 {
            continue;
        }
        total += 1;
        if cut_by.is_some() {
            if total >= COUNT_LIMIT {
                break;
            }
            continue;
        }
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        let name = entry.file_name().to_string_lossy();
        let line = format!(
            "{}{}{}\n",
            "  ".repeat(depth - 1),
            name,
            if is_dir { "/" } else { "" }
        );
        if shown >= limits.max_entries {
            cut_by = Some("entries");
        } else if out.len() + line.len() > limits.max_bytes {
            cut_by = Some("bytes");
        } else {
            out.push_str(&line);
            shown += 1;
        }
    }
    if let Some(limit) = cut_by {
        let more = if total >= COUNT_LIMIT {
            format!("at least {}", total - shown)
        } else {
            (total - shown).to_string()
        };
        let _ = writeln!(
            out,
            "[tree truncated by the {limit} cap: {shown} entries shown, {more} more (limits: depth {}, {} entries, {} bytes)]",
            limits.max_depth, limits.max_entries, limits.max_bytes
        );
    }
    Ok(out)
}

/// The instruction files from `root` down to `root/working_dir`, root first (nearest
/// last), each as `(relative path, text)`, and a note naming files left out, within the caps: the nearest files are kept
/// first; a file over its cap keeps its head; files beyond the total cap are named in a note.
pub fn discover_instructions(
    root: &Path,
    working_dir: &Path,
    limits: &InstructionLimits,
) -> Result<Instructions, ContextError> {
    if working_dir
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(ContextError::Config(format!(
            "working directory `{}` must be relative to the repository root, without `..`",
            working_dir.display()
        )));
    }
    let mut dirs = vec![PathBuf::new()];
    let mut rel = PathBuf::new();
    for c in working_dir.components() {
        if let Component::Normal(part) = c {
            rel.push(part);
            dirs.push(rel.clone());
        }
    }
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for dir in &dirs {
        let abs = root.join(dir);
        if !abs.is_dir() {
            break;
        }
        if let Some((rel_file, file)) = find_instruction(&abs, &limits.names) {
            let shown = dir.join(rel_file);
            found.push((shown.to_string_lossy().replace('\\', "/"), file));
        }
    }
    // Nearest first within the total cap, then back to root-first order.
    let mut kept: Vec<(String, String)> = Vec::new();
    let mut omitted: Vec<String> = Vec::new();
    let mut left = limits.max_total_bytes;
    for (shown, file) in found.into_iter().rev() {
        if left == 0 {
            omitted.push(shown);
            continue;
        }
        let bytes = std::fs::read(&file).map_err(|e| ContextError::io(&file, e))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let cap = limits.max_file_bytes.min(left);
        let text = super::cap(text, cap, "instructions");
        left = left.saturating_sub(text.len());
        kept.push((shown, text));
    }
    kept.reverse();
    omitted.reverse();
    let note = (!omitted.is_empty()).then(|| {
        format!(
            "[instruction files left out by the size cap, read them if needed: {}]",
            omitted.join(", ")
        )
    });
    Ok((kept, note))
}

/// The first of `names` present in `dir` (case-insensitive on the last component).
fn find_instruction(dir: &Path, names: &[String]) -> Option<(PathBuf, PathBuf)> {
    for name in names {
        let rel = Path::new(name);
        let parent = rel
            .parent()
            .map(|p| dir.join(p))
            .unwrap_or(dir.to_path_buf());
        let want = rel.file_name()?.to_string_lossy().to_lowercase();
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        let mut matches: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.to_lowercase() == want)
            .collect();
        matches.sort();
        if let Some(actual) = matches.into_iter().next() {
            let rel_path = rel
                .parent()
                .map(|p| p.join(&actual))
                .unwrap_or(PathBuf::from(&actual));
            return Some((rel_path, parent.join(actual)));
        }
    }
    None
}

/// Renders every attached repository (walks and reads run on the blocking pool):
///
/// ```text
/// Repository checkout at `repos/checkout` (working directory: services/api)
/// Tree (depth 3; .gitignore respected):
/// AGENTS.md
/// services/
///   api/
///     AGENTS.md
///     main.go
/// Instructions (root to working directory; nearest last, it wins on conflicts):
/// --- AGENTS.md ---
/// Run `make test` before proposing a change.
/// --- services/api/AGENTS.md ---
/// This service owns the checkout flow.
/// ```
#[derive(Clone, Debug, Default)]
pub struct RepositoriesLayer {
    repositories: Vec<Repository>,
    tree: TreeLimits,
    instructions: InstructionLimits,
}

impl RepositoriesLayer {
    /// A layer over `repositories` (in the order given) with default caps.
    pub fn new(repositories: impl IntoIterator<Item = Repository>) -> Self {
        RepositoriesLayer {
            repositories: repositories.into_iter().collect(),
            ..RepositoriesLayer::default()
        }
    }

    /// Tree caps.
    pub fn tree_limits(mut self, limits: TreeLimits) -> Self {
        self.tree = limits;
        self
    }

    /// Instruction-file names and caps.
    pub fn instruction_limits(mut self, limits: InstructionLimits) -> Self {
        self.instructions = limits;
        self
    }

    /// The text (empty when no repository is attached).
    pub fn render_text(&self) -> Result<String, ContextError> {
        let mut out = String::new();
        for repo in &self.repositories {
            if !out.is_empty() {
                out.push('\n');
            }
            let wd = repo.working_dir.to_string_lossy().replace('\\', "/");
            let _ = write!(out, "Repository {} at `{}`", repo.name, repo.mount);
            if !wd.is_empty() && wd != "." {
                let _ = write!(out, " (working directory: {wd})");
            }
            let _ = writeln!(
                out,
                "\nTree (depth {}; .gitignore respected):",
                self.tree.max_depth
            );
            out.push_str(&render_tree(&repo.root, self.tree)?);
            let (files, note) =
                discover_instructions(&repo.root, &repo.working_dir, &self.instructions)?;
            if !files.is_empty() {
                out.push_str(
                    "Instructions (root to working directory; nearest last, it wins on conflicts):\n",
                );
                for (path, text) in files {
                    let _ = writeln!(out, "--- {path} ---\n{}", text.trim_end());
                }
            }
            if let Some(note) = note {
                let _ = writeln!(out, "{note}");
            }
        }
        Ok(out.trim_end().to_string())
    }
}

#[async_trait]
impl ContextLayer for RepositoriesLayer {
    fn name(&self) -> &str {
        "repositories"
    }

    async fn render(&self, _ctx: &LayerContext<'_>) -> sre_core::Result<String> {
        let this = self.clone();
        super::off_runtime(move || this.render_text()).await
    }
}
