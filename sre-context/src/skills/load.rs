//! Reading `SKILL.md` folders (Agent Skills layout) into [`Skill`]s, for hosts that do not
//! load skills themselves. Only what a skill needs at run time is read: `name`, the whole
//! `description`, `allowed-tools` (string or list) and the body; other front-matter keys
//! are ignored (a host validating the open spec in full does so before building a set).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Skill;
use crate::error::ContextError;

#[derive(Deserialize)]
struct FrontMatter {
    name: Option<String>,
    description: Option<String>,
    #[serde(rename = "allowed-tools", alias = "allowed_tools")]
    allowed_tools: Option<ToolList>,
}

/// `allowed-tools: a b` or `allowed-tools: [a, b]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum ToolList {
    Words(String),
    List(Vec<String>),
}

impl ToolList {
    fn names(self) -> Vec<String> {
        match self {
            ToolList::Words(s) => s.split_whitespace().map(str::to_string).collect(),
            ToolList::List(v) => v
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }
}

/// Parse a `SKILL.md`: YAML front matter between `---` lines at the top, then the body.
/// `file` names it in errors (`file:line:column`). The skill has no files folder: set it
/// with [`Skill::files`] (as [`load_skills`] does).
pub fn parse_skill(text: &str, file: &str) -> Result<Skill, ContextError> {
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
            end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((end, body_start)) = end else {
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
    let description = fm.description.unwrap_or_default().trim().to_string();
    if description.is_empty() {
        return Err(err(Some(2), format!("skill `{name}` has no `description`")));
    }
    let body = text[body_start..].trim().to_string();
    let tools = fm.allowed_tools.map(ToolList::names).unwrap_or_default();
    Ok(Skill::new(name, description, body).tools(tools))
}

/// Every `<root>/<folder>/SKILL.md`, sorted by folder name, each with its folder as its
/// files, mounted at `<mount>/<folder>` (`mount` is how the agent's file tools address
/// `root`). A bad file is an error naming it, and two skills with one name are an error.
pub fn load_skills(root: &Path, mount: &str) -> Result<Vec<Skill>, ContextError> {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .map_err(|e| ContextError::io(root, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("SKILL.md").is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    dirs.sort();
    let mut skills: Vec<(Skill, String)> = Vec::with_capacity(dirs.len());
    let mount = mount.trim_end_matches('/');
    for (dir, path) in dirs {
        let file = path.join("SKILL.md");
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|e| ContextError::io(&file, e))?;
        let skill = parse_skill(&text, &shown)?;
        if let Some((_, other)) = skills.iter().find(|(s, _)| s.name == skill.name) {
            return Err(ContextError::Invalid {
                file: shown,
                path: "name".into(),
                message: format!("skill `{}` is also defined in {other}", skill.name),
            });
        }
        let at = if mount.is_empty() {
            dir
        } else {
            format!("{mount}/{dir}")
        };
        skills.push((skill.files(path, at), shown));
    }
    Ok(skills.into_iter().map(|(s, _)| s).collect())
}
