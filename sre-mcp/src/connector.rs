//! One MCP connector: connection lifecycle (connect, handshake, discovery, restart with
//! backoff, session re-initialisation) and raw tool calls. All rmcp usage lives here.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, Implementation, NumberOrString, ProgressNotificationParam,
    ProgressToken, ProtocolVersion, RequestMetaObject,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, NotificationContext, RequestContext, RunningService,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ErrorData, Peer, RoleClient, ServiceError};
use serde_json::{Map, Value};
use sre_core::ToolAnnotations;
use tokio::io::AsyncBufReadExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{ConnectorConfig, ProtocolMode, Transport};
use crate::error::{FailureKind, McpError, Redactor, classify};
use crate::headers::expand;
use crate::status::ConnectorStatus;

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

/// A tool's annotations from the hints in its MCP description (absent hints take MCP's
/// defaults, which assume the worst).
pub fn annotations_from_hints(tool: &Value) -> ToolAnnotations {
    let hint = |name: &str, default: bool| {
        tool.pointer(&format!("/annotations/{name}"))
            .and_then(Value::as_bool)
            .unwrap_or(default)
    };
    let read_only = hint("readOnlyHint", false);
    ToolAnnotations {
        read_only,
        // MCP: destructiveHint and idempotentHint are meaningful only when not read-only.
        destructive: !read_only && hint("destructiveHint", true),
        idempotent: read_only || hint("idempotentHint", false),
        open_world: hint("openWorldHint", true),
    }
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
}

#[derive(Default)]
struct Backoff {
    failures: u32,
    next_attempt: Option<Instant>,
    last_error: Option<McpError>,
}

const STDERR_TAIL_LINES: usize = 20;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

fn backoff_delay(failures: u32) -> Duration {
    let ms = 250u64.saturating_mul(1u64 << failures.min(10));
    Duration::from_millis(ms).min(MAX_BACKOFF)
}

/// What the client does when a server asks the user for input (elicitation).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ElicitationPolicy {
    /// Do not advertise the capability; decline any request (an agent has no user at hand).
    #[default]
    Decline,
    /// Advertise form elicitation and accept with the defaults the request's schema gives.
    AcceptDefaults,
}

#[derive(Clone)]
struct Handler {
    info: ClientConfig,
    progress: Arc<Mutex<HashMap<String, ProgressNotificationParam>>>,
    progress_total: Arc<AtomicU64>,
    elicitation: ElicitationPolicy,
}

fn token_key(t: &ProgressToken) -> String {
    match &t.0 {
        NumberOrString::Number(n) => n.to_string(),
        NumberOrString::String(s) => s.to_string(),
    }
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        self.info.clone()
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress_total.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut map) = self.progress.lock() {
            let key = token_key(&params.progress_token);
            if map.contains_key(&key) {
                map.insert(key, params);
            }
        }
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let decline = ElicitResult::new(ElicitationAction::Decline);
        if self.elicitation != ElicitationPolicy::AcceptDefaults {
            return Ok(decline);
        }
        let request = serde_json::to_value(&request).unwrap_or(Value::Null);
        let Some(props) = request
            .pointer("/requestedSchema/properties")
            .and_then(Value::as_object)
        else {
            return Ok(decline);
        };
        let mut content = Map::new();
        for (key, schema) in props {
            if let Some(default) = schema.get("default") {
                content.insert(key.clone(), default.clone());
            }
        }
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(Value::Object(content)))
    }
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
    progress: Arc<Mutex<HashMap<String, ProgressNotificationParam>>>,
    progress_total: Arc<AtomicU64>,
    call_seq: AtomicU64,
    elicitation: ElicitationPolicy,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Transport settings with `${NAME}` expanded. Holds secrets: never printed.
enum Resolved {
    Http {
        url: String,
        headers: Vec<(String, String)>,
    },
    Stdio {
        command: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
        cwd: Option<std::path::PathBuf>,
    },
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

    /// Resolve `${NAME}` references; also refreshes the redactor with every secret value.
    fn resolve(&self) -> Result<Resolved, McpError> {
        let name = &self.config.name;
        let env = |n: &str| (self.env)(n);
        let mut secrets = Vec::new();
        let resolved = match &self.config.transport {
            Transport::StreamableHttp { url, headers, auth } => {
                let url = expand(url, name, "url", &env)?;
                let mut out = Vec::new();
                for (k, v) in &headers.0 {
                    let v = expand(v, name, &format!("headers.{k}"), &env)?;
                    secrets.push(v.clone());
                    if let Some((_, cred)) = v.split_once(' ') {
                        secrets.push(cred.to_string());
                    }
                    out.push((k.clone(), v));
                }
                if let Some(auth) = auth {
                    let v = auth.header_value(name, &env)?;
                    secrets.push(v.clone());
                    if let Some((_, cred)) = v.split_once(' ') {
                        secrets.push(cred.to_string());
                    }
                    out.push(("Authorization".to_string(), v));
                }
                Resolved::Http { url, headers: out }
            }
            Transport::Stdio {
                command,
                args,
                env: vars,
                cwd,
            } => {
                let command = expand(command, name, "command", &env)?;
                let args = args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| expand(a, name, &format!("args[{i}]"), &env))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut out = Vec::new();
                for (k, v) in &vars.0 {
                    let v = expand(v, name, &format!("env.{k}"), &env)?;
                    secrets.push(v.clone());
                    out.push((k.clone(), v));
                }
                Resolved::Stdio {
                    command,
                    args,
                    env: out,
                    cwd: cwd.clone(),
                }
            }
        };
        if let Ok(mut r) = self.redactor.write() {
            *r = Redactor::new(secrets);
        }
        Ok(resolved)
    }

    fn connect_error(&self, kind: FailureKind, detail: impl AsRef<str>) -> McpError {
        McpError::Connect {
            connector: self.config.name.clone(),
            kind,
            detail: self.redact(detail.as_ref()),
        }
    }

    fn classify_connect(&self, err: &(dyn std::error::Error + 'static)) -> McpError {
        let (mut kind, detail) = classify(err);
        let is_stdio = matches!(self.config.transport, Transport::Stdio { .. });
        if is_stdio && matches!(kind, FailureKind::Other | FailureKind::Closed) {
            // A stdio server that closes during the handshake either crashed or printed
            // something that is not JSON-RPC on stdout.
            kind = FailureKind::Closed;
        }
        let detail = format!(
            "{detail}{}",
            if is_stdio {
                self.stderr_tail()
            } else {
                String::new()
            }
        );
        self.connect_error(kind, detail)
    }

    /// rmcp does not keep reqwest's error as a `source`, so connect/TLS/DNS failures arrive
    /// as "error sending request". Probe the URL once (no credentials) to classify them.
    async fn http_diagnose(&self, client: &reqwest::Client, url: &str, err: McpError) -> McpError {
        if !matches!(
            err.kind(),
            Some(FailureKind::Other | FailureKind::Closed | FailureKind::Protocol)
        ) {
            return err;
        }
        let probe = client.get(url).timeout(Duration::from_secs(5)).send().await;
        match probe {
            Err(e) => {
                let (kind, detail) = classify(&e);
                if kind == FailureKind::Other {
                    return err;
                }
                let original = match &err {
                    McpError::Connect { detail, .. } => detail.clone(),
                    other => other.to_string(),
                };
                self.connect_error(kind, format!("{detail} (while: {original})"))
            }
            Ok(_) => err,
        }
    }

    fn client_info(&self) -> ClientConfig {
        let mut caps = ClientCapabilities::default();
        if self.elicitation == ElicitationPolicy::AcceptDefaults {
            caps.elicitation = Some(Default::default());
        }
        ClientConfig::new(
            caps,
            Implementation::new("sre-mcp", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    async fn start(
        &self,
        resolved: Resolved,
    ) -> Result<RunningService<RoleClient, Handler>, McpError> {
        let handler = Handler {
            info: self.client_info(),
            progress: self.progress.clone(),
            progress_total: self.progress_total.clone(),
            elicitation: self.elicitation,
        };
        let lifecycle = match self.config.protocol {
            ProtocolMode::Initialize => ClientLifecycleMode::Initialize,
            ProtocolMode::Auto => ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: Some(ProtocolVersion::V_2025_11_25),
            },
        };
        match resolved {
            Resolved::Http { url, headers } => {
                let mut map = HashMap::new();
                for (k, v) in headers {
                    let name =
                        reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                            self.connect_error(
                                FailureKind::Other,
                                format!("invalid header name `{k}`"),
                            )
                        })?;
                    let mut value = reqwest::header::HeaderValue::from_str(&v).map_err(|_| {
                        self.connect_error(
                            FailureKind::Other,
                            format!("header `{k}` has a value that is not a valid HTTP header value (after `${{...}}` expansion)"),
                        )
                    })?;
                    value.set_sensitive(true);
                    map.insert(name, value);
                }
                crate::install_crypto_provider();
                let client = reqwest::Client::builder()
                    .connect_timeout(self.config.startup_timeout)
                    .build()
                    .map_err(|e| self.classify_connect(&e))?;
                let url_for_probe = url.clone();
                let cfg = StreamableHttpClientTransportConfig::with_uri(url)
                    .custom_headers(map)
                    .reinit_on_expired_session(true);
                let transport = StreamableHttpClientTransport::with_client(client.clone(), cfg);
                match handler.serve_with_lifecycle(transport, lifecycle).await {
                    Ok(r) => Ok(r),
                    Err(e) => {
                        let err = self.classify_connect(&e);
                        Err(self.http_diagnose(&client, &url_for_probe, err).await)
                    }
                }
            }
            Resolved::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let mut cmd = tokio::process::Command::new(&command);
                cmd.args(&args).envs(env).kill_on_drop(true);
                if let Some(cwd) = cwd {
                    cmd.current_dir(cwd);
                }
                let (proc, stderr) = TokioChildProcess::builder(cmd)
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .map_err(|e| {
                        self.connect_error(
                            FailureKind::Spawn,
                            format!("cannot run `{command}`: {e}"),
                        )
                    })?;
                if let Ok(mut t) = self.stderr_tail.lock() {
                    t.clear();
                }
                if let Some(stderr) = stderr {
                    let tail = self.stderr_tail.clone();
                    tokio::spawn(async move {
                        let mut lines = tokio::io::BufReader::new(stderr).lines();
                        while let Ok(Some(line)) = lines.next_line().await {
                            if let Ok(mut t) = tail.lock() {
                                if t.len() >= STDERR_TAIL_LINES {
                                    t.pop_front();
                                }
                                t.push_back(line.chars().take(500).collect());
                            }
                        }
                    });
                }
                handler
                    .serve_with_lifecycle(proc, lifecycle)
                    .await
                    .map_err(|e| self.classify_connect(&e))
            }
        }
    }

    /// One connection attempt: resolve, start, handshake, list tools.
    async fn connect_once(self: &Arc<Self>) -> Result<Arc<Session>, McpError> {
        let resolved = self.resolve()?;
        let startup = self.config.startup_timeout;
        let attempt = async {
            let running = self.start(resolved).await?;
            let tools = running
                .peer()
                .list_all_tools()
                .await
                .map_err(|e| self.classify_connect(&e))?;
            Ok::<_, McpError>((running, tools))
        };
        let (running, tools) = tokio::select! {
            r = tokio::time::timeout(startup, attempt) => match r {
                Ok(r) => r?,
                Err(_) => {
                    let tail = if matches!(self.config.transport, Transport::Stdio { .. }) {
                        self.stderr_tail()
                    } else {
                        String::new()
                    };
                    return Err(self.connect_error(
                        FailureKind::Timeout,
                        format!(
                            "no complete handshake and tool list within {:.1}s (startup_timeout_secs){tail}",
                            startup.as_secs_f64()
                        ),
                    ));
                }
            },
            _ = self.shutdown.cancelled() => {
                return Err(self.connect_error(FailureKind::Closed, "connector shut down"));
            }
        };
        let mut remote = Vec::new();
        for t in tools {
            let v = serde_json::to_value(&t).unwrap_or(Value::Null);
            let name = t.name.to_string();
            if !self.config.tools.accepts(&name) {
                continue;
            }
            remote.push(RemoteTool {
                name,
                title: t.title.clone(),
                description: t.description.as_deref().unwrap_or_default().to_string(),
                input_schema: v.get("inputSchema").cloned().unwrap_or(Value::Null),
                annotations: annotations_from_hints(&v),
            });
        }
        remote.sort_by(|a, b| a.name.cmp(&b.name));
        let count = remote.len();
        if let Ok(mut t) = self.tools.write() {
            *t = remote;
        }
        let protocol_version = running
            .peer()
            .peer_info()
            .map(|i| i.protocol_version.to_string())
            .unwrap_or_else(|| "unknown".into());
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let session = Arc::new(Session {
            peer: running.peer().clone(),
            generation,
            protocol_version: protocol_version.clone(),
        });
        self.set_status(ConnectorStatus::Connected {
            tools: count,
            protocol_version,
        });
        self.spawn_supervisor(running, generation);
        Ok(session)
    }

    /// Watch the running service; when it ends (process exit, transport failure), restart
    /// it with exponential backoff until it is back or the connector is dropped/shut down.
    fn spawn_supervisor(
        self: &Arc<Self>,
        running: RunningService<RoleClient, Handler>,
        generation: u64,
    ) {
        let weak: Weak<Inner> = Arc::downgrade(self);
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = running.waiting() => {}
                _ = shutdown.cancelled() => return,
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

    /// Forget the session of `generation` (if it is still the current one).
    fn invalidate(&self, generation: u64) -> bool {
        if let Ok(mut s) = self.session.write()
            && s.as_ref().is_some_and(|s| s.generation == generation)
        {
            *s = None;
            return true;
        }
        false
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

    fn call_error(&self, tool: &str, kind: FailureKind, detail: impl AsRef<str>) -> CallFailure {
        CallFailure::Failed(McpError::Call {
            connector: self.config.name.clone(),
            tool: tool.to_string(),
            kind,
            detail: self.redact(detail.as_ref()),
        })
    }

    /// Call `tool` with `arguments`; returns the result as wire JSON.
    pub(crate) async fn call(
        self: &Arc<Self>,
        tool: &str,
        arguments: Map<String, Value>,
        cancel: &CancellationToken,
    ) -> Result<Value, CallFailure> {
        let timeout = self.config.call_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        for attempt in 0..2 {
            let session = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(CallFailure::Cancelled),
                r = tokio::time::timeout_at(deadline, self.session()) => match r {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return Err(CallFailure::Failed(e)),
                    Err(_) => return Err(self.call_error(tool, FailureKind::Timeout, format!(
                        "timed out after {:.1}s (call_timeout_secs) while (re)connecting", timeout.as_secs_f64()))),
                },
            };
            let seq = self.call_seq.fetch_add(1, Ordering::Relaxed);
            let token = format!("sre-mcp-{}-{seq}", self.config.name);
            let mut meta = RequestMetaObject::default();
            meta.set_progress_token(ProgressToken(NumberOrString::String(token.clone().into())));
            let mut params = CallToolRequestParams::new(tool.to_string());
            params.arguments = Some(arguments.clone());
            params.meta = Some(meta);
            if let Ok(mut p) = self.progress.lock() {
                p.insert(
                    token.clone(),
                    ProgressNotificationParam::new(
                        ProgressToken(NumberOrString::String(token.clone().into())),
                        0.0,
                    ),
                );
            }
            let is_http = matches!(self.config.transport, Transport::StreamableHttp { .. });
            let health = session_health(&session.peer, is_http);
            let result = tokio::select! {
                biased;
                _ = cancel.cancelled() => Err(CallFailure::Cancelled),
                _ = health => {
                    // The session stopped answering pings (e.g. the server restarted and no
                    // longer knows our Mcp-Session-Id): re-initialise and retry once.
                    self.invalidate(session.generation);
                    if let Ok(mut p) = self.progress.lock() {
                        p.remove(&token);
                    }
                    if attempt == 0 {
                        continue;
                    }
                    Err(self.call_error(tool, FailureKind::Closed,
                        "the HTTP session stopped answering twice; check the server's health"))
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let progress = self.progress_note(&token);
                    Err(self.call_error(tool, FailureKind::Timeout, format!(
                        "no result within {:.1}s (call_timeout_secs); the request was cancelled{progress}",
                        timeout.as_secs_f64())))
                }
                r = session.peer.call_tool_once(params) => Ok(r),
            };
            if let Ok(mut p) = self.progress.lock() {
                p.remove(&token);
            }
            let response = match result {
                Ok(r) => r,
                Err(e) => return Err(e),
            };
            match response {
                Ok(CallToolResponse::Complete(res)) => {
                    return Ok(serde_json::to_value(&res).unwrap_or(Value::Null));
                }
                Ok(CallToolResponse::InputRequired(_)) => {
                    return Err(self.call_error(tool, FailureKind::Protocol,
                        "the server asked for interactive input (input_required), which an agent connector cannot provide"));
                }
                Ok(CallToolResponse::Task(t)) => {
                    let v = serde_json::to_value(&t).unwrap_or(Value::Null);
                    return Err(self.call_error(tool, FailureKind::Protocol, format!(
                        "the server turned the call into a task, which sre-mcp does not poll: {v}")));
                }
                Ok(_) => {
                    return Err(self.call_error(
                        tool,
                        FailureKind::Protocol,
                        "the server answered with a result kind sre-mcp does not understand",
                    ));
                }
                Err(ServiceError::McpError(e)) => {
                    // A JSON-RPC error from the server: unknown tool, invalid params...
                    return Err(self.call_error(
                        tool,
                        FailureKind::Other,
                        format!("server error {}: {}", e.code.0, e.message),
                    ));
                }
                Err(ServiceError::TransportClosed) => {
                    self.invalidate(session.generation);
                    let is_stdio = matches!(self.config.transport, Transport::Stdio { .. });
                    let what = if is_stdio {
                        "the server process exited or closed stdout during the call"
                    } else {
                        "the connection to the server closed during the call"
                    };
                    return Err(self.call_error(tool, FailureKind::Closed, format!(
                        "{what}; the connector is restarting it. The call was not retried because it may have had effects{}",
                        if is_stdio { self.stderr_tail() } else { String::new() })));
                }
                Err(e) => {
                    let (kind, detail) = classify(&e);
                    let expired = detail.to_ascii_lowercase().contains("session expired");
                    if expired && attempt == 0 {
                        // The server forgot our session and rmcp's own re-initialisation did
                        // not recover it: start a fresh connection and retry once (the server
                        // did not process a request it rejected with 404).
                        self.invalidate(session.generation);
                        continue;
                    }
                    let kind = if expired { FailureKind::NotFound } else { kind };
                    return Err(self.call_error(
                        tool,
                        kind,
                        format!("{detail}. Hint: {}", kind.hint()),
                    ));
                }
            }
        }
        Err(self.call_error(
            tool,
            FailureKind::NotFound,
            "session expired twice in a row",
        ))
    }

    fn progress_note(&self, token: &str) -> String {
        let p = self
            .progress
            .lock()
            .ok()
            .and_then(|p| p.get(token).cloned());
        match p {
            Some(p) if p.progress > 0.0 => {
                let total = p.total.map(|t| format!("/{t}")).unwrap_or_default();
                let msg = p.message.map(|m| format!(" ({m})")).unwrap_or_default();
                format!("; last progress {}{total}{msg}", p.progress)
            }
            _ => String::new(),
        }
    }

    /// Manifest-friendly facts: resolved URL when resolvable (no secrets in host/path).
    pub(crate) fn resolved_url(&self) -> Option<String> {
        match &self.config.transport {
            Transport::StreamableHttp { url, .. } => {
                let env = |n: &str| (self.env)(n);
                Some(expand(url, &self.config.name, "url", &env).unwrap_or_else(|_| url.clone()))
            }
            Transport::Stdio { .. } => None,
        }
    }
}

const HEALTH_INTERVAL: Duration = Duration::from_secs(2);
const HEALTH_PING_TIMEOUT: Duration = Duration::from_secs(3);

async fn ping_ok(peer: &Peer<RoleClient>, timeout: Duration) -> bool {
    let ping = peer.send_request(rmcp::model::ClientRequest::PingRequest(Default::default()));
    match tokio::time::timeout(timeout, ping).await {
        Ok(Ok(_)) | Ok(Err(ServiceError::McpError(_))) => true,
        Ok(Err(_)) | Err(_) => false,
    }
}

/// Resolves when an HTTP session stops answering pings while a call is pending; never
/// resolves for stdio (process exit is detected directly).
async fn session_health(peer: &Peer<RoleClient>, is_http: bool) {
    if !is_http {
        return std::future::pending().await;
    }
    loop {
        tokio::time::sleep(HEALTH_INTERVAL).await;
        if !ping_ok(peer, HEALTH_PING_TIMEOUT).await {
            return;
        }
    }
}

/// Extra facts for the manifest.
pub(crate) fn header_names(config: &ConnectorConfig) -> (Vec<String>, Option<String>) {
    match &config.transport {
        Transport::StreamableHttp { headers, auth, .. } => {
            let mut names: Vec<String> = headers.0.keys().cloned().collect();
            let mut scheme = auth.as_ref().map(|a| match a {
                crate::headers::Auth::Bearer(_) => "bearer".to_string(),
                crate::headers::Auth::Token(_) => "token".to_string(),
                crate::headers::Auth::Basic { .. } => "basic".to_string(),
            });
            if scheme.is_none() {
                let by_lower: BTreeMap<String, &String> = headers
                    .0
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect();
                if let Some(v) = by_lower.get("authorization") {
                    scheme = v
                        .split_whitespace()
                        .next()
                        .map(|s| s.to_ascii_lowercase())
                        .filter(|s| matches!(s.as_str(), "bearer" | "token" | "basic"));
                }
            }
            if auth.is_some() {
                names.push("Authorization".into());
            }
            names.sort();
            (names, scheme)
        }
        Transport::Stdio { .. } => (Vec::new(), None),
    }
}
