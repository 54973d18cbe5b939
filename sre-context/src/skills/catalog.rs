//! The catalog: every skill's name and whole description, sorted, capped, rendered once.

use std::fmt::Write as _;

use async_trait::async_trait;
use sre_core::{ContextLayer, LayerContext};

use super::{ACTIVATE_SKILL_TOOL, SKILLS_LAYER, Skill, SkillLimits, Skills};

/// The static catalog layer of a [`Skills`] set (see [`Skills::layer`]):
///
/// ```text
/// Skills (call `activate_skill` with a skill's name to load its instructions before a task its description covers; at most 5 are active at once):
/// - db-pool-triage (tools: query_pool)
///   Diagnose connection-pool exhaustion.
///   Do not load for disk alerts.
/// - tls-audit
///   Audit certificate expiry of several domains.
/// ```
///
/// Rendered once, when the set is built: byte-identical for every session, whatever is
/// activated.
#[derive(Clone, Debug)]
pub struct SkillsLayer {
    skills: Skills,
}

impl SkillsLayer {
    /// The catalog of `skills`.
    pub fn new(skills: Skills) -> Self {
        SkillsLayer { skills }
    }
}

#[async_trait]
impl ContextLayer for SkillsLayer {
    fn name(&self) -> &str {
        SKILLS_LAYER
    }

    async fn render(&self, _ctx: &LayerContext<'_>) -> sre_core::Result<String> {
        Ok(self.skills.catalog().to_string())
    }
}

/// The catalog text of `skills` (sorted by name); empty when there are none.
pub(super) fn render(skills: &[Skill], limits: &SkillLimits) -> String {
    if skills.is_empty() {
        return String::new();
    }
    let header = format!(
        "Skills (call `{ACTIVATE_SKILL_TOOL}` with a skill's name to load its instructions \
         before a task its description covers; at most {} are active at once):",
        limits.max_active
    );
    let entries: Vec<String> = skills
        .iter()
        .map(|s| entry(s, limits.max_description_bytes))
        .collect();
    let full_len = header.len() + entries.iter().map(|e| e.len() + 1).sum::<usize>();
    let mut out = header;
    if full_len <= limits.max_catalog_bytes {
        for e in &entries {
            out.push('\n');
            out.push_str(e);
        }
        return out;
    }
    // Over the cap: whole entries while they fit with the closing note, which keeps an
    // eighth of the cap for the names of the skills left out.
    let n = skills.len();
    let max = limits.max_catalog_bytes;
    let mut k = 0;
    let mut used = out.len();
    while k < n {
        let next = used + 1 + entries[k].len();
        let shortest = note_head(max, k + 1, n).len() + more(n - k - 1).len();
        if next + 1 + shortest.max(max / 8) > max {
            break;
        }
        used = next;
        k += 1;
    }
    for e in &entries[..k] {
        out.push('\n');
        out.push_str(e);
    }
    let budget = max.saturating_sub(out.len() + 1);
    out.push('\n');
    out.push_str(&note(max, k, skills, budget));
    out
}

/// `- name (tools: a, b)` then the description's lines, indented by two spaces.
fn entry(skill: &Skill, max_description: usize) -> String {
    let mut out = format!("- {}", skill.name);
    if !skill.tools.is_empty() {
        let _ = write!(out, " (tools: {})", skill.tools.join(", "));
    }
    let text = skill.description.replace("\r\n", "\n");
    let text = text.trim();
    let (shown, cut) = if text.len() > max_description {
        let keep = sre_core::text::floor_char_boundary(text, max_description);
        (text[..keep].trim_end(), Some(keep))
    } else {
        (text, None)
    };
    for line in shown.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = write!(out, "\n  {line}");
        }
    }
    if let Some(keep) = cut {
        let _ = write!(
            out,
            " [description cut: {keep} of {} bytes shown]",
            text.len()
        );
    }
    out
}

fn note_head(max: usize, described: usize, total: usize) -> String {
    format!(
        "[skills catalog capped at {max} bytes: {described} of {total} skills described above; \
         these can be activated by name too:"
    )
}

fn more(count: usize) -> String {
    if count == 0 {
        "]".into()
    } else {
        format!(" and {count} more]")
    }
}

/// The closing note: the names of the skills left out, as many as `budget` allows.
fn note(max: usize, described: usize, skills: &[Skill], budget: usize) -> String {
    let rest = &skills[described..];
    let mut out = note_head(max, described, skills.len());
    let mut shown = 0;
    for (i, s) in rest.iter().enumerate() {
        let sep = if i == 0 { " " } else { ", " };
        let after = more(rest.len() - i - 1);
        if out.len() + sep.len() + s.name.len() + after.len() > budget {
            break;
        }
        out.push_str(sep);
        out.push_str(&s.name);
        shown += 1;
    }
    out.push_str(&more(rest.len() - shown));
    out
}
