//! The skills catalog layer: names and one-line descriptions from `SKILL.md` front matter.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Deserialize;
use sre_core::{ContextLayer, LayerContext};

use crate::error::ContextError;

/// A skill as listed in the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skill {
    /// `name` from the front matter.
    pub name: String,
    /// First line of `description`, at most 200 characters.
    pub description: String,
    /// Where its `SKILL.md` is, as the agent addresses it.
    pub path: String,
}

#[derive(Deserialize)]
struct FrontMatter {
    name: Option<String>,
    description: Option<String>,
}

/// Parse the YAML front matter (between `---` lines at the top) of a `SKILL.md`.
/// `file` names it in errors; `path` is how the catalog shows it.
pub fn parse_skill(text: &str, file: &str, path: &str) -> Result<Skill, ContextError> {
    let err = |line: Option<usize>, message: String| ContextError::Parse {
        file: file.to_string(),
        line,
        column: None,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    if lines.next().map(str::trim_end) != Some("---") {
        return Err(err(
            Some(1),
            "no YAML front matter: the file must start with a `---` line".into(),
        ));
    }
    let start = text.find('\n').map(|i| i + 1).unwrap_or(text.len());
    let mut end = None;
    let mut offset = start;
    for line in lines {
        if line.trim_end() == "---" {
            end = Some(offset);
            break;
        }
        offset += line.len();
    }
    let Some(end) = end else {
        return Err(err(
            Some(1),
            "front matter is not closed by a `---` line".into(),
        ));
    };
    let yaml = &text[start..end];
    let fm: FrontMatter =
        serde_yaml_ng::from_str(yaml).map_err(|e| ContextError::yaml(file, &e, 1))?;
    let name = fm.name.map(|n| n.trim().to_string()).unwrap_or_default();
    if name.is_empty() {
        return Err(err(Some(2), "front matter has no `name`".into()));
    }
    if name.contains(char::is_whitespace) {
        return Err(err(
            Some(2),
            format!("skill name `{name}` contains whitespace"),
        ));
    }
    let description = fm.description.unwrap_or_default();
    let description = description
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if description.is_empty() {
        return Err(err(Some(2), format!("skill `{name}` has no `description`")));
    }
    let description = match description.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &description[..i]),
        None => description.to_string(),
    };
    Ok(Skill {
        name,
        description,
        path: path.to_string(),
    })
}

/// Every `<root>/<skill>/SKILL.md`, sorted by folder name; a bad file is an error naming
/// it, and two skills with one name are an error too. `mount` is how the agent addresses
/// `root` (its path in the agent's workspace).
pub fn load_skills(root: &Path, mount: &str) -> Result<Vec<Skill>, ContextError> {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .map_err(|e| ContextError::io(root, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("SKILL.md").is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    dirs.sort();
    let mut skills: Vec<Skill> = Vec::with_capacity(dirs.len());
    for (dir, path) in dirs {
        let file = path.join("SKILL.md");
        let text = std::fs::read_to_string(&file).map_err(|e| ContextError::io(&file, e))?;
        let shown = format!("{}/{dir}/SKILL.md", mount.trim_end_matches('/'));
        let skill = parse_skill(&text, &file.display().to_string(), &shown)?;
        if let Some(other) = skills.iter().find(|s| s.name == skill.name) {
            return Err(ContextError::Invalid {
                file: file.display().to_string(),
                path: "name".into(),
                message: format!("skill `{}` is also defined in {}", skill.name, other.path),
            });
        }
        skills.push(skill);
    }
    Ok(skills)
}

/// Renders the catalog of one or more skill folders, scanned at each render (on the
/// blocking pool; the loop renders static layers once per session):
///
/// ```text
/// Skills (read a skill's SKILL.md before using it):
/// - db-pool-triage: Diagnose connection-pool exhaustion. (skills/db-pool-triage/SKILL.md)
/// ```
#[derive(Clone, Debug, Default)]
pub struct SkillsLayer {
    roots: Vec<(PathBuf, String)>,
}

impl SkillsLayer {
    /// An empty catalog.
    pub fn new() -> Self {
        SkillsLayer::default()
    }

    /// Add a skills folder; `mount` is how the agent's tools address it.
    pub fn root(mut self, dir: impl Into<PathBuf>, mount: impl Into<String>) -> Self {
        self.roots.push((dir.into(), mount.into()));
        self
    }

    /// The skills of every folder, in folder order.
    pub fn skills(&self) -> Result<Vec<Skill>, ContextError> {
        let mut all: Vec<Skill> = Vec::new();
        for (dir, mount) in &self.roots {
            for s in load_skills(dir, mount)? {
                if let Some(other) = all.iter().find(|o| o.name == s.name) {
                    return Err(ContextError::Invalid {
                        file: s.path.clone(),
                        path: "name".into(),
                        message: format!("skill `{}` is also defined in {}", s.name, other.path),
                    });
                }
                all.push(s);
            }
        }
        Ok(all)
    }

    /// The text (empty when there are no skills).
    pub fn render_text(&self) -> Result<String, ContextError> {
        let skills = self.skills()?;
        if skills.is_empty() {
            return Ok(String::new());
        }
        let mut out = String::from("Skills (read a skill's SKILL.md before using it):");
        for s in skills {
            let _ = write!(out, "\n- {}: {} ({})", s.name, s.description, s.path);
        }
        Ok(out)
    }
}

#[async_trait]
impl ContextLayer for SkillsLayer {
    fn name(&self) -> &str {
        "skills"
    }

    async fn render(&self, _ctx: &LayerContext<'_>) -> sre_core::Result<String> {
        let this = self.clone();
        super::off_runtime(move || this.render_text()).await
    }
}
