//! Skills: `kind: SkillConfiguration` (instructions inline) and Agent Skills folders
//! (`<name>/SKILL.md` with YAML front matter, plus `scripts/`, `references/`, `assets/`),
//! checked against the open spec's rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::diag::{Sink, Source};
use super::document::Envelope;
use super::fields::{Fields, Spanned};
use super::yaml::{self, Pos};
use super::{Location, ToolRef};

/// Longest skill name (spec).
pub const MAX_SKILL_NAME: usize = 64;
/// Longest description (spec).
pub const MAX_SKILL_DESCRIPTION: usize = 1024;
/// Longest `compatibility` (spec).
pub const MAX_SKILL_COMPATIBILITY: usize = 500;
/// Most resource files listed per skill folder.
pub const MAX_SKILL_FILES: usize = 1000;

/// One skill.
#[derive(Clone, Debug, PartialEq)]
pub struct SkillDef {
    /// Unique name.
    pub name: String,
    /// Name for people (`SkillConfiguration` only).
    pub display_name: Option<String>,
    /// The whole description (what it does and when to load it): the catalog shows it.
    pub description: String,
    /// The body: `instructions`, or the Markdown after the front matter.
    pub instructions: String,
    /// The skill's folder (`SKILL.md` skills); its files are read on demand.
    pub dir: Option<PathBuf>,
    /// Files of the folder besides `SKILL.md` (`references/x.md`, `scripts/y.py`...),
    /// relative to [`SkillDef::dir`], sorted.
    pub files: Vec<PathBuf>,
    /// Tools usable only while the skill is active (`SkillConfiguration.tools`).
    pub tools: Vec<ToolRef>,
    /// `allowed-tools` of a `SKILL.md` as written (experimental in the spec; Claude Code
    /// reads it as pre-approval, e.g. `Bash(git:*)`): not enforced.
    pub allowed_tools: Vec<String>,
    /// Connectors the skill uses (`mcp_connectors`).
    pub connectors: Vec<String>,
    /// `license`.
    pub license: Option<String>,
    /// `compatibility`.
    pub compatibility: Option<String>,
    /// `metadata` (string map).
    pub metadata: BTreeMap<String, String>,
    /// Where it is defined (`SKILL.md` or the YAML document).
    pub location: Location,
}

/// A skill as parsed, references unresolved.
pub(crate) struct SkillDraft {
    pub def: SkillDef,
    pub file: usize,
    pub name_pos: Pos,
    pub tools: Vec<Spanned>,
    pub allowed_tools: Vec<Spanned>,
    pub connectors: Vec<Spanned>,
}

const CONFIG_FIELDS: &[&str] = &[
    "name",
    "display_name",
    "description",
    "instructions",
    "mcp_connectors",
    "connectors",
    "tools",
];

pub(crate) fn parse_skill_configuration(
    env: &Envelope<'_>,
    file: usize,
    src: &Source,
    out: &mut Sink,
) -> Option<SkillDraft> {
    let mut f = Fields::of(env.spec?, "spec", src, out)?;
    let (name, name_pos) = match f.take(&["name"], src, out) {
        Some(n) => (n.string(src, out)?, n.node.pos),
        None => match &env.meta_name {
            Some(m) => (m.value.clone(), m.pos),
            None => {
                out.error(src, f.pos(), "spec.name", "missing: a skill needs a name");
                return None;
            }
        },
    };
    super::agent::check_name(&name, name_pos, "spec.name", "skill", src, out);
    let display_name = f
        .take(&["display_name"], src, out)
        .and_then(|x| x.string(src, out));
    let description = match f.take(&["description"], src, out) {
        Some(x) => x.string(src, out).unwrap_or_default(),
        None => {
            out.error(
                src,
                f.pos(),
                "spec.description",
                "missing: the description tells the model when to load the skill",
            );
            String::new()
        }
    };
    let instructions = match f.take(&["instructions"], src, out) {
        Some(x) => x
            .string(src, out)
            .and_then(|s| {
                super::document::text_or_file(&s, x.node.pos, "spec.instructions", src, out)
            })
            .unwrap_or_default(),
        None => {
            out.error(
                src,
                f.pos(),
                "spec.instructions",
                "missing: the skill's instructions",
            );
            String::new()
        }
    };
    let connectors = f
        .take(&["mcp_connectors", "connectors"], src, out)
        .map(|x| x.strings(false, src, out))
        .unwrap_or_default();
    let tools = f
        .take(&["tools"], src, out)
        .map(|x| x.strings(false, src, out))
        .unwrap_or_default();
    f.finish(CONFIG_FIELDS, &[], false, src, out);
    Some(SkillDraft {
        def: SkillDef {
            name,
            display_name,
            description,
            instructions,
            dir: None,
            files: Vec::new(),
            tools: Vec::new(),
            allowed_tools: Vec::new(),
            connectors: connectors.iter().map(|s| s.value.clone()).collect(),
            license: None,
            compatibility: None,
            metadata: BTreeMap::new(),
            location: Location::new(src, env.pos),
        },
        file,
        name_pos,
        tools,
        allowed_tools: Vec::new(),
        connectors,
    })
}

const FRONT_MATTER_FIELDS: &[&str] = &[
    "name",
    "description",
    "license",
    "compatibility",
    "metadata",
    "allowed_tools",
];

/// Claude Code's front-matter extras: accepted, not honoured.
const CLAUDE_EXTRAS: &[(&str, &str)] = &[
    (
        "disable_model_invocation",
        "every skill is offered to the model",
    ),
    ("user_invocable", "there are no slash commands"),
    ("argument_hint", "there are no slash commands"),
    ("model", "a skill runs on its agent's model"),
    (
        "context",
        "running a skill in a forked context is not implemented",
    ),
    ("hooks", "skill-scoped hooks are not implemented"),
];

/// Parse `<dir>/SKILL.md` (its text in `src`).
pub(crate) fn parse_skill_md(
    dir: &Path,
    file: usize,
    src: &Source,
    out: &mut Sink,
) -> Option<SkillDraft> {
    let text = src.text.strip_prefix('\u{feff}').unwrap_or(&src.text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        out.error(
            src,
            Pos { line: 1, column: 1 },
            "",
            "SKILL.md must start with YAML front matter between `---` lines",
        )
        .help("begin the file with `---`, `name: ...`, `description: ...`, `---`");
        return None;
    }
    let mut offset = first.len();
    let mut end = None;
    for line in lines {
        if matches!(line.trim_end(), "---" | "...") {
            end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((fm_end, body_start)) = end else {
        out.error(
            src,
            Pos { line: 1, column: 1 },
            "",
            "the front matter is not closed (no second `---` line)",
        );
        return None;
    };
    let front = &text[first.len()..fm_end];
    let body = text[body_start..]
        .trim_start_matches(['\n', '\r'])
        .to_string();
    let (docs, errors) = yaml::parse(front, 1);
    for e in &errors {
        out.error(src, e.pos, "", e.message.clone());
    }
    let root = docs.into_iter().next()?;
    let mut f = Fields::of(&root, "", src, out)?;
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let (name, name_pos) = match f.take(&["name"], src, out) {
        Some(x) => (x.string(src, out)?, x.node.pos),
        None => {
            out.warn(
                src,
                root.pos,
                "name",
                format!("missing `name`: the folder name `{folder}` is used"),
            );
            (folder.clone(), root.pos)
        }
    };
    check_spec_name(&name, &folder, name_pos, src, out);
    let description = match f.take(&["description"], src, out) {
        Some(x) => {
            let d = x.string(src, out).unwrap_or_default();
            if d.trim().is_empty() {
                out.error(src, x.node.pos, "description", "must not be empty");
            } else if d.chars().count() > MAX_SKILL_DESCRIPTION {
                out.warn(
                    src,
                    x.node.pos,
                    "description",
                    format!(
                        "{} characters: the spec allows {MAX_SKILL_DESCRIPTION} (loaded anyway)",
                        d.chars().count()
                    ),
                );
            }
            d
        }
        None => {
            out.error(
                src,
                root.pos,
                "description",
                "missing: the description tells the model what the skill does and when to load it",
            );
            String::new()
        }
    };
    let license = f
        .take(&["license"], src, out)
        .and_then(|x| x.text(src, out));
    let compatibility = f.take(&["compatibility"], src, out).and_then(|x| {
        let c = x.string(src, out)?;
        if c.chars().count() > MAX_SKILL_COMPATIBILITY {
            out.warn(
                src,
                x.node.pos,
                "compatibility",
                format!(
                    "longer than the spec's {MAX_SKILL_COMPATIBILITY} characters (loaded anyway)"
                ),
            );
        }
        Some(c)
    });
    let metadata = f
        .take(&["metadata"], src, out)
        .map(|x| x.string_map(src, out))
        .unwrap_or_default();
    let allowed_tools = f
        .take(&["allowed_tools"], src, out)
        .map(|x| x.strings(true, src, out))
        .unwrap_or_default();
    f.finish(FRONT_MATTER_FIELDS, CLAUDE_EXTRAS, true, src, out);

    Some(SkillDraft {
        def: SkillDef {
            name,
            display_name: None,
            description,
            instructions: body,
            dir: Some(dir.to_path_buf()),
            files: list_files(dir),
            tools: Vec::new(),
            allowed_tools: allowed_tools.iter().map(|s| s.value.clone()).collect(),
            connectors: Vec::new(),
            license,
            compatibility,
            metadata,
            location: Location::new(src, Pos { line: 1, column: 1 }),
        },
        file,
        name_pos,
        tools: Vec::new(),
        allowed_tools,
        connectors: Vec::new(),
    })
}

/// The spec: 1-64 characters of `[a-z0-9-]`, no leading, trailing or double `-`, equal to
/// the folder's name. Capitals and `_` (accepted by other tools) are warnings.
fn check_spec_name(name: &str, folder: &str, pos: Pos, src: &Source, out: &mut Sink) {
    if name.is_empty() || name.chars().count() > MAX_SKILL_NAME {
        out.error(
            src,
            pos,
            "name",
            format!("a skill name has 1 to {MAX_SKILL_NAME} characters"),
        );
        return;
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        out.error(
            src,
            pos,
            "name",
            format!("`{name}`: {c:?} is not allowed in a skill name (use a-z, 0-9 and `-`)"),
        );
        return;
    }
    if name != folder {
        out.error(
            src,
            pos,
            "name",
            format!("`{name}` differs from its folder name `{folder}`"),
        )
        .help("the spec requires `name` to equal the folder's name: rename one of them");
        return;
    }
    let spec_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !spec_ok {
        let fixed: String = name.to_ascii_lowercase().replace('_', "-");
        out.warn(
            src,
            pos,
            "name",
            format!(
                "`{name}` does not follow the Agent Skills spec (lowercase letters, digits and single `-`); loaded anyway"
            ),
        )
        .help(format!("other tools may refuse it: `{fixed}` would be portable"));
    }
}

/// The folder's files besides `SKILL.md`, relative, sorted (dot files skipped).
fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![(dir.to_path_buf(), 0usize)];
    while let Some((d, depth)) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.filter_map(Result::ok) {
            if out.len() >= MAX_SKILL_FILES {
                break;
            }
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && depth < 8 {
                todo.push((path, depth + 1));
            } else if ft.is_file()
                && let Ok(rel) = path.strip_prefix(dir)
                && rel != Path::new("SKILL.md")
            {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    out
}
