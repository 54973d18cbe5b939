//! Tool calls and their recovery: progress tokens, timeouts, cancellation, the health
//! check of HTTP sessions, and the rule for sending a call again on a fresh session
//! (only calls whose tool is annotated read-only or idempotent).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, NumberOrString, ProgressNotificationParam,
    ProgressToken, RequestMetaObject,
};
use rmcp::{Peer, RoleClient, ServiceError};
use serde_json::{Map, Value};
use sre_core::ToolAnnotations;
use tokio_util::sync::CancellationToken;

use super::{CallFailure, Inner};
use crate::config::Transport;
use crate::error::{FailureKind, McpError, classify};

const HEALTH_INTERVAL: Duration = Duration::from_secs(2);
const HEALTH_PING_TIMEOUT: Duration = Duration::from_secs(3);

/// How the session of a pending call was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lost {
    /// The session stopped answering pings: the call may or may not have run.
    Unanswered,
    /// The server answered HTTP 404 for the session: it rejected the call unprocessed.
    Expired,
}

/// What to do once the session of a pending call is lost.
#[derive(Debug, PartialEq, Eq)]
enum Recovery {
    /// Send the call again on a fresh session.
    Resend,
    /// Fail with this model-visible detail.
    Fail(&'static str),
}

/// The one rule for sending a call a second time: only once, and only when running it
/// twice is harmless (the tool is annotated read-only or idempotent).
fn recovery(lost: Lost, annotations: ToolAnnotations, attempt: u32) -> Recovery {
    match lost {
        _ if attempt == 0 && annotations.safe_to_repeat() => Recovery::Resend,
        Lost::Unanswered if annotations.safe_to_repeat() => Recovery::Fail(
            "the HTTP session stopped answering twice while the call was pending; check the server's health",
        ),
        Lost::Unanswered => Recovery::Fail(
            "the HTTP session stopped answering while the call was pending (server restarted, \
             overloaded or unreachable), so the call may or may not have run. It was not sent \
             again because the tool is not annotated read-only or idempotent: check whether it \
             took effect before calling it again. The next call opens a new session",
        ),
        Lost::Expired if annotations.safe_to_repeat() => {
            Recovery::Fail("the server rejected the session twice in a row (HTTP 404)")
        }
        Lost::Expired => Recovery::Fail(
            "the server no longer knows this session (HTTP 404: it restarted or expired the \
             session) and rejected the call; a server that follows the MCP spec did not run \
             it. It was not sent again automatically because the tool is not annotated \
             read-only or idempotent: call it again if it is still needed (the next call \
             opens a new session)",
        ),
    }
}

impl Inner {
    fn call_error(&self, tool: &str, kind: FailureKind, detail: impl AsRef<str>) -> CallFailure {
        CallFailure::Failed(McpError::Call {
            connector: self.config.name.clone(),
            tool: tool.to_string(),
            kind,
            detail: self.redact(detail.as_ref()),
        })
    }

    /// The annotations the server gave `tool` (MCP's worst case for tools it did not list).
    fn annotations_of(&self, tool: &str) -> ToolAnnotations {
        self.tools
            .read()
            .ok()
            .and_then(|t| t.iter().find(|t| t.name == tool).map(|t| t.annotations))
            .unwrap_or_default()
    }

    /// Call `tool` with `arguments`; returns the result as wire JSON.
    pub(crate) async fn call(
        self: &Arc<Self>,
        tool: &str,
        arguments: Map<String, Value>,
        cancel: &CancellationToken,
        trace: Option<&sre_core::TraceContext>,
    ) -> Result<Value, CallFailure> {
        let timeout = self.config.call_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let is_http = matches!(self.config.transport, Transport::StreamableHttp { .. });
        let mut attempt = 0;
        loop {
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
            // The trace goes on in the server (SEP-414; over HTTP also as headers).
            if let Some(t) = trace {
                meta.set_traceparent(t.traceparent.clone());
                if let Some(state) = &t.tracestate {
                    meta.set_tracestate(state.clone());
                }
            }
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
            let outcome = tokio::select! {
                biased;
                _ = cancel.cancelled() => Err(CallFailure::Cancelled),
                _ = session_health(&session.peer, is_http) => Ok(None),
                _ = tokio::time::sleep_until(deadline) => {
                    let progress = self.progress_note(&token);
                    Err(self.call_error(tool, FailureKind::Timeout, format!(
                        "no result within {:.1}s (call_timeout_secs); the request was cancelled{progress}",
                        timeout.as_secs_f64())))
                }
                r = session.peer.call_tool_once(params) => Ok(Some(r)),
            };
            if let Ok(mut p) = self.progress.lock() {
                p.remove(&token);
            }
            let lost = match outcome? {
                // The session stopped answering pings (e.g. the server restarted and answers
                // our Mcp-Session-Id with 400 instead of 404, or hangs).
                None => Lost::Unanswered,
                Some(response) => match self.response(tool, &session, response) {
                    Ok(v) => return Ok(v),
                    Err(Err(failure)) => return Err(failure),
                    Err(Ok(lost)) => lost,
                },
            };
            self.give_up(session.generation);
            match recovery(lost, self.annotations_of(tool), attempt) {
                Recovery::Resend => attempt += 1,
                Recovery::Fail(detail) => {
                    return Err(self.call_error(tool, FailureKind::Closed, detail));
                }
            }
        }
    }

    /// Map one call response: the result, a failure, or (inner `Ok`) a lost session.
    fn response(
        &self,
        tool: &str,
        session: &super::Session,
        response: Result<CallToolResponse, ServiceError>,
    ) -> Result<Value, Result<Lost, CallFailure>> {
        let fail = |kind, detail: String| Err(Err(self.call_error(tool, kind, detail)));
        match response {
            Ok(CallToolResponse::Complete(res)) => Ok(serde_json::to_value(&res).unwrap_or(Value::Null)),
            Ok(CallToolResponse::InputRequired(_)) => fail(
                FailureKind::Protocol,
                "the server asked for interactive input (input_required), which an agent connector cannot provide".into(),
            ),
            Ok(CallToolResponse::Task(t)) => {
                let v = serde_json::to_value(&t).unwrap_or(Value::Null);
                fail(
                    FailureKind::Protocol,
                    format!("the server turned the call into a task, which sre-mcp does not poll: {v}"),
                )
            }
            Ok(_) => fail(
                FailureKind::Protocol,
                "the server answered with a result kind sre-mcp does not understand".into(),
            ),
            // A JSON-RPC error from the server: unknown tool, invalid params...
            Err(ServiceError::McpError(e)) => fail(
                FailureKind::Other,
                format!("server error {}: {}", e.code.0, e.message),
            ),
            Err(ServiceError::TransportClosed) => {
                self.invalidate(session.generation);
                let is_stdio = matches!(self.config.transport, Transport::Stdio { .. });
                let what = if is_stdio {
                    "the server process exited or closed stdout during the call"
                } else {
                    "the connection to the server closed during the call"
                };
                let tail = if is_stdio { self.stderr_tail() } else { String::new() };
                fail(
                    FailureKind::Closed,
                    format!(
                        "{what}; the connector is restarting it. The call may or may not have \
                         run; it was not sent again{tail}"
                    ),
                )
            }
            Err(e) => {
                let (kind, detail) = classify(&e);
                if detail.to_ascii_lowercase().contains("session expired") {
                    // rmcp's own re-initialisation is off: the connector decides.
                    return Err(Ok(Lost::Expired));
                }
                fail(kind, format!("{detail}. Hint: {}", kind.hint()))
            }
        }
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
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_calls_safe_to_repeat_are_sent_again_and_only_once() {
        let worst = ToolAnnotations::default();
        let read_only = ToolAnnotations {
            read_only: true,
            ..worst
        };
        let idempotent = ToolAnnotations {
            idempotent: true,
            ..worst
        };
        for lost in [Lost::Unanswered, Lost::Expired] {
            assert_eq!(recovery(lost, read_only, 0), Recovery::Resend);
            assert_eq!(recovery(lost, idempotent, 0), Recovery::Resend);
            assert!(matches!(recovery(lost, read_only, 1), Recovery::Fail(_)));
            assert!(matches!(recovery(lost, worst, 0), Recovery::Fail(_)));
        }
        let Recovery::Fail(msg) = recovery(Lost::Unanswered, worst, 0) else {
            unreachable!()
        };
        assert!(msg.contains("may or may not have run"), "{msg}");
    }
}
