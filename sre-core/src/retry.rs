//! `RetryModel`: a [`Model`] layer that retries what can succeed on a second try.
//!
//! Retried: HTTP 408, 409, 429 (honouring the provider's `retry-after` / `retry-after-ms`),
//! 5xx, 529/overloaded, connection failures and timeouts, and a stream that breaks
//! mid-response. Not retried: 400, 401, 403, 404 and every other error, which reach the
//! caller as they are (typed, with the provider's message and request id). Attempts and
//! total time are bounded. Each retry is reported as an [`EventKind::ModelRetry`] event.
//!
//! A streamed attempt that fails after events were delivered is followed by
//! [`StreamEvent::Reset`], so the consumer discards the partial response before the next
//! attempt's events arrive: nothing partial reaches the transcript.
//!
//! Retries are reported to the layer's own sink if it has one, else to the sink of the run
//! the request comes from ([`ModelRequest::call`]); and no attempt starts once that run is
//! cancelled: cancellation is checked before every attempt and ends a backoff at once.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::ModelError;
use crate::event::{AgentEvent, EventKind, EventSink};
use crate::model::{Model, ModelInfo, ModelRequest, ModelResponse, StreamEvent};

/// How hard to retry.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. Default 5.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time. Default 500 ms.
    pub initial_backoff: Duration,
    /// Backoff cap (also caps a provider's `retry-after`). Default 30 s.
    pub max_backoff: Duration,
    /// No retry starts after this much time since the first attempt. Default 120 s.
    pub max_elapsed: Duration,
    /// Randomise backoff to 50-100 % of its value. Default on.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(120),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based), or `None` to give up.
    pub fn delay(&self, attempt: u32, error: &ModelError, elapsed: Duration) -> Option<Duration> {
        if !error.is_retryable() || attempt >= self.max_attempts {
            return None;
        }
        let requested = match error {
            ModelError::Status {
                retry_after_ms: Some(ms),
                ..
            } => Some(Duration::from_millis(*ms)),
            _ => None,
        };
        let delay = match requested {
            Some(d) => d.min(self.max_backoff),
            None => {
                let exp = self
                    .initial_backoff
                    .saturating_mul(1u32 << (attempt - 1).min(16));
                let capped = exp.min(self.max_backoff);
                if self.jitter {
                    capped.mul_f64(0.5 + 0.5 * random_unit())
                } else {
                    capped
                }
            }
        };
        (elapsed + delay <= self.max_elapsed).then_some(delay)
    }
}

/// A uniformly distributed number in [0, 1) from the standard library's random hasher keys.
fn random_unit() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Retries a wrapped model under a [`RetryPolicy`].
pub struct RetryModel {
    inner: Arc<dyn Model>,
    policy: RetryPolicy,
    events: Option<Arc<dyn EventSink>>,
}

impl RetryModel {
    /// Wrap `inner` with the default policy.
    pub fn new(inner: Arc<dyn Model>) -> Self {
        RetryModel {
            inner,
            policy: RetryPolicy::default(),
            events: None,
        }
    }

    /// Use `policy`.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Report each retry to `sink` (tagged with the request's agent and session).
    pub fn with_events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = Some(sink);
        self
    }

    fn report(&self, request: &ModelRequest, attempt: u32, error: &ModelError, delay: Duration) {
        report(
            self.events.as_ref().or(request.call.events.as_ref()),
            request,
            attempt,
            error,
            delay,
        );
    }
}

/// The error a cancelled run's call ends with (the loop turns cancellation into its own
/// outcome; this only stops the layer from sending again).
fn cancelled_error() -> ModelError {
    ModelError::Transport {
        message: "the run was cancelled; no further attempt was made".into(),
    }
}

/// Sleep `delay`, or return `false` at once if the run is cancelled first.
async fn backoff(request: &ModelRequest, delay: Duration) -> bool {
    match &request.call.cancel {
        Some(cancel) => tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = cancel.cancelled() => false,
        },
        None => {
            tokio::time::sleep(delay).await;
            true
        }
    }
}

fn report(
    events: Option<&Arc<dyn EventSink>>,
    request: &ModelRequest,
    attempt: u32,
    error: &ModelError,
    delay: Duration,
) {
    if let Some(sink) = events {
        sink.emit(AgentEvent {
            agent: request.agent.clone(),
            session_id: request.session_id.clone(),
            kind: EventKind::ModelRetry {
                attempt,
                error: error.to_string(),
                delay,
            },
        });
    }
}

#[async_trait]
impl Model for RetryModel {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }

    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            if request.call.is_cancelled() {
                return Err(cancelled_error());
            }
            match self.inner.complete(request).await {
                Ok(r) => return Ok(r),
                Err(e) => match self.policy.delay(attempt, &e, started.elapsed()) {
                    Some(delay) => {
                        self.report(request, attempt, &e, delay);
                        if !backoff(request, delay).await {
                            return Err(e);
                        }
                        attempt += 1;
                    }
                    None => return Err(e),
                },
            }
        }
    }

    async fn stream(
        &self,
        request: &ModelRequest,
    ) -> Result<BoxStream<'static, Result<StreamEvent, ModelError>>, ModelError> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<StreamEvent, ModelError>>(64);
        let inner = self.inner.clone();
        let policy = self.policy.clone();
        let events = self.events.clone().or_else(|| request.call.events.clone());
        let request = request.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut attempt = 1;
            loop {
                if request.call.is_cancelled() {
                    let _ = tx.send(Err(cancelled_error())).await;
                    return;
                }
                if tx.is_closed() {
                    return; // nobody reads this stream any more: no new (billed) attempt
                }
                let mut delivered = false;
                let failure = match inner.stream(&request).await {
                    Err(e) => e,
                    Ok(mut stream) => {
                        let mut failure = None;
                        let mut stopped = false;
                        while let Some(item) = stream.next().await {
                            match item {
                                Ok(event) => {
                                    stopped |= matches!(event, StreamEvent::Stop { .. });
                                    delivered = true;
                                    if tx.send(Ok(event)).await.is_err() {
                                        return; // the consumer went away
                                    }
                                }
                                Err(e) => {
                                    failure = Some(e);
                                    break;
                                }
                            }
                        }
                        match failure {
                            None if stopped => return,
                            None => ModelError::Transport {
                                message: "the stream ended before the response was complete".into(),
                            },
                            Some(e) => e,
                        }
                    }
                };
                match policy.delay(attempt, &failure, started.elapsed()) {
                    Some(delay) => {
                        report(events.as_ref(), &request, attempt, &failure, delay);
                        if delivered && tx.send(Ok(StreamEvent::Reset)).await.is_err() {
                            return;
                        }
                        let waited = tokio::select! {
                            w = backoff(&request, delay) => w,
                            _ = tx.closed() => return,
                        };
                        if !waited {
                            let _ = tx.send(Err(failure)).await;
                            return;
                        }
                        attempt += 1;
                    }
                    None => {
                        let _ = tx.send(Err(failure)).await;
                        return;
                    }
                }
            }
        });
        Ok(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed())
    }
}
