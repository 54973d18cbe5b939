//! Recording: the run's models and tools wrapped, each call written to the cassette as it
//! completes (a crash keeps everything before it).

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use super::{Entry, RecordedOutput, Redactor, VERSION};
use crate::error::{Error, ModelError, Result};
use crate::event::{AgentEvent, EventKind, EventSink};
use crate::model::{
    Model, ModelInfo, ModelRequest, ModelResponse, StreamEvent, events_from_response,
};
use crate::tool::{Tool, ToolContext, ToolError, ToolOutput};

/// Writes a cassette. Wrap the run's models with [`Recorder::model`] and tools with
/// [`Recorder::tool`], and give it the run's events ([`EventSink`]).
pub struct Recorder {
    file: Mutex<std::io::BufWriter<std::fs::File>>,
    redactor: Redactor,
    /// The first write error, reported by [`Recorder::finish`].
    failed: Mutex<Option<String>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// A new cassette at `path` (replaced if it exists) whose header holds `meta`; the
    /// environment's credentials and `secrets` (name, value) are redacted.
    pub fn create(
        path: impl AsRef<Path>,
        meta: Value,
        secrets: Vec<(String, String)>,
    ) -> Result<Recorder> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let recorder = Recorder {
            file: Mutex::new(std::io::BufWriter::new(file)),
            redactor: Redactor::from_env(secrets),
            failed: Mutex::new(None),
        };
        recorder.write(&Entry::Header {
            version: VERSION,
            created: crate::time::format_utc(std::time::SystemTime::now()),
            meta,
        });
        Ok(recorder)
    }

    fn write(&self, entry: &Entry) {
        let line = serde_json::to_value(entry)
            .map(|v| self.redactor.value(v))
            .and_then(|v| serde_json::to_string(&v));
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let result = line.map_err(|e| e.to_string()).and_then(|l| {
            writeln!(file, "{l}")
                .and_then(|()| file.flush())
                .map_err(|e| e.to_string())
        });
        if let Err(e) = result {
            self.failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
        }
    }

    /// Credentials too short to redact (their names): say so to whoever records.
    pub fn unredacted(&self) -> &[String] {
        self.redactor.too_short()
    }

    /// Flush, and say whether every entry was written.
    pub fn finish(&self) -> std::result::Result<(), String> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let _ = file.flush();
        match self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(format!("the cassette is incomplete: {e}")),
            None => Ok(()),
        }
    }

    /// `model`, recorded.
    pub fn model(self: &Arc<Self>, model: Arc<dyn Model>) -> Arc<dyn Model> {
        self.write(&Entry::ModelInfo {
            info: model.info().clone(),
            provider: model.provider().to_string(),
        });
        Arc::new(RecordingModel {
            inner: model,
            recorder: self.clone(),
        })
    }

    /// `tool`, recorded.
    pub fn tool(self: &Arc<Self>, tool: Arc<dyn Tool>) -> Arc<dyn Tool> {
        Arc::new(RecordingTool {
            inner: tool,
            recorder: self.clone(),
        })
    }
}

impl EventSink for Recorder {
    fn emit(&self, event: AgentEvent) {
        // Deltas are in the model entries; tool and model events are their entries.
        if matches!(
            event.kind,
            EventKind::TextDelta { .. } | EventKind::ToolFinished { .. }
        ) {
            return;
        }
        if let Ok(event) = serde_json::to_value(&event) {
            self.write(&Entry::Event { event });
        }
    }
}

struct RecordingModel {
    inner: Arc<dyn Model>,
    recorder: Arc<Recorder>,
}

impl RecordingModel {
    fn entry(
        request: &ModelRequest,
        events: Vec<StreamEvent>,
        error: Option<String>,
        started: Instant,
    ) -> Entry {
        Entry::Model {
            session_id: request.session_id.clone(),
            agent: request.agent.clone(),
            request: request.clone(),
            events: coalesce(events),
            error,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    }
}

#[async_trait]
impl Model for RecordingModel {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }

    fn provider(&self) -> &str {
        self.inner.provider()
    }

    async fn complete(
        &self,
        request: &ModelRequest,
    ) -> std::result::Result<ModelResponse, ModelError> {
        let started = Instant::now();
        // Dropped before it answers (a hook's timeout, a cancellation): recorded as such.
        let mut pending = StreamLog {
            recorder: self.recorder.clone(),
            request: Some(request.clone()),
            events: Vec::new(),
            started,
        };
        let result = self.inner.complete(request).await;
        pending.request = None;
        let entry = match &result {
            Ok(r) => Self::entry(request, events_from_response(r), None, started),
            Err(e) => Self::entry(request, Vec::new(), Some(e.to_string()), started),
        };
        self.recorder.write(&entry);
        result
    }

    async fn stream(
        &self,
        request: &ModelRequest,
    ) -> std::result::Result<
        BoxStream<'static, std::result::Result<StreamEvent, ModelError>>,
        ModelError,
    > {
        let started = Instant::now();
        let inner = match self.inner.stream(request).await {
            Ok(s) => s,
            Err(e) => {
                self.recorder.write(&Self::entry(
                    request,
                    Vec::new(),
                    Some(e.to_string()),
                    started,
                ));
                return Err(e);
            }
        };
        // Written when the stream ends (or fails, or is dropped unfinished: then what
        // arrived, marked as cut).
        let mut log = StreamLog {
            recorder: self.recorder.clone(),
            request: Some(request.clone()),
            events: Vec::new(),
            started,
        };
        Ok(inner
            .inspect(move |item| match item {
                Ok(e) => {
                    let stop = matches!(e, StreamEvent::Stop { .. });
                    log.events.push(e.clone());
                    if stop {
                        log.done(None);
                    }
                }
                Err(e) => log.done(Some(e.to_string())),
            })
            .boxed())
    }
}

/// A streamed response being recorded.
struct StreamLog {
    recorder: Arc<Recorder>,
    request: Option<ModelRequest>,
    events: Vec<StreamEvent>,
    started: Instant,
}

impl StreamLog {
    fn done(&mut self, error: Option<String>) {
        if let Some(request) = self.request.take() {
            let events = std::mem::take(&mut self.events);
            self.recorder.write(&RecordingModel::entry(
                &request,
                events,
                error,
                self.started,
            ));
        }
    }
}

impl Drop for StreamLog {
    fn drop(&mut self) {
        self.done(Some(DROPPED.into()));
    }
}

/// The error of a call its caller stopped waiting for.
pub(super) const DROPPED: &str = "dropped before it ended";

/// Consecutive deltas of one block merged (text, reasoning, a tool call's arguments): a
/// secret split across a provider's chunks is whole again for the redactor, and the
/// response they assemble into is the same.
fn coalesce(events: Vec<StreamEvent>) -> Vec<StreamEvent> {
    let mut out: Vec<StreamEvent> = Vec::with_capacity(events.len());
    for e in events {
        match (out.last_mut(), e) {
            (Some(StreamEvent::TextDelta { text }), StreamEvent::TextDelta { text: more }) => {
                text.push_str(&more)
            }
            (
                Some(StreamEvent::ThinkingDelta {
                    thinking,
                    signature: None,
                }),
                StreamEvent::ThinkingDelta {
                    thinking: more,
                    signature,
                },
            ) => {
                thinking.push_str(&more);
                if let Some(StreamEvent::ThinkingDelta { signature: s, .. }) = out.last_mut() {
                    *s = signature;
                }
            }
            (
                Some(StreamEvent::ToolUseDelta {
                    index,
                    partial_json,
                }),
                StreamEvent::ToolUseDelta {
                    index: i,
                    partial_json: more,
                },
            ) if *index == i => partial_json.push_str(&more),
            (_, e) => out.push(e),
        }
    }
    out
}

struct RecordingTool {
    inner: Arc<dyn Tool>,
    recorder: Arc<Recorder>,
}

#[async_trait]
impl Tool for RecordingTool {
    forward_tool_metadata!();

    async fn call(
        &self,
        input: Value,
        ctx: &ToolContext,
    ) -> std::result::Result<ToolOutput, ToolError> {
        let started = Instant::now();
        let result = self.inner.call(input.clone(), ctx).await;
        let (output, error) = match &result {
            Ok(o) => (
                Some(RecordedOutput {
                    content: o.content.clone(),
                    is_error: o.is_error,
                }),
                None,
            ),
            Err(e) => (None, Some(tool_error_text(e))),
        };
        self.recorder.write(&Entry::Tool {
            session_id: ctx.session_id.clone(),
            call_id: ctx.tool_use_id.clone(),
            name: self.inner.spec().name.clone(),
            input,
            output,
            error,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        });
        result
    }
}

/// A tool error as the cassette keeps it.
pub(super) fn tool_error_text(e: &ToolError) -> String {
    match e {
        ToolError::Invalid(m) => format!("invalid: {m}"),
        ToolError::Fatal(m) => format!("fatal: {m}"),
        ToolError::Cancelled => "cancelled".into(),
    }
}

/// The tool error a cassette's text stands for.
pub(super) fn tool_error_of(text: &str) -> ToolError {
    if let Some(m) = text.strip_prefix("invalid: ") {
        ToolError::Invalid(m.to_string())
    } else if let Some(m) = text.strip_prefix("fatal: ") {
        ToolError::Fatal(m.to_string())
    } else if text == "cancelled" {
        ToolError::Cancelled
    } else {
        ToolError::Invalid(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_deltas_are_merged_and_assemble_the_same() {
        let events = vec![
            StreamEvent::TextDelta {
                text: "the key is sk-li".into(),
            },
            StreamEvent::TextDelta {
                text: "ve-0123456789".into(),
            },
            StreamEvent::ToolUseStart {
                index: 1,
                id: "c".into(),
                name: "shell".into(),
            },
            StreamEvent::ToolUseDelta {
                index: 1,
                partial_json: "{\"command\": \"echo sk-".into(),
            },
            StreamEvent::ToolUseDelta {
                index: 1,
                partial_json: "live-0123456789\"}".into(),
            },
            StreamEvent::Stop {
                reason: crate::model::StopReason::ToolUse,
            },
        ];
        let merged = coalesce(events.clone());
        assert_eq!(merged.len(), 4);
        let assemble = |es: Vec<StreamEvent>| {
            let mut a = crate::model::ResponseAssembler::default();
            for e in es {
                a.push(e).unwrap();
            }
            a.finish().unwrap()
        };
        assert_eq!(assemble(merged.clone()), assemble(events));
        let r = Redactor::new(vec![("K".into(), "sk-live-0123456789".into())]);
        let text = r.value(serde_json::to_value(&merged).unwrap()).to_string();
        assert!(!text.contains("0123456789"), "{text}");
    }
}
