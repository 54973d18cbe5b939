//! Learning after a session: ask a [`Model`] what a finished investigation taught (symptoms,
//! steps that worked, root cause, pitfalls) and file it into topic files with the session as
//! source; or turn the investigation into a runbook under `knowledge/`.

use serde::Deserialize;
use serde_json::Value;
use sre_core::{ContentBlock, Message, Model, ModelRequest, SystemBlock};

use crate::error::{MemoryError, Result};
use crate::format::sanitize_text;
use crate::store::{MarkdownMemory, slug};

/// What a session taught, as the model reported it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Lessons {
    /// What was observed (alerts, errors, metrics).
    pub symptoms: Vec<String>,
    /// Steps that led to the answer or fixed the problem.
    pub steps_that_worked: Vec<String>,
    /// The root cause, if found.
    pub root_cause: Option<String>,
    /// Dead ends and traps to avoid next time.
    pub pitfalls: Vec<String>,
}

/// Which topic each kind of lesson goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LearnTopics {
    /// Root cause with its symptoms. Default `incidents`.
    pub incidents: String,
    /// Steps that worked. Default `debugging`.
    pub steps: String,
    /// Pitfalls. Default `pitfalls`.
    pub pitfalls: String,
}

impl Default for LearnTopics {
    fn default() -> Self {
        LearnTopics {
            incidents: "incidents".into(),
            steps: "debugging".into(),
            pitfalls: "pitfalls".into(),
        }
    }
}

/// What [`learn_from_session`] filed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LearnReport {
    /// The lessons as parsed.
    pub lessons: Lessons,
    /// `(topic, entry id)` of every entry written.
    pub filed: Vec<(String, String)>,
}

const LEARN_PROMPT: &str = "You maintain the long-term memory of an SRE agent. Read the transcript of a finished investigation and extract what is worth remembering for next time. Answer with one JSON object and nothing else:\n{\"symptoms\": [\"...\"], \"steps_that_worked\": [\"...\"], \"root_cause\": \"...\" or null, \"pitfalls\": [\"...\"]}\nEach item is one short, self-contained, factual sentence (name services, commands, files). Use empty lists when there is nothing.";

const RUNBOOK_PROMPT: &str = "You write runbooks for SRE teams. Turn the transcript of a finished investigation into a runbook another engineer (or agent) can follow the next time the same symptoms appear. Answer with one JSON object and nothing else:\n{\"title\": \"...\", \"markdown\": \"...\"}\nThe markdown has the sections: Symptoms, Diagnosis (numbered steps with exact commands), Root cause, Fix, Pitfalls.";

/// Ask `model` for the lessons of `transcript` and file them with `session_id` as source.
pub async fn learn_from_session(
    store: &MarkdownMemory,
    model: &dyn Model,
    session_id: &str,
    transcript: &[Message],
    topics: &LearnTopics,
) -> Result<LearnReport> {
    let answer = ask(model, LEARN_PROMPT, session_id, transcript).await?;
    let value =
        extract_json(&answer).ok_or_else(|| bad("no JSON object found in the answer", &answer))?;
    let lessons: Lessons = serde_json::from_value(value).map_err(|e| {
        bad(
            &format!("JSON does not match the lessons shape: {e}"),
            &answer,
        )
    })?;
    let clean = |v: &[String]| {
        v.iter()
            .map(|s| sanitize_text(s))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    };
    let symptoms = clean(&lessons.symptoms);
    let mut filed = Vec::new();
    if let Some(rc) = lessons
        .root_cause
        .as_deref()
        .map(sanitize_text)
        .filter(|s| !s.is_empty())
    {
        let fact = if symptoms.is_empty() {
            format!("Root cause: {rc}")
        } else {
            format!("Root cause: {rc} (symptoms: {})", symptoms.join("; "))
        };
        filed.push((
            topics.incidents.clone(),
            store.append(&topics.incidents, &fact, session_id).await?,
        ));
    } else {
        for s in &symptoms {
            filed.push((
                topics.incidents.clone(),
                store
                    .append(
                        &topics.incidents,
                        &format!("Symptom seen (cause not found): {s}"),
                        session_id,
                    )
                    .await?,
            ));
        }
    }
    for s in clean(&lessons.steps_that_worked) {
        filed.push((
            topics.steps.clone(),
            store
                .append(&topics.steps, &format!("What worked: {s}"), session_id)
                .await?,
        ));
    }
    for p in clean(&lessons.pitfalls) {
        filed.push((
            topics.pitfalls.clone(),
            store
                .append(&topics.pitfalls, &format!("Pitfall: {p}"), session_id)
                .await?,
        ));
    }
    Ok(LearnReport { lessons, filed })
}

/// Ask `model` to turn `transcript` into a runbook; write it under `knowledge/` (listed in
/// the index) and return its path relative to the memory root.
pub async fn write_runbook(
    store: &MarkdownMemory,
    model: &dyn Model,
    session_id: &str,
    transcript: &[Message],
) -> Result<String> {
    #[derive(Deserialize)]
    struct Runbook {
        title: String,
        markdown: String,
    }
    let answer = ask(model, RUNBOOK_PROMPT, session_id, transcript).await?;
    let value =
        extract_json(&answer).ok_or_else(|| bad("no JSON object found in the answer", &answer))?;
    let rb: Runbook = serde_json::from_value(value).map_err(|e| {
        bad(
            &format!("JSON does not match the runbook shape: {e}"),
            &answer,
        )
    })?;
    let title = sanitize_text(&rb.title);
    if title.is_empty() || rb.markdown.trim().is_empty() {
        return Err(bad("empty title or markdown", &answer));
    }
    let now = store.config().clock.now();
    let mut doc = format!(
        "# {title}\n\n<!-- runbook source={} created={now} -->\n\n",
        sanitize_text(session_id).replace(' ', "_")
    );
    let body = rb.markdown.trim();
    let body = match body.strip_prefix("# ") {
        Some(rest) => rest
            .split_once('\n')
            .map(|(_, b)| b.trim_start())
            .unwrap_or(""),
        None => body,
    };
    doc.push_str(body);
    doc.push('\n');
    store
        // Named by title and session: another investigation's runbook of the same title is
        // a file of its own, never replaced (two writers need no lock to stay apart).
        .ingest(
            &format!("runbook-{}-{}", slug(&title), slug(session_id)),
            &doc,
        )
        .await
}

async fn ask(
    model: &dyn Model,
    instructions: &str,
    session_id: &str,
    transcript: &[Message],
) -> Result<String> {
    let request = ModelRequest {
        tools: Vec::new(),
        system: vec![SystemBlock {
            name: "system".into(),
            text: instructions.to_string(),
        }],
        messages: vec![Message::user(format!(
            "Transcript of session {session_id}:\n\n{}",
            render_transcript(transcript, 60_000)
        ))],
        max_output_tokens: 4096,
        agent: "memory-learner".into(),
        session_id: session_id.to_string(),
        call: Default::default(),
        temperature: None,
    };
    let response = model.complete(&request).await?;
    let text: Vec<&str> = response
        .content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    Ok(text.join("\n"))
}

/// The transcript as plain text, at most about `max_chars` (middle elided).
pub fn render_transcript(transcript: &[Message], max_chars: usize) -> String {
    let mut out = String::new();
    for m in transcript {
        let role = match m.role {
            sre_core::Role::User => "user",
            sre_core::Role::Assistant => "assistant",
        };
        for b in &m.content {
            match b {
                ContentBlock::Text { text } => out.push_str(&format!("[{role}] {text}\n")),
                ContentBlock::ToolUse { name, input, .. } => {
                    out.push_str(&format!("[{role} calls {name}] {input}\n"))
                }
                ContentBlock::ToolResult {
                    content, is_error, ..
                } => {
                    let c: String = content.chars().take(2000).collect();
                    out.push_str(&format!(
                        "[tool result{}] {c}\n",
                        if *is_error { " (error)" } else { "" }
                    ));
                }
                ContentBlock::Thinking { .. } => {}
            }
        }
    }
    if out.chars().count() > max_chars {
        let head: String = out.chars().take(max_chars / 2).collect();
        let tail: Vec<char> = out.chars().rev().take(max_chars / 2).collect();
        let tail: String = tail.into_iter().rev().collect();
        out = format!("{head}\n[... transcript elided ...]\n{tail}");
    }
    out
}

/// The first JSON object in `text`: the whole text, a fenced block, or an object embedded
/// in prose.
pub fn extract_json(text: &str) -> Option<Value> {
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(text.trim()) {
        return Some(v);
    }
    for (i, _) in text.match_indices('{') {
        let mut it = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        if let Some(Ok(v @ Value::Object(_))) = it.next() {
            return Some(v);
        }
    }
    None
}

fn bad(message: &str, answer: &str) -> MemoryError {
    MemoryError::BadAnswer {
        message: message.to_string(),
        excerpt: answer.chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_json_in_prose() {
        let v = extract_json(
            "Sure! Here it is:\n```json\n{\"a\": {\"b\": 1}}\n```\nHope it helps {not json",
        )
        .unwrap();
        assert_eq!(v["a"]["b"], 1);
        assert!(extract_json("no json here").is_none());
        assert!(extract_json("[1,2]").is_none());
    }
}
