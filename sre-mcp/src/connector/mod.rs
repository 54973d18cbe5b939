//! One MCP connector: its state, status and session lifecycle (connect on demand, restart
//! with backoff, invalidation of lost sessions). All rmcp usage lives in this module:
//! [`transport`] sets sessions up, [`discovery`] lists tools, [`call`] runs and recovers
//! calls, [`http`] is the HTTP client, [`handler`] answers the server.

mod call;
mod discovery;
mod handler;
mod http;
mod transport;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use rmcp::service::RunningService;
use rmcp::{Peer, RoleClient};
use serde_json::Value;
use sre_core::ToolAnnotations;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::ConnectorConfig;
use crate::error::{FailureKind, McpError, Redactor};
use crate::status::ConnectorStatus;

pub use handler::ElicitationPolicy;
pub(crate) use transport::header_names;

use handler::{Handler, ProgressMap};

/// Environment lookup used for `${NAME}` expansion.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A tool as the server described it (after filters).
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteTool {
    /// The server's name for it.
    pub name: String,
    /// Title, if any.
    pub title: Option<String>,
    /// Description (may be empty).
    pub description: String,
    /// Input schema as sent by the server.
    pub input_schema: Value,
    /// The server's hints (`readOnlyHint`, `destructiveHint`, `idempotentHint`,
    /// `openWorldHint`), with MCP's defaults for hints it does not give: not read-only,
    /// destructive, not idempotent, open world.
    pub annotations: ToolAnnotations,
}

/// How a raw call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallFailure {
    /// The caller's cancellation token fired.
    Cancelled,
    /// Anything else; the message is model-visible and secret-free.
    Failed(McpError),
}

struct Session {
    peer: Peer<RoleClient>,
    generation: u64,
    protocol_version: String,
    /// Cancelled when the session is given up: its supervisor then closes the service
    /// (stops its background streams, deletes the HTTP session).
    closer: CancellationToken,
}

#[derive(Default)]
struct Backoff {
    failures: u32,
    next_attempt: Option<Instant>,
    last_error: Option<McpError>,
}

const STDERR_TAIL_LINES: usize = 20;
/// How long closing a given-up session may take (rmcp deletes the HTTP session).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

fn backoff_delay(failures: u32) -> Duration {
    let ms = 250u64.saturating_mul(1u64 << failures.min(10));
    Duration::from_millis(ms).min(MAX_BACKOFF)
}

pub(crate) struct Inner {
    pub(crate) config: ConnectorConfig,
    env: EnvLookup,
    redactor: RwLock<Redactor>,
    session: RwLock<Option<Arc<Session>>>,
    connect_lock: tokio::sync::Mutex<Backoff>,
    status: watch::Sender<ConnectorStatus>,
    tools: RwLock<Vec<RemoteTool>>,
    generation: AtomicU64,
    restarts: AtomicU64,
    shutdown: CancellationToken,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    progress: ProgressMap,
    progress_total: Arc<AtomicU64>,
    call_seq: AtomicU64,
    elicitation: ElicitationPolicy,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Inner {
    pub(crate) fn new(
        config: ConnectorConfig,
        env: EnvLookup,
        elicitation: ElicitationPolicy,
    ) -> Arc<Self> {
        let (status, _) = watch::channel(ConnectorStatus::Idle);
        Arc::new(Inner {
            config,
            env,
            redactor: RwLock::new(Redactor::default()),
            session: RwLock::new(None),
            connect_lock: tokio::sync::Mutex::new(Backoff::default()),
            status,
            tools: RwLock::new(Vec::new()),
            generation: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            shutdown: CancellationToken::new(),
            stderr_tail: Arc::new(Mutex::new(VecDeque::new())),
            progress: Arc::new(Mutex::new(HashMap::new())),
            progress_total: Arc::new(AtomicU64::new(0)),
            call_seq: AtomicU64::new(0),
            elicitation,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }

    pub(crate) fn status(&self) -> ConnectorStatus {
        self.status.borrow().clone()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<ConnectorStatus> {
        self.status.subscribe()
    }

    pub(crate) fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    pub(crate) fn progress_notifications(&self) -> u64 {
        self.progress_total.load(Ordering::Relaxed)
    }

    pub(crate) fn remote_tools(&self) -> Vec<RemoteTool> {
        self.tools.read().map(|t| t.clone()).unwrap_or_default()
    }

    pub(crate) fn protocol_version(&self) -> Option<String> {
        self.current().map(|s| s.protocol_version.clone())
    }

    fn set_status(&self, s: ConnectorStatus) {
        self.status.send_replace(s);
    }

    fn redact(&self, text: &str) -> String {
        match self.redactor.read() {
            Ok(r) => r.redact(text),
            Err(_) => String::from("[redacted]"),
        }
    }

    fn current(&self) -> Option<Arc<Session>> {
        self.session.read().ok().and_then(|s| s.clone())
    }

    fn stderr_tail(&self) -> String {
        let lines: Vec<String> = self
            .stderr_tail
            .lock()
            .map(|t| t.iter().rev().take(5).rev().cloned().collect())
            .unwrap_or_default();
        if lines.is_empty() {
            String::new()
        } else {
            format!("; last stderr: {}", self.redact(&lines.join(" | ")))
        }
    }

    fn connect_error(&self, kind: FailureKind, detail: impl AsRef<str>) -> McpError {
        McpError::Connect {
            connector: self.config.name.clone(),
            kind,
            detail: self.redact(detail.as_ref()),
        }
    }

    /// Watch the running service; when it ends (process exit, transport failure), restart
    /// it with exponential backoff until it is back or the connector is dropped/shut down.
    /// When the connector gives the session up (`closer`), close it and do not restart.
    fn spawn_supervisor(
        self: &Arc<Self>,
        running: RunningService<RoleClient, Handler>,
        generation: u64,
        closer: CancellationToken,
    ) {
        let weak: Weak<Inner> = Arc::downgrade(self);
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let handle = running.cancellation_token();
            let waiting = running.waiting();
            tokio::pin!(waiting);
            tokio::select! {
                biased;
                _ = closer.cancelled() => {
                    // Given up by the connector (lost session): close it, do not restart.
                    handle.cancel();
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, waiting).await;
                    return;
                }
                _ = shutdown.cancelled() => return,
                _ = &mut waiting => {}
            }
            let Some(inner) = weak.upgrade() else { return };
            inner.invalidate(generation);
            if inner.generation.load(Ordering::Relaxed) != generation {
                return; // a newer session already replaced this one
            }
            let reason = format!("the server connection ended{}", inner.stderr_tail());
            drop(inner);
            let mut attempt: u32 = 0;
            loop {
                attempt += 1;
                let Some(inner) = weak.upgrade() else { return };
                if inner.current().is_some() {
                    return; // a caller reconnected meanwhile
                }
                inner.restarts.fetch_add(1, Ordering::Relaxed);
                inner.set_status(ConnectorStatus::Restarting {
                    reason: reason.clone(),
                    attempt,
                });
                let wait = {
                    let b = inner.connect_lock.lock().await;
                    b.next_attempt
                        .map(|t| t.saturating_duration_since(Instant::now()))
                        .unwrap_or(Duration::ZERO)
                };
                drop(inner);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => return,
                }
                let Some(inner) = weak.upgrade() else { return };
                if inner.session().await.is_ok() {
                    return;
                }
            }
        });
    }

    /// Forget the session of `generation` (if it is still the current one); returns it.
    fn invalidate(&self, generation: u64) -> Option<Arc<Session>> {
        let mut s = self.session.write().ok()?;
        if s.as_ref().is_some_and(|s| s.generation == generation) {
            return s.take();
        }
        None
    }

    /// Give up a session that is alive but lost (it stopped answering, or the server
    /// forgot it): forget it and have its supervisor close it instead of restarting it.
    fn give_up(&self, generation: u64) {
        if let Some(old) = self.invalidate(generation) {
            old.closer.cancel();
        }
    }

    /// The live session, connecting (or reconnecting, subject to backoff) if needed.
    async fn session(self: &Arc<Self>) -> Result<Arc<Session>, McpError> {
        if let Some(s) = self.current()
            && !s.peer.is_transport_closed()
        {
            return Ok(s);
        }
        let mut backoff = self.connect_lock.lock().await;
        if let Some(s) = self.current() {
            if !s.peer.is_transport_closed() {
                return Ok(s);
            }
            self.invalidate(s.generation);
        }
        if self.shutdown.is_cancelled() {
            return Err(self.connect_error(FailureKind::Closed, "connector shut down"));
        }
        if let (Some(next), Some(last)) = (backoff.next_attempt, &backoff.last_error)
            && Instant::now() < next
        {
            let wait = next.saturating_duration_since(Instant::now());
            let kind = last.kind().unwrap_or(FailureKind::Other);
            return Err(self.connect_error(
                kind,
                format!(
                    "unavailable, next reconnect attempt in {:.1}s; last error: {last}",
                    wait.as_secs_f64()
                ),
            ));
        }
        if !matches!(self.status(), ConnectorStatus::Restarting { .. }) {
            self.set_status(ConnectorStatus::Connecting);
        }
        match self.connect_once().await {
            Ok(s) => {
                *backoff = Backoff::default();
                if let Ok(mut cur) = self.session.write() {
                    *cur = Some(s.clone());
                }
                Ok(s)
            }
            Err(e) => {
                backoff.failures += 1;
                backoff.next_attempt = Some(Instant::now() + backoff_delay(backoff.failures));
                backoff.last_error = Some(e.clone());
                self.set_status(ConnectorStatus::Failed {
                    kind: e.kind().unwrap_or(FailureKind::Other),
                    reason: e.to_string(),
                });
                Err(e)
            }
        }
    }

    /// Connect if not connected; returns the (filtered) remote tools.
    pub(crate) async fn connect(self: &Arc<Self>) -> Result<Vec<RemoteTool>, McpError> {
        self.session().await?;
        Ok(self.remote_tools())
    }

    pub(crate) async fn shutdown(&self) {
        self.shutdown.cancel();
        if let Ok(mut s) = self.session.write() {
            *s = None;
        }
        self.set_status(ConnectorStatus::Closed);
    }
}
