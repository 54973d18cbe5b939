//! The index (`index.md`): the entry point that always sits in the prompt. One line per
//! topic (link, entry count, how many need review, a short summary) and one per knowledge
//! document, kept within a character budget by shortening summaries, then dropping them,
//! then listing topics compactly. Every topic stays linked at every level.

/// What the index says about one topic file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicLine {
    /// Path relative to the memory root (`team.md`).
    pub path: String,
    /// Topic name (`team`).
    pub name: String,
    /// Entries in the file (all statuses).
    pub entries: usize,
    /// Active entries.
    pub active: usize,
    /// Entries that need review.
    pub needs_review: usize,
    /// Recent active facts, newest first, joined.
    pub summary: String,
}

/// What the index says about one knowledge document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnowledgeLine {
    /// Path relative to the memory root (`knowledge/runbook-db.md`).
    pub path: String,
    /// Its title.
    pub title: String,
}

const HEADER: &str = "# Memory index\n\n<!-- Maintained by sre-memory: edit the topic files, not this list. -->\nTopic files hold facts as list items; ⚠ marks entries to review. Open a file for details.\n";

/// Render the index within `budget` characters if at all possible.
pub fn render_index(topics: &[TopicLine], knowledge: &[KnowledgeLine], budget: usize) -> String {
    let mut last = String::new();
    for width in [160usize, 100, 70, 45, 25, 0] {
        let text = full(topics, knowledge, width, true);
        if text.chars().count() <= budget {
            return text;
        }
        last = text;
    }
    for with_counts in [true, false] {
        for knowledge_listed in [true, false] {
            let text = compact(topics, knowledge, with_counts, knowledge_listed);
            if text.chars().count() <= budget {
                return text;
            }
            last = text;
        }
    }
    last
}

fn full(topics: &[TopicLine], knowledge: &[KnowledgeLine], width: usize, _counts: bool) -> String {
    let mut out = String::from(HEADER);
    out.push_str("\n## Topics\n\n");
    if topics.is_empty() {
        out.push_str("(none yet)\n");
    }
    for t in topics {
        out.push_str(&format!("- [{}]({}): {}", t.name, t.path, counts(t)));
        if width > 0 && !t.summary.is_empty() {
            out.push_str(" — ");
            out.push_str(&shorten(&t.summary, width));
        }
        out.push('\n');
    }
    if !knowledge.is_empty() {
        out.push_str("\n## Knowledge\n\n");
        for k in knowledge {
            let title = if width == 0 {
                shorten(&k.title, 25)
            } else {
                shorten(&k.title, width.max(25))
            };
            out.push_str(&format!("- [{}]({})\n", title, k.path));
        }
    }
    out
}

fn compact(
    topics: &[TopicLine],
    knowledge: &[KnowledgeLine],
    with_counts: bool,
    knowledge_listed: bool,
) -> String {
    let mut out = String::from(HEADER);
    out.push_str("\nTopics: ");
    let items: Vec<String> = topics
        .iter()
        .map(|t| {
            if with_counts {
                format!("[{}]({}) {}", t.name, t.path, t.entries)
            } else {
                format!("[{}]({})", t.name, t.path)
            }
        })
        .collect();
    out.push_str(&items.join(", "));
    out.push('\n');
    if !knowledge.is_empty() {
        if knowledge_listed {
            let items: Vec<String> = knowledge
                .iter()
                .map(|k| format!("[{}]({})", shorten(&k.title, 20), k.path))
                .collect();
            out.push_str("Knowledge: ");
            out.push_str(&items.join(", "));
            out.push('\n');
        } else {
            out.push_str(&format!(
                "Knowledge: {} documents under knowledge/.\n",
                knowledge.len()
            ));
        }
    }
    out
}

fn counts(t: &TopicLine) -> String {
    let mut s = format!(
        "{} {}",
        t.active,
        if t.active == 1 { "entry" } else { "entries" }
    );
    if t.entries > t.active {
        s.push_str(&format!(" (+{} retired)", t.entries - t.active));
    }
    if t.needs_review > 0 {
        s.push_str(&format!(", ⚠ {} to review", t.needs_review));
    }
    s
}

/// At most `width` characters, cut at a word boundary with an ellipsis.
pub fn shorten(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let cut: String = s.chars().take(width.saturating_sub(1)).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > cut.len() / 2 => cut[..i].to_string(),
        _ => cut,
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinks_but_links_everything() {
        let topics: Vec<TopicLine> = (0..40)
            .map(|i| TopicLine {
                path: format!("topic-{i}.md"),
                name: format!("topic-{i}"),
                entries: 100,
                active: 90,
                needs_review: 3,
                summary: "a long summary of many recent facts about the topic ".repeat(4),
            })
            .collect();
        let idx = render_index(&topics, &[], 2000);
        assert!(idx.chars().count() <= 2000, "{}", idx.chars().count());
        for t in &topics {
            assert!(idx.contains(&format!("]({})", t.path)));
        }
        assert_eq!(shorten("hello world foo", 9), "hello…");
    }
}
