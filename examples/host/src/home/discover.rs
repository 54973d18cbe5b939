//! Finding the files of an agent home: every `*.yaml`/`*.yml`, `SKILL.md` folders under a
//! `skills/` folder (`skills/`, `.agents/skills/`, `.claude/skills/`...), and Claude Code
//! `settings.json` (at the root or in `.claude/`).

use std::path::{Path, PathBuf};

/// Deepest folder level searched.
pub const MAX_DEPTH: usize = 16;
/// Most files looked at.
pub const MAX_FILES: usize = 10_000;

/// Hidden folders that are searched.
const HIDDEN_SEARCHED: &[&str] = &[".agents", ".claude"];
/// Folders never searched.
const SKIPPED: &[&str] = &["node_modules", "target", "__pycache__", "venv"];

/// What was found, each list sorted.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub yaml: Vec<PathBuf>,
    /// Folders holding a `SKILL.md`, under a `skills` folder.
    pub skill_dirs: Vec<PathBuf>,
    /// `SKILL.md` files outside any `skills` folder (not loaded).
    pub stray_skill_md: Vec<PathBuf>,
    pub settings: Vec<PathBuf>,
    /// Folders that could not be read, and why.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Whether a limit stopped the search.
    pub truncated: bool,
}

/// Walk `root` (symbolic links to files are followed, to folders not).
pub(crate) fn discover(root: &Path) -> Found {
    let mut found = Found::default();
    for s in [
        root.join("settings.json"),
        root.join(".claude").join("settings.json"),
    ] {
        if s.is_file() {
            found.settings.push(s);
        }
    }
    let mut seen = 0usize;
    // (folder, depth, whether a folder above it is named `skills`)
    let mut todo = vec![(root.to_path_buf(), 0usize, false)];
    while let Some((dir, depth, under_skills)) = todo.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(rd) => {
                let mut v: Vec<_> = rd.filter_map(Result::ok).collect();
                v.sort_by_key(|e| e.file_name());
                v
            }
            Err(e) => {
                found.unreadable.push((dir, e.to_string()));
                continue;
            }
        };
        if dir != root && entries.iter().any(|e| e.file_name() == "SKILL.md") {
            if under_skills {
                found.skill_dirs.push(dir);
                // Its files are the skill's resources, not home documents.
                continue;
            }
            found.stray_skill_md.push(dir.join("SKILL.md"));
        }
        let dir_is_skills = dir != root && dir.file_name().is_some_and(|n| n == "skills");
        let mut subdirs = Vec::new();
        for e in entries {
            seen += 1;
            if seen > MAX_FILES {
                found.truncated = true;
                break;
            }
            let name = e.file_name();
            let name = name.to_string_lossy();
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                let hidden = name.starts_with('.') && !HIDDEN_SEARCHED.contains(&name.as_ref());
                if hidden || SKIPPED.contains(&name.as_ref()) {
                    continue;
                }
                if depth + 1 > MAX_DEPTH {
                    found.truncated = true;
                    continue;
                }
                subdirs.push((path, depth + 1, under_skills || dir_is_skills));
                continue;
            }
            let is_file = ft.is_file() || (ft.is_symlink() && path.is_file());
            let ext = Path::new(name.as_ref())
                .extension()
                .map(|x| x.to_string_lossy().to_ascii_lowercase());
            if is_file && matches!(ext.as_deref(), Some("yaml" | "yml")) {
                found.yaml.push(path);
            }
        }
        // Depth first, in name order.
        todo.extend(subdirs.into_iter().rev());
    }
    found.yaml.sort();
    found.skill_dirs.sort();
    found
}
