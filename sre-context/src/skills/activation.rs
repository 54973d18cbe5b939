//! `activate_skill`: returns a skill's instructions and files, and makes it active in the
//! calling session (at most `max_active`, least recently activated unloaded first).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use sre_core::{Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput, TypedTool, typed_tool};

use super::{ACTIVATE_SKILL_TOOL, SkillFiles, Skills};

/// Arguments of `activate_skill`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateArgs {
    /// The skill's name, as listed in the skills catalog.
    pub name: String,
}

pub(super) fn tool(skills: Skills) -> sre_core::Result<Arc<dyn Tool>> {
    typed_tool(ActivateTool { skills })
}

struct ActivateTool {
    skills: Skills,
}

#[async_trait]
impl TypedTool for ActivateTool {
    type Args = ActivateArgs;

    fn name(&self) -> &str {
        ACTIVATE_SKILL_TOOL
    }

    fn description(&self) -> &str {
        "Load a skill from the skills catalog: returns its instructions and the list of its \
         files (read those with the file tools when the instructions refer to them), and makes \
         the tools that belong to it usable. Activate a skill before doing a task its \
         description covers. A few skills are active at once (see the catalog); activating one \
         more unloads the least recently activated, whose tools are then refused until it is \
         activated again. Activating an active skill returns its instructions again."
    }

    /// Read-only: the call changes nothing outside the agent. It reads the skill's
    /// instructions and records which skills the session has loaded (state that lives in
    /// the agent's own transcript and is rebuilt from it, like what a `read_file` added to
    /// the context). Calling it twice in a row has the effect of once. Declaring it a write
    /// would drop it from read-only agents and send every activation to a review approver,
    /// for no protection: the gated tools keep their own annotations.
    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    fn restore(&self, session_id: &str, args: ActivateArgs) {
        // A skill dropped from the set since the call was recorded is not restored.
        if self.skills.get(&args.name).is_some() {
            self.skills.activate(session_id, &args.name);
        }
    }

    async fn run(&self, args: ActivateArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let Some(skill) = self.skills.get(&args.name) else {
            return Err(ToolError::Invalid(unknown(&self.skills, &args.name)));
        };
        let listing = match skill.files.clone() {
            Some(files) => {
                let max = self.skills.limits().max_listed_files;
                let listed = tokio::task::spawn_blocking(move || list_files(&files, max)).await;
                Some(listed.unwrap_or_else(|e| Listing {
                    error: Some(format!("listing failed: {e}")),
                    ..Listing::default()
                }))
            }
            None => None,
        };
        let done = self.skills.activate(&ctx.session_id, &skill.name);
        let name = &skill.name;
        let mut out = if done.refreshed {
            format!("Skill `{name}` was already active; it is now the most recently activated.")
        } else {
            format!("Skill `{name}` is now active.")
        };
        if !skill.tools.is_empty() {
            let _ = write!(
                out,
                " Its tools can be called now: {}.",
                skill.tools.join(", ")
            );
        }
        if let Some(old) = &done.unloaded {
            let _ = write!(
                out,
                "\nUnloaded skill `{old}`: at most {} skills are active at once and it was the \
                 least recently activated; its tools are refused until it is activated again.",
                self.skills.limits().max_active
            );
        }
        let _ = write!(
            out,
            "\nActive skills (least recently activated first): {}.",
            done.active.join(", ")
        );
        let _ = write!(
            out,
            "\n\n<skill-instructions name=\"{name}\">\n{}\n</skill-instructions>",
            skill.body.trim()
        );
        if let (Some(listing), Some(files)) = (listing, &skill.files) {
            out.push_str(&listing.render(files));
        }
        Ok(ToolOutput::ok(out))
    }
}

/// The model-visible error for an unknown skill: near matches first, then every name.
fn unknown(skills: &Skills, name: &str) -> String {
    let mut out = format!("unknown skill `{name}`");
    if skills.skills().is_empty() {
        out.push_str("; no skills are available");
        return out;
    }
    match suggest(skills, name) {
        hint if hint.is_empty() => out.push_str(". Skills: "),
        hint => {
            out.push_str(&hint);
            out.push_str(" Skills: ");
        }
    }
    let mut listed = 0;
    for s in skills.skills() {
        if out.len() + s.name.len() > 4000 {
            break;
        }
        if listed > 0 {
            out.push_str(", ");
        }
        out.push_str(&s.name);
        listed += 1;
    }
    let left = skills.skills().len() - listed;
    if left > 0 {
        let _ = write!(out, " and {left} more");
    }
    out
}

/// `; did you mean `x`?` for names close to `name` (edit distance, case, containment).
pub(super) fn suggest(skills: &Skills, name: &str) -> String {
    let wanted = name.to_lowercase();
    let mut near: Vec<(usize, &str)> = skills
        .skills()
        .iter()
        .filter_map(|s| {
            let candidate = s.name.to_lowercase();
            let d = distance(&wanted, &candidate);
            let close = d <= (candidate.chars().count() / 3).max(2)
                || (wanted.len() >= 3
                    && (candidate.contains(&wanted) || wanted.contains(&candidate)));
            close.then_some((d, s.name.as_str()))
        })
        .collect();
    near.sort();
    match near.as_slice() {
        [] => String::new(),
        [(_, one)] => format!("; did you mean `{one}`?"),
        more => {
            let names: Vec<String> = more.iter().take(3).map(|(_, n)| format!("`{n}`")).collect();
            format!("; did you mean {}?", names.join(" or "))
        }
    }
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The files of a skill folder, relative to it, sorted.
#[derive(Debug, Default)]
struct Listing {
    files: Vec<String>,
    /// Files beyond the cap.
    more: usize,
    error: Option<String>,
}

impl Listing {
    fn render(&self, files: &SkillFiles) -> String {
        let mount = files.mount.trim_end_matches('/');
        let path = |rel: &str| {
            if mount.is_empty() {
                rel.to_string()
            } else {
                format!("{mount}/{rel}")
            }
        };
        let mut out = String::new();
        if let Some(e) = &self.error {
            let _ = write!(
                out,
                "\n\nThe files of this skill (`{}`) could not be listed: {e}",
                if mount.is_empty() { "." } else { mount }
            );
            return out;
        }
        if self.files.is_empty() {
            return out;
        }
        out.push_str(
            "\n\nFiles of this skill (read them with the file tools when the instructions refer \
             to them):",
        );
        for f in &self.files {
            let _ = write!(out, "\n- {}", path(f));
        }
        if self.more > 0 {
            let _ = write!(
                out,
                "\n- … and {} more under {}",
                self.more,
                if mount.is_empty() { "." } else { mount }
            );
        }
        out
    }
}

/// Depth of folders listed below the skill's folder.
const MAX_DEPTH: usize = 8;

/// Every file under `files.dir` (hidden entries and the top `SKILL.md` skipped; symlinked
/// folders not followed), sorted by path, at most `max`.
fn list_files(files: &SkillFiles, max: usize) -> Listing {
    let mut listing = Listing::default();
    if let Err(e) = walk(&files.dir, "", 0, max, &mut listing) {
        listing.error = Some(format!("{}: {e}", files.dir.display()));
    }
    listing
}

fn walk(dir: &Path, rel: &str, depth: usize, max: usize, out: &mut Listing) -> std::io::Result<()> {
    let mut entries: Vec<(String, std::fs::FileType)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || (depth == 0 && name == "SKILL.md") {
            continue;
        }
        entries.push((name, entry.file_type()?));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, kind) in entries {
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if kind.is_dir() {
            if depth < MAX_DEPTH {
                // An unreadable subfolder is skipped, not fatal to the listing.
                let _ = walk(&dir.join(&name), &path, depth + 1, max, out);
            }
        } else if out.files.len() < max {
            out.files.push(path);
        } else {
            out.more += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(distance("db-pool", "db-pool"), 0);
        assert_eq!(distance("db-pol", "db-pool"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
