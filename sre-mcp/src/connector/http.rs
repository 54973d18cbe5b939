//! The HTTP client behind rmcp's Streamable HTTP transport: TLS with an explicit crypto
//! provider (no process-global state), a redirect policy that never replays headers to
//! another origin, and a watch on the session's background event stream (the GET SSE
//! stream) so that no call is sent before the server can reach the client on it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::stream::BoxStream;
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use rustls_platform_verifier::BuilderVerifierExt;
use sse_stream::Sse;
use tokio::sync::watch;

use crate::error::FailureKind;

/// Most redirects followed for one request (rmcp's own default client uses the same bound).
const MAX_REDIRECTS: usize = 10;

/// TLS settings built from rustls' `ring` provider passed explicitly, so nothing depends
/// on (or installs) a process-wide default provider. Server certificates are checked by
/// the platform verifier, as reqwest does by default (on Linux: the system store, which
/// honours `SSL_CERT_FILE`/`SSL_CERT_DIR`).
pub(crate) fn tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth();
    // reqwest leaves a preconfigured config untouched: without ALPN, HTTP/2 is never used.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Follow only same-origin 307/308 redirects (they keep the method and the JSON-RPC body),
/// at most [`MAX_REDIRECTS`] hops. A cross-origin hop would replay custom headers (API
/// keys such as `DD_API_KEY`) and the session id to another host, and 301/302/303 turn the
/// POST into a body-less GET; both are returned to rmcp as the redirect response. This is
/// the policy of rmcp's own default client, which sre-mcp cannot use (it needs a global
/// crypto provider).
pub(crate) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let keeps_body = matches!(
            attempt.status(),
            reqwest::StatusCode::TEMPORARY_REDIRECT | reqwest::StatusCode::PERMANENT_REDIRECT
        );
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !keeps_body || !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}

/// The reqwest client for one connection attempt.
pub(crate) fn client(connect_timeout: Duration) -> Result<reqwest::Client, (FailureKind, String)> {
    let tls = tls_config().map_err(|e| (FailureKind::Tls, format!("cannot set up TLS: {e}")))?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(redirect_policy())
        .connect_timeout(connect_timeout)
        .build()
        .map_err(|e| {
            (
                FailureKind::Other,
                format!("cannot build the HTTP client: {e}"),
            )
        })
}

/// Where the session's background event stream (GET SSE) stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EventStream {
    /// Not opened yet (or the session has none: stateless servers).
    Pending,
    /// The server accepted it: server-initiated requests can reach the client.
    Open,
    /// The server refused it (405: it sends everything on POST responses) or it failed.
    Unavailable,
}

/// Shared between the transport's HTTP client and the connector.
#[derive(Clone)]
pub(crate) struct EventStreamWatch {
    state: Arc<watch::Sender<EventStream>>,
    session_seen: Arc<AtomicBool>,
}

impl EventStreamWatch {
    pub(crate) fn new() -> Self {
        EventStreamWatch {
            state: Arc::new(watch::channel(EventStream::Pending).0),
            session_seen: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the server gave an `Mcp-Session-Id` (then rmcp opens the GET stream right
    /// after the handshake; stateless sessions have none).
    pub(crate) fn expects_stream(&self) -> bool {
        self.session_seen.load(Ordering::Acquire)
    }

    /// Wait until the first GET stream attempt has an outcome.
    pub(crate) async fn settled(&self) -> EventStream {
        let mut rx = self.state.subscribe();
        match rx.wait_for(|s| *s != EventStream::Pending).await {
            Ok(s) => s.clone(),
            Err(_) => EventStream::Unavailable,
        }
    }

    fn settle(&self, outcome: EventStream) {
        self.state.send_if_modified(|s| {
            if *s == EventStream::Pending {
                *s = outcome;
                true
            } else {
                false
            }
        });
    }
}

/// reqwest's rmcp client, reporting the outcome of the first GET stream and whether the
/// server issued a session id.
#[derive(Clone)]
pub(crate) struct WatchedClient {
    pub(crate) http: reqwest::Client,
    pub(crate) watch: EventStreamWatch,
}

type PostResult = Result<StreamableHttpPostResponse, StreamableHttpError<reqwest::Error>>;
type GetResult =
    Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<reqwest::Error>>;

/// `custom_headers`, plus the W3C trace context of a `tools/call` whose `_meta` carries one
/// (SEP-414): an HTTP server's tracing middleware reads the headers, not the body.
fn with_trace(
    message: &ClientJsonRpcMessage,
    mut custom_headers: HashMap<HeaderName, HeaderValue>,
) -> HashMap<HeaderName, HeaderValue> {
    use rmcp::model::{ClientRequest, JsonRpcMessage};
    let JsonRpcMessage::Request(r) = message else {
        return custom_headers;
    };
    let ClientRequest::CallToolRequest(call) = &r.request else {
        return custom_headers;
    };
    let Some(meta) = &call.params.meta else {
        return custom_headers;
    };
    for (name, value) in [
        ("traceparent", meta.get_traceparent()),
        ("tracestate", meta.get_tracestate()),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            custom_headers.insert(HeaderName::from_static(name), v);
        }
    }
    custom_headers
}

impl WatchedClient {
    fn saw(&self, result: &PostResult) {
        let has_session = match result {
            Ok(
                StreamableHttpPostResponse::Json(_, sid) | StreamableHttpPostResponse::Sse(_, sid),
            ) => sid.is_some(),
            _ => false,
        };
        if has_session {
            self.watch.session_seen.store(true, Ordering::Release);
        }
    }

    fn opened(&self, result: &GetResult) {
        self.watch.settle(match result {
            Ok(_) => EventStream::Open,
            Err(_) => EventStream::Unavailable,
        });
    }
}

impl StreamableHttpClient for WatchedClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> PostResult {
        let headers = with_trace(&message, custom_headers);
        let r = self
            .http
            .post_message(uri, message, session_id, auth_header, headers)
            .await;
        self.saw(&r);
        r
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> PostResult {
        let headers = with_trace(&message, custom_headers);
        let r = self
            .http
            .post_message_with_max_sse_event_size(
                uri,
                message,
                session_id,
                auth_header,
                headers,
                max_sse_event_size,
            )
            .await;
        self.saw(&r);
        r
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> PostResult {
        let headers = with_trace(&message, custom_headers);
        let r = self
            .http
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                headers,
                limits,
            )
            .await;
        self.saw(&r);
        r
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<reqwest::Error>> {
        self.http
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> GetResult {
        let r = self
            .http
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await;
        self.opened(&r);
        r
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> GetResult {
        let r = self
            .http
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await;
        self.opened(&r);
        r
    }
}
