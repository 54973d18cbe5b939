//! The HTTP API (axum). Everything but `/healthz` and signed PagerDuty webhooks needs the
//! API token (`Authorization: Bearer <token>`, or `?token=` for senders that cannot set a
//! header, such as Azure Monitor action groups); errors are JSON `{"error": "..."}` with
//! the status that says whose fault it is.

// Handlers answer their errors as responses (`Result<_, Response>`), as axum does.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::Dispatcher;
use crate::home::ResponsePlanDef;
use crate::incident::intake::{self, Delivery, IntakeConfig, Refused};
use crate::incident::{Source, pagerduty};
use crate::store::{
    ApprovalStore, Decision, EventLog, IncidentStore, Intake, SqliteStore, ThreadStatus,
    ThreadStore, open_threads,
};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Incidents, threads, approvals.
    pub store: Arc<SqliteStore>,
    /// The home's response plans.
    pub plans: Arc<Vec<ResponsePlanDef>>,
    /// How deliveries are taken.
    pub intake: IntakeConfig,
    /// The API token.
    pub token: Arc<String>,
    /// Runs the threads.
    pub dispatcher: Dispatcher,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Cancelled when the server shuts down: open event streams end.
    pub closing: tokio_util::sync::CancellationToken,
}

/// Counters exposed on `/metrics` (Prometheus text format).
#[derive(Default)]
pub struct Metrics {
    deliveries: Mutex<BTreeMap<(String, u16), u64>>,
    unauthorised: AtomicU64,
}

impl Metrics {
    fn delivery(&self, source: Source, status: u16) {
        if let Ok(mut m) = self.deliveries.lock() {
            *m.entry((source.as_str().to_string(), status)).or_default() += 1;
        }
    }
}

type ApiResult = Result<Response, Response>;

/// The query parameter webhook senders may put the token in.
const WEBHOOK_QUERY_TOKEN: &str = "token";

/// The query without the token: what the API routes see (they take the header only).
fn api_query(mut q: BTreeMap<String, String>) -> BTreeMap<String, String> {
    q.remove(WEBHOOK_QUERY_TOKEN);
    q
}

pub(super) fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": message.to_string()}))).into_response()
}

/// `?limit=`: default 50, at most 1000; anything but a number is an error.
fn limit(q: &BTreeMap<String, String>) -> Result<usize, Response> {
    match q.get("limit") {
        None => Ok(50),
        Some(l) => l.parse::<usize>().map(|n| n.min(1000)).map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                format!("`limit` must be a number, not `{l}`"),
            )
        }),
    }
}

/// The router of the API.
pub fn router(state: AppState) -> axum::Router {
    // Bodies up to 16 MiB reach intake, which keeps what it refuses (the first MiB); the
    // API's own bodies (decisions, messages) are small.
    let webhooks = axum::Router::new()
        .route("/webhooks/alertmanager", post(alertmanager))
        .route("/webhooks/pagerduty", post(pagerduty_hook))
        .route("/webhooks/azure-monitor", post(azure_monitor))
        .route("/triggers/{name}", post(trigger))
        .layer(DefaultBodyLimit::max(16 << 20));
    let api = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/api/incidents", get(incidents).post(create_incident))
        .route("/api/incidents/{id}", get(incident))
        .route("/api/threads", get(threads))
        .route("/api/threads/{id}", get(thread))
        .route("/api/threads/{id}/messages", post(message))
        .route("/api/threads/{id}/events", get(super::stream::events))
        .route(
            "/api/threads/{id}/outputs/{session}/{call}",
            get(super::stream::output),
        )
        .route("/api/threads/{id}/runbook", post(super::runbook::runbook))
        .route("/api/threads/{id}/hooks/{hook}", post(toggle_hook))
        .route("/api/approvals", get(approvals))
        .route("/api/schedules", get(schedules))
        .route("/api/approvals/{id}/approve", post(approve))
        .route("/api/approvals/{id}/deny", post(deny))
        .layer(DefaultBodyLimit::max(1 << 20));
    webhooks
        .merge(api)
        .merge(super::console::routes())
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "this endpoint does not take that method",
            )
        })
        // After the fallbacks: they are answers of the server too.
        .layer(axum::middleware::map_response(json_refusals))
        .layer(axum::middleware::map_response(super::console::hardened))
        .with_state(state)
}

/// The token check, in constant time: `Authorization: Bearer`; on the webhook routes
/// also `?token=` (for senders that cannot set a header), never on the API, whose token a
/// URL would leak into logs and `Referer` headers.
fn authorised(state: &AppState, headers: &HeaderMap, query: &BTreeMap<String, String>) -> bool {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| query.get(WEBHOOK_QUERY_TOKEN).cloned());
    match given {
        Some(t) => bool::from(t.as_bytes().ct_eq(state.token.as_bytes())),
        None => false,
    }
}

fn check(
    state: &AppState,
    headers: &HeaderMap,
    query: &BTreeMap<String, String>,
) -> Result<(), Response> {
    if authorised(state, headers, query) {
        Ok(())
    } else {
        state.metrics.unauthorised.fetch_add(1, Ordering::Relaxed);
        Err(error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong API token",
        ))
    }
}

pub(super) async fn store_call<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e @ crate::store::StoreError::NotFound(_))) => Err(error(StatusCode::NOT_FOUND, e)),
        Ok(Err(e @ crate::store::StoreError::Conflict(_))) => Err(error(StatusCode::CONFLICT, e)),
        Ok(Err(e)) => Err(error(StatusCode::SERVICE_UNAVAILABLE, e)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}

/// The API's token check: the header only (a `?token=` is dropped, see [`authorised`]).
/// Returns the query without it.
pub(super) fn check_api(
    state: &AppState,
    headers: &HeaderMap,
    query: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Response> {
    let query = api_query(query);
    check(state, headers, &query)?;
    Ok(query)
}

/// A request's JSON body; an empty one is `{}`.
/// A request body: a JSON object (an empty body is `{}`). Any other JSON is refused, so that
/// a field cannot go unread (an array holding an `input`, a string instead of a reason).
fn json_body(body: &[u8]) -> Result<Value, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        )),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: {e}"),
        )),
    }
}

/// The non-blank string field `key` of a request body; 400 with `missing` otherwise (or
/// saying what it is instead of a string).
fn required<'a>(args: &'a Value, key: &str, missing: &str) -> Result<&'a str, Response> {
    match args.get(key) {
        Some(Value::String(t)) if !t.trim().is_empty() => Ok(t),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            Err(error(StatusCode::BAD_REQUEST, missing))
        }
        Some(other) => Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "`{key}`: expected a string, found {}",
                sre_core::text::json_kind(other)
            ),
        )),
    }
}

/// Refusals made below the handlers (a body over the limit) answered as JSON too.
async fn json_refusals(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.is_client_error() && !is_json {
        let what = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "the body is over this endpoint's size limit",
            _ => status.canonical_reason().unwrap_or("refused"),
        };
        return error(status, what);
    }
    response
}

/// Take a delivery, open the threads it routes, answer 202 with what it did. A delivery
/// authenticated by the API token (`by_token`) needs no platform signature.
async fn deliver(
    state: AppState,
    source: Source,
    trigger: String,
    headers: HeaderMap,
    body: Bytes,
    by_token: bool,
) -> ApiResult {
    let signature = headers
        .get(pagerduty::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut config = state.intake.clone();
    if by_token {
        config.pagerduty_secrets.clear();
    }
    let (store, plans) = (state.store.clone(), state.plans.clone());
    let received = tokio::task::spawn_blocking(move || {
        let delivery = Delivery {
            source,
            trigger: &trigger,
            body: &body,
            signature: signature.as_deref(),
            at: chrono::Utc::now(),
        };
        let received = intake::receive(store.as_ref(), &plans, &config, delivery)?;
        // Each routed incident's thread, opened once.
        let incidents = received.outcomes.iter().map(Intake::incident);
        let opened = open_threads(store.as_ref(), incidents, chrono::Utc::now())?;
        Ok::<_, Refused>((received, opened))
    })
    .await
    .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    match received {
        Ok((received, opened)) => {
            state.metrics.delivery(source, 202);
            let trace = trace_headers(&headers);
            for id in opened {
                state.dispatcher.trace_from(&id, trace.clone());
                state.dispatcher.submit(id);
            }
            let incidents: Vec<Value> = received
                .outcomes
                .iter()
                .map(|o| {
                    let i = o.incident();
                    let outcome = match o {
                        Intake::New { .. } => "new",
                        Intake::Joined { .. } => "joined",
                        Intake::Resolved { .. } => "resolved",
                        Intake::Reopened { .. } => "reopened",
                        Intake::Duplicate { .. } => "duplicate",
                    };
                    json!({"id": i.id, "outcome": outcome, "threadId": i.thread,
                           "notInvestigated": i.not_investigated})
                })
                .collect();
            let thread = incidents
                .first()
                .and_then(|i| i["threadId"].as_str())
                .map(str::to_string);
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({"delivery": received.delivery, "threadId": thread, "incidents": incidents})),
            )
                .into_response())
        }
        Err(Refused::Bad { delivery, error: e }) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            state.metrics.delivery(source, status.as_u16());
            Err((
                status,
                Json(json!({"error": e.to_string(), "delivery": delivery})),
            )
                .into_response())
        }
        Err(Refused::Store(e)) => {
            state.metrics.delivery(source, 503);
            Err(error(StatusCode::SERVICE_UNAVAILABLE, e))
        }
    }
}

/// The W3C trace context a request carries (`traceparent`, `tracestate`): the run it
/// starts or resumes continues that trace.
fn trace_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    ["traceparent", "tracestate"]
        .iter()
        .filter_map(|h| {
            let v = headers.get(*h)?.to_str().ok()?;
            Some((h.to_string(), v.to_string()))
        })
        .collect()
}

async fn alertmanager(
    State(s): State<AppState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check(&s, &headers, &q)?;
    deliver(
        s,
        Source::Alertmanager,
        "alertmanager".into(),
        headers,
        body,
        true,
    )
    .await
}

async fn azure_monitor(
    State(s): State<AppState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check(&s, &headers, &q)?;
    deliver(
        s,
        Source::AzureMonitor,
        "azure-monitor".into(),
        headers,
        body,
        true,
    )
    .await
}

/// Signed with a configured secret: the signature is the authentication (or the API token,
/// for an operator replaying a payload with `sre incident ingest --server`); without
/// secrets, the token is required like everywhere else.
async fn pagerduty_hook(
    State(s): State<AppState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let by_token = authorised(&s, &headers, &q);
    if s.intake.pagerduty_secrets.is_empty() || headers.get("authorization").is_some() {
        check(&s, &headers, &q)?;
    }
    deliver(
        s,
        Source::PagerDuty,
        "pagerduty".into(),
        headers,
        body,
        by_token,
    )
    .await
}

async fn trigger(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check(&s, &headers, &q)?;
    deliver(s, Source::Trigger, name, headers, body, true).await
}

/// An incident by hand (`sre incident create --server`): `{"title", "severity",
/// "service", "labels", "description"}`, routed by the plans like any other.
async fn create_incident(
    State(s): State<AppState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_api(&s, &headers, q)?;
    // Intake says what else is wrong with the body.
    if let Ok(args) = json_body(&body) {
        required(&args, "title", "`title` is required")?;
    }
    deliver(s, Source::Manual, "api".into(), headers, body, true).await
}

async fn incidents(
    State(s): State<AppState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult {
    let q = check_api(&s, &headers, q)?;
    let limit = limit(&q)?;
    let store = s.store.clone();
    let list = store_call(move || store.incidents(limit)).await?;
    Ok(Json(json!({"incidents": list})).into_response())
}

async fn incident(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult {
    check_api(&s, &headers, q)?;
    let store = s.store.clone();
    match store_call(move || store.incident(&id)).await? {
        Some(i) => Ok(Json(json!(i)).into_response()),
        None => Err(error(StatusCode::NOT_FOUND, "no such incident")),
    }
}

async fn thread(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult {
    check_api(&s, &headers, q)?;
    let store = s.store.clone();
    let found = store_call(move || {
        let Some(thread) = store.thread(&id)? else {
            return Ok(None);
        };
        // Its requests, and those a parked thread waits for; its sessions.
        let approvals = store.thread_approvals(&thread.id)?;
        let waiting: Vec<String> = approvals
            .iter()
            .filter(|a| a.status == "pending")
            .map(|a| a.id.clone())
            .collect();
        let sessions: Vec<Value> = store
            .thread_sessions(&thread.id)?
            .into_iter()
            .map(|(session, agent)| json!({"session": session, "agent": agent}))
            .collect();
        Ok(Some((thread, waiting, approvals, sessions)))
    })
    .await?;
    match found {
        Some((t, waiting, approvals, sessions)) => {
            let mut v = json!(t);
            v["waiting_for"] = json!(waiting);
            v["approvals"] = json!(approvals);
            v["sessions"] = json!(sessions);
            v["on_demand_hooks"] = json!(s.dispatcher.on_demand_hooks());
            Ok(Json(v).into_response())
        }
        None => Err(error(StatusCode::NOT_FOUND, "no such thread")),
    }
}

async fn approvals(
    State(s): State<AppState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult {
    let q = check_api(&s, &headers, q)?;
    let all = match q.get("all").map(String::as_str) {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(other) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("`all` must be true or false, not `{other}`"),
            ));
        }
    };
    let limit = if q.contains_key("limit") {
        limit(&q)?
    } else {
        200
    };
    let store = s.store.clone();
    let list = store_call(move || store.approvals(!all, limit)).await?;
    Ok(Json(json!({"approvals": list})).into_response())
}

/// Decide, then continue the thread once none of its requests waits any more.
async fn decided(
    s: &AppState,
    headers: &HeaderMap,
    id: String,
    decision: Decision,
    by: Option<String>,
    always: bool,
) -> ApiResult {
    let store = s.store.clone();
    let record = store_call(move || {
        let record = store.decide(&id, &decision, by.as_deref(), chrono::Utc::now())?;
        if always {
            store.add_policy(&crate::store::approvals::always_policy(&record))?;
        }
        Ok(record)
    })
    .await?;
    s.dispatcher.record(
        &record.thread,
        json!({"thread": record.thread, "approval": record.id, "decision": record.status,
               "note": record.note, "always": always, "by": record.decided_by,
               "at": record.decided_at}),
    );
    let store = s.store.clone();
    let thread_id = record.thread.clone();
    let resume = store_call(move || {
        let waiting = !store.pending(Some(&thread_id))?.is_empty();
        let parked = store
            .thread(&thread_id)?
            .is_some_and(|t| t.status == ThreadStatus::Parked);
        if parked && !waiting {
            store.set_thread(
                &thread_id,
                ThreadStatus::Queued,
                false,
                None,
                None,
                chrono::Utc::now(),
            )?;
            return Ok(true);
        }
        Ok(false)
    })
    .await?;
    if resume {
        s.dispatcher
            .trace_from(&record.thread, trace_headers(headers));
        s.dispatcher.submit(record.thread.clone());
    }
    Ok(Json(json!({"approval": record, "threadResumed": resume})).into_response())
}

async fn approve(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_api(&s, &headers, q)?;
    let args = json_body(&body)?;
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, m);
    if let Some(k) = args.as_object().and_then(|o| {
        o.keys()
            .find(|k| !["input", "always", "by"].contains(&k.as_str()))
    }) {
        return Err(bad(&format!("unknown field `{k}` (input, always, by)")));
    }
    let input = match args.get("input") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => return Err(bad("`input` must be the tool's input: a JSON object")),
    };
    let always = match args.get("always") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("`always` must be true or false")),
    };
    let by = decider(&args)?;
    decided(&s, &headers, id, Decision::Approve { input }, by, always).await
}

async fn deny(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_api(&s, &headers, q)?;
    let args = json_body(&body)?;
    if let Some(k) = args
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "reason" && *k != "by"))
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("unknown field `{k}` (reason, by)"),
        ));
    }
    let reason = required(&args, "reason", "`reason` is required: the agent reads it")?;
    let by = decider(&args)?;
    decided(
        &s,
        &headers,
        id,
        Decision::Deny {
            reason: reason.to_string(),
        },
        by,
        false,
    )
    .await
}

/// Invisible characters that change how the text around them reads (bidirectional
/// overrides and isolates, zero-width marks): a name holding one could pose as another.
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Who decides (`by`): a name of at most 100 characters without control characters, or
/// none. With one API token for everybody, it is what a person calls themselves.
fn decider(args: &Value) -> Result<Option<String>, Response> {
    match args.get("by") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) => {
            let name = name.trim();
            if name.is_empty() {
                Ok(None)
            } else if name.chars().count() > 100
                || name.chars().any(|c| c.is_control() || is_format_char(c))
            {
                Err(error(
                    StatusCode::BAD_REQUEST,
                    "`by` must be a name of at most 100 characters, without control or \
                     direction-changing characters",
                ))
            } else {
                Ok(Some(name.to_string()))
            }
        }
        Some(_) => Err(error(StatusCode::BAD_REQUEST, "`by` must be a string")),
    }
}

async fn metrics(
    State(s): State<AppState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult {
    check_api(&s, &headers, q)?;
    let mut out = String::from("# TYPE sre_deliveries_total counter\n");
    if let Ok(m) = s.metrics.deliveries.lock() {
        for ((source, status), n) in m.iter() {
            out.push_str(&format!(
                "sre_deliveries_total{{source=\"{source}\",status=\"{status}\"}} {n}\n"
            ));
        }
    }
    out.push_str(&format!(
        "# TYPE sre_unauthorised_requests_total counter\nsre_unauthorised_requests_total {}\n",
        s.metrics.unauthorised.load(Ordering::Relaxed)
    ));
    out.push_str(&format!(
        "# TYPE sre_threads_running gauge\nsre_threads_running {}\n",
        s.dispatcher.running()
    ));
    let store = s.store.clone();
    let counts = store_call(move || {
        let mut c = Vec::new();
        for st in [
            ThreadStatus::Queued,
            ThreadStatus::Running,
            ThreadStatus::Parked,
            ThreadStatus::Completed,
            ThreadStatus::Failed,
        ] {
            c.push((st.as_str(), store.count_threads(st)?));
        }
        Ok(c)
    })
    .await?;
    out.push_str("# TYPE sre_threads gauge\n");
    for (st, n) in counts {
        out.push_str(&format!("sre_threads{{status=\"{st}\"}} {n}\n"));
    }
    out.push_str(&s.dispatcher.genai_metrics());
    Ok(([("content-type", "text/plain; version=0.0.4")], out).into_response())
}

async fn schedules(
    State(s): State<AppState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult {
    check_api(&s, &headers, q)?;
    let store = s.store.clone();
    let states = store_call(move || store.schedule_states()).await?;
    Ok(Json(json!({"schedules": states})).into_response())
}

/// A follow-up message: the thread's next task, in its session, once it has finished.
async fn message(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_api(&s, &headers, q)?;
    let args = json_body(&body)?;
    let text = required(&args, "text", "`text` is required")?.to_string();
    let store = s.store.clone();
    let tid = id.clone();
    let thread = store_call(move || store.post_message(&tid, &text, chrono::Utc::now())).await?;
    s.dispatcher.trace_from(&id, trace_headers(&headers));
    s.dispatcher.submit(id);
    Ok((StatusCode::ACCEPTED, Json(json!({"thread": thread}))).into_response())
}

/// Switch an on-demand hook on or off for one thread (`{"enabled": true|false}`).
async fn toggle_hook(
    State(s): State<AppState>,
    Path((id, hook)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_api(&s, &headers, q)?;
    let args = json_body(&body)?;
    let Some(on) = args.get("enabled").and_then(Value::as_bool) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "`enabled` (true or false) is required",
        ));
    };
    let store = s.store.clone();
    let tid = id.clone();
    let Some(thread) = store_call(move || store.thread(&tid)).await? else {
        return Err(error(StatusCode::NOT_FOUND, "no such thread"));
    };
    match s.dispatcher.toggle_hook(&id, &thread.mode, &hook, on).await {
        Ok(hooks) => Ok(Json(json!({"thread": id, "hooks": hooks})).into_response()),
        Err(e) => Err(error(StatusCode::BAD_REQUEST, e)),
    }
}

/// The latest threads, `?status=` (queued, running, parked, completed, failed) and
/// `?limit=` (default 50, at most 1000).
async fn threads(
    State(s): State<AppState>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult {
    let q = check_api(&s, &headers, q)?;
    let status = match q.get("status") {
        Some(name) => Some(ThreadStatus::parse(name).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                format!("unknown status `{name}` (queued, running, parked, completed, failed)"),
            )
        })?),
        None => None,
    };
    let limit = limit(&q)?;
    let store = s.store.clone();
    let list = store_call(move || store.latest_threads(status, limit)).await?;
    Ok(Json(json!({"threads": list})).into_response())
}
