//! `MeteredModel`: a [`Model`] layer that records every call's usage in an agent tree's
//! ledger and reports it as an event. The loop meters its own turns itself; this layer is
//! for the model calls made on a run's behalf: compaction summaries, prompt-hook judges,
//! memory learning. With it, the ledger total is the sum of every model call of the tree.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::ModelError;
use crate::event::{AgentEvent, EventKind, EventSink};
use crate::model::{Model, ModelInfo, ModelRequest, ModelResponse, StreamEvent};
use crate::usage::{SharedLedger, Usage};

/// A model whose calls are counted as agent `label` (e.g. `investigator/compaction`).
///
/// ```
/// use std::sync::Arc;
/// use sre_core::{MeteredModel, Model, ModelRequest, ScriptedModel, SharedLedger};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let ledger = SharedLedger::default();
/// let judge = Arc::new(ScriptedModel::from_yaml("turns:\n  - final: '{\"ok\": true}'\n").unwrap());
/// let metered = MeteredModel::new(judge, ledger.clone(), "agent/hook:quality".into(), "s1".into(), None);
/// metered.complete(&ModelRequest { max_output_tokens: 100, ..Default::default() }).await.unwrap();
/// assert_eq!(ledger.snapshot().agents["agent/hook:quality"].requests, 1);
/// # });
/// ```
pub struct MeteredModel {
    inner: Arc<dyn Model>,
    ledger: SharedLedger,
    /// A second ledger to record into (a run's own auxiliary usage).
    also: Option<SharedLedger>,
    label: String,
    session_id: String,
    events: Option<Arc<dyn EventSink>>,
}

impl MeteredModel {
    /// Meter `inner` into `ledger` as agent `label`, reporting to `events` under `session_id`.
    pub fn new(
        inner: Arc<dyn Model>,
        ledger: SharedLedger,
        label: String,
        session_id: String,
        events: Option<Arc<dyn EventSink>>,
    ) -> Self {
        MeteredModel {
            inner,
            ledger,
            also: None,
            label,
            session_id,
            events,
        }
    }

    /// Also record every call into `ledger` (e.g. the calling run's own ledger).
    pub fn also_into(mut self, ledger: SharedLedger) -> Self {
        self.also = Some(ledger);
        self
    }

    fn record(&self, usage: Usage, started: Instant) {
        self.ledger.record(&self.label, usage, self.inner.info());
        if let Some(also) = &self.also {
            also.record(&self.label, usage, self.inner.info());
        }
        if let Some(sink) = &self.events {
            sink.emit(aux_event(
                &self.label,
                &self.session_id,
                self.inner.provider(),
                self.inner.info(),
                usage,
                started,
            ));
        }
    }
}

/// The event of one auxiliary call.
fn aux_event(
    label: &str,
    session_id: &str,
    provider: &str,
    info: &ModelInfo,
    usage: Usage,
    started: Instant,
) -> AgentEvent {
    AgentEvent {
        agent: label.to_string(),
        session_id: session_id.to_string(),
        kind: EventKind::AuxiliaryModelCall {
            model: info.name.clone(),
            provider: provider.to_string(),
            usage,
            cost_usd: usage.cost_usd(&info.pricing),
            duration: started.elapsed(),
        },
    }
}

#[async_trait]
impl Model for MeteredModel {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }

    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let started = Instant::now();
        let response = self.inner.complete(request).await?;
        self.record(response.usage, started);
        Ok(response)
    }

    async fn stream(
        &self,
        request: &ModelRequest,
    ) -> Result<BoxStream<'static, Result<StreamEvent, ModelError>>, ModelError> {
        let started = Instant::now();
        let inner = self.inner.stream(request).await?;
        let ledger = self.ledger.clone();
        let also = self.also.clone();
        let label = self.label.clone();
        let session_id = self.session_id.clone();
        let events = self.events.clone();
        let info = self.inner.info().clone();
        let provider = self.inner.provider().to_string();
        // Usage is recorded when the stream reports its stop, with the last usage seen
        // (a reset by a retry layer starts the count again).
        let mut usage = Usage::default();
        Ok(inner
            .inspect(move |item| match item {
                Ok(StreamEvent::Usage { usage: u }) => usage = merge_usage(usage, *u),
                Ok(StreamEvent::Reset) => usage = Usage::default(),
                Ok(StreamEvent::Stop { .. }) => {
                    ledger.record(&label, usage, &info);
                    if let Some(also) = &also {
                        also.record(&label, usage, &info);
                    }
                    if let Some(sink) = &events {
                        sink.emit(aux_event(
                            &label,
                            &session_id,
                            &provider,
                            &info,
                            usage,
                            started,
                        ));
                    }
                }
                _ => {}
            })
            .boxed())
    }
}

/// Fold a streamed usage report into what was seen so far (the response assembler's rule:
/// the last non-zero value of each field wins).
fn merge_usage(mut seen: Usage, update: Usage) -> Usage {
    for (dst, src) in [
        (&mut seen.input_tokens, update.input_tokens),
        (&mut seen.output_tokens, update.output_tokens),
        (&mut seen.cache_read_tokens, update.cache_read_tokens),
        (&mut seen.cache_write_tokens, update.cache_write_tokens),
    ] {
        if src != 0 {
            *dst = src;
        }
    }
    seen
}
