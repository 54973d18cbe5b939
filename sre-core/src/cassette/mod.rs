//! Record a session as a cassette and replay it.
//!
//! A cassette is a JSONL file: a header (what was run: agent, task, session, model...), then
//! in order every model call (the request as sent, and the response as the stream of
//! events it arrived as, consecutive deltas merged, so streaming and usage replay exactly),
//! every tool call (input, output or error, duration), and the run's other events (hook
//! decisions, budget actions...; text deltas and tool results are in the model and tool
//! entries). Secrets are redacted before anything is written, as written and as JSON
//! escapes them: the values of the environment's credentials (variables named like
//! `*_KEY`, `*TOKEN*`, `*SECRET*`, `*PASSWORD*`, `*_PAT`..., and passwords inside URLs) and
//! those the host passes, each replaced by `[redacted:NAME]`; values under 8 characters
//! are not (they would redact ordinary words) and the recorder names them.
//!
//! [`Recorder`] wraps a run's models and tools and is its event sink; [`Replay`] wraps
//! them the other way: models answer from the cassette (each request compared byte for
//! byte with the recorded one, after the same redaction), tools answer from it too (matched
//! by name and arguments) or run for real and are compared; every difference is a
//! [`Divergence`], the first one says where the runs parted.
//!
//! ```
//! use std::sync::Arc;
//! use sre_core::cassette::{Cassette, Recorder, Replay};
//! use sre_core::{Model, ScriptedModel};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("run.jsonl");
//! let recorder = Arc::new(Recorder::create(&path, serde_json::json!({"agent": "demo"}), vec![])?);
//! let model: Arc<dyn Model> = Arc::new(ScriptedModel::from_yaml("turns:\n  - final: done\n")?);
//! let recorded = recorder.model(model);
//! // ... run an agent with `recorded` and `recorder.tool(t)` for each tool ...
//! # let _ = recorded;
//! let replay = Replay::new(Cassette::load(&path)?, vec![]);
//! assert!(replay.first_divergence().is_none());
//! # Ok(()) }
//! ```

/// The `Tool` methods a wrapper of `self.inner` passes through unchanged (all but `call`):
/// what the tool is, what its calls do to the world, its deadline, its state and the
/// sessions it starts must be the inner tool's.
macro_rules! forward_tool_metadata {
    () => {
        fn spec(&self) -> &crate::model::ToolSpec {
            self.inner.spec()
        }

        fn annotations(&self) -> crate::tool::ToolAnnotations {
            self.inner.annotations()
        }

        fn call_annotations(&self, input: &serde_json::Value) -> crate::tool::ToolAnnotations {
            self.inner.call_annotations(input)
        }

        fn deadline(&self) -> Option<std::time::Duration> {
            self.inner.deadline()
        }

        fn restore(&self, session_id: &str, input: &serde_json::Value) {
            self.inner.restore(session_id, input)
        }

        fn child_sessions(
            &self,
            parent_session: &str,
            parent_agent: &str,
            tool_use_id: &str,
            input: &serde_json::Value,
        ) -> Vec<crate::tool::ChildSession> {
            self.inner
                .child_sessions(parent_session, parent_agent, tool_use_id, input)
        }
    };
}

mod record;
mod replay;

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::{ModelRequest, StreamEvent};

pub use record::Recorder;
pub use replay::{Divergence, Replay, ToolSource};

/// Version of the cassette format.
pub const VERSION: u32 = 1;

/// One line of a cassette.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// The first line: what was run.
    Header {
        /// [`VERSION`].
        version: u32,
        /// When recording started (RFC 3339, UTC).
        created: String,
        /// What the host says of the run (agent, task, session, home, model...).
        meta: Value,
    },
    /// A model the run used (written when the recorder first wraps it): replays report
    /// the same facts (window, output cap, prices), so requests are built the same way.
    ModelInfo {
        /// The facts.
        info: crate::model::ModelInfo,
        /// Its provider (`gen_ai.provider.name`).
        #[serde(default)]
        provider: String,
    },
    /// One model call.
    Model {
        /// The session that asked.
        session_id: String,
        /// The agent that asked.
        agent: String,
        /// The request as sent (redacted).
        request: ModelRequest,
        /// The response as it streamed (redacted); empty when the call failed.
        events: Vec<StreamEvent>,
        /// The failure, when it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Wall time.
        duration_ms: f64,
    },
    /// One tool call.
    Tool {
        /// The session that called.
        session_id: String,
        /// The call's id.
        call_id: String,
        /// The tool.
        name: String,
        /// Its input (redacted).
        input: Value,
        /// Its output (redacted), when it returned one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<RecordedOutput>,
        /// The failure, when it failed (`invalid: ...`, `fatal: ...`, `cancelled`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Wall time.
        duration_ms: f64,
    },
    /// One event of the run (hook decisions, budget actions...), as JSON.
    Event {
        /// The event.
        event: Value,
    },
}

/// A tool's recorded output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedOutput {
    /// The text.
    pub content: String,
    /// Whether it was an error result.
    pub is_error: bool,
}

/// A cassette read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Cassette {
    /// The header's `meta`.
    pub meta: Value,
    /// When it was recorded.
    pub created: String,
    /// Everything after the header, in order.
    pub entries: Vec<Entry>,
}

impl Cassette {
    /// Read a cassette; a torn last line (a crash while writing) is dropped, any other bad
    /// line is an error that names it.
    pub fn load(path: impl AsRef<Path>) -> Result<Cassette> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse a cassette's text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<Cassette> {
        let lines: Vec<&str> = text.lines().collect();
        let mut entries = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Entry>(line) {
                Ok(e) => entries.push(e),
                Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
                Err(e) => {
                    return Err(Error::Parse {
                        location: format!("{origin}:{}", i + 1),
                        message: format!("not a cassette entry: {e}"),
                    });
                }
            }
        }
        let mut entries = entries.into_iter();
        match entries.next() {
            Some(Entry::Header {
                version,
                created,
                meta,
            }) => {
                if version != VERSION {
                    return Err(Error::Parse {
                        location: format!("{origin}:1"),
                        message: format!("cassette version {version}; this build reads {VERSION}"),
                    });
                }
                Ok(Cassette {
                    meta,
                    created,
                    entries: entries.collect(),
                })
            }
            _ => Err(Error::Parse {
                location: format!("{origin}:1"),
                message: "a cassette starts with its header".into(),
            }),
        }
    }

    /// Its model calls.
    pub fn model_calls(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| matches!(e, Entry::Model { .. }))
    }

    /// Its tool calls.
    pub fn tool_calls(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| matches!(e, Entry::Tool { .. }))
    }
}

/// Replaces secret values by `[redacted:NAME]` in every string of a JSON value.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// (name, value), longest value first (so a secret that contains another is
    /// replaced whole).
    secrets: Vec<(String, String)>,
    /// Names of values too short to redact.
    too_short: Vec<String>,
}

/// Environment variable names that hold credentials.
fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    n.ends_with("_KEY")
        || n.ends_with("KEY_ID")
        || n.ends_with("_PAT")
        || n.ends_with("_AUTH")
        || n.starts_with("AUTH_")
        || [
            "TOKEN",
            "SECRET",
            "PASSWORD",
            "PASSWD",
            "CREDENTIAL",
            "API_KEY",
            "APIKEY",
            "PRIVATE",
        ]
        .iter()
        .any(|w| n.contains(w))
}

/// The credentials a variable's value holds: the whole value for a credential's name;
/// the password of a URL (`postgres://u:PASSWORD@host/db`) whatever the name.
fn secrets_of(name: &str, value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if is_secret_name(name) {
        out.push((name.to_string(), value.to_string()));
    }
    if let Some((_, rest)) = value.split_once("://")
        && let Some((userinfo, _)) = rest.split_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
        && !password.is_empty()
    {
        out.push((format!("{name}:password"), password.to_string()));
    }
    out
}

impl Redactor {
    /// The environment's credentials (variables named like one, and passwords in URLs)
    /// plus `extra` (name, value). Values shorter than 8 characters are not redacted (they
    /// would redact ordinary words): [`Redactor::too_short`] names them.
    pub fn from_env(extra: Vec<(String, String)>) -> Self {
        let env = std::env::vars().flat_map(|(k, v)| secrets_of(&k, &v));
        Self::new(env.chain(extra).collect())
    }

    /// These (name, value) secrets.
    pub fn new(secrets: Vec<(String, String)>) -> Self {
        type Named = Vec<(String, String)>;
        let (mut secrets, short): (Named, Named) = secrets
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .partition(|(_, v)| v.chars().count() >= 8);
        secrets.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        secrets.dedup_by(|a, b| a.1 == b.1);
        let mut too_short: Vec<String> = short.into_iter().map(|(n, _)| n).collect();
        too_short.sort();
        too_short.dedup();
        Redactor { secrets, too_short }
    }

    /// The names of credentials too short to redact safely (say so to the user).
    pub fn too_short(&self) -> &[String] {
        &self.too_short
    }

    /// `text` with every secret replaced, as written and as JSON escapes it (a secret with
    /// a quote or a backslash inside a tool call's JSON arguments).
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, value) in &self.secrets {
            let escaped = serde_json::to_string(value)
                .map(|s| s[1..s.len() - 1].to_string())
                .unwrap_or_default();
            for form in [value.as_str(), escaped.as_str()] {
                if !form.is_empty() && out.contains(form) {
                    out = out.replace(form, &format!("[redacted:{name}]"));
                }
            }
        }
        out
    }

    /// `value` with every secret replaced in every string (keys included).
    pub fn value(&self, value: Value) -> Value {
        if self.secrets.is_empty() {
            return value;
        }
        match value {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Array(a) => Value::Array(a.into_iter().map(|v| self.value(v)).collect()),
            Value::Object(o) => Value::Object(
                o.into_iter()
                    .map(|(k, v)| (self.text(&k), self.value(v)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// `item` redacted through its JSON form (unchanged if that fails).
    pub fn redact<T: Serialize + serde::de::DeserializeOwned + Clone>(&self, item: &T) -> T {
        if self.secrets.is_empty() {
            return item.clone();
        }
        serde_json::to_value(item)
            .ok()
            .and_then(|v| serde_json::from_value(self.value(v)).ok())
            .unwrap_or_else(|| item.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_everywhere_longest_first() {
        let r = Redactor::new(vec![
            ("DD_API_KEY".into(), "dd-0123456789".into()),
            ("SHORT".into(), "abc".into()),
            ("BEARER".into(), "Bearer dd-0123456789".into()),
        ]);
        let v = r.value(
            serde_json::json!({"h": ["Authorization: Bearer dd-0123456789", "dd-0123456789 abc"]}),
        );
        assert_eq!(
            v,
            serde_json::json!({"h": ["Authorization: [redacted:BEARER]", "[redacted:DD_API_KEY] abc"]})
        );
        assert!(is_secret_name("OPENAI_API_KEY") && is_secret_name("github_token"));
        assert!(!is_secret_name("HOME") && !is_secret_name("KEYBOARD"));
        assert!(is_secret_name("GITHUB_PAT") && is_secret_name("X_AUTH"));
        assert_eq!(
            secrets_of("DATABASE_URL", "postgres://app:s3cr3t-pw-99@db:5432/orders"),
            vec![(
                "DATABASE_URL:password".to_string(),
                "s3cr3t-pw-99".to_string()
            )]
        );
        // As JSON escapes it, inside a tool call's arguments.
        let quoted = Redactor::new(vec![("PW".into(), "pa\"ss\\word".into())]);
        assert_eq!(
            quoted.text(r#"{"password": "pa\"ss\\word"}"#),
            r#"{"password": "[redacted:PW]"}"#
        );
        let short = Redactor::new(vec![("DB_PASSWORD".into(), "hunter2".into())]);
        assert_eq!(short.too_short(), ["DB_PASSWORD".to_string()]);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_other_bad_lines_are_named() {
        let header = r#"{"kind":"header","version":1,"created":"t","meta":{}}"#;
        let event = r#"{"kind":"event","event":{"x":1}}"#;
        let c = Cassette::parse(&format!("{header}\n{event}\n{{\"kind\":\"ev"), "c").unwrap();
        assert_eq!(c.entries.len(), 1);
        let e = Cassette::parse(&format!("{header}\nnot json\n{event}\n"), "c").unwrap_err();
        assert!(e.to_string().contains("c:2"), "{e}");
        let e = Cassette::parse(&format!("{event}\n"), "c").unwrap_err();
        assert!(e.to_string().contains("starts with its header"), "{e}");
        let e = Cassette::parse(
            "{\"kind\":\"header\",\"version\":9,\"created\":\"t\",\"meta\":{}}\n",
            "c",
        )
        .unwrap_err();
        assert!(e.to_string().contains("version 9"), "{e}");
    }
}
