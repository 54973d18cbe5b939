//! The one HTTP model every provider uses: [`HttpModel`] validates, sends, completes and
//! streams for any [`WireFormat`] (a provider supplies only its URL, headers, request
//! body, response parser and stream decoder). Also here: the client (TLS with its own
//! crypto provider, no process-global state), error mapping (status, provider message,
//! request id, retry-after) and server-sent events.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::sse::{SseEvent, SseParser};
use crate::error::ModelError;
use crate::model::{Model, ModelInfo, ModelRequest, ModelResponse, StreamEvent};
use crate::validate::validate_request;

/// Connection settings of a provider.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Base URL (e.g. `https://api.anthropic.com`, `http://127.0.0.1:8000/v1`).
    pub base_url: String,
    /// Extra headers sent with every request (e.g. `api-key` for Azure OpenAI). Their
    /// values are marked sensitive (never logged by the HTTP stack).
    pub headers: Vec<(String, String)>,
    /// TCP/TLS connect timeout. Default 10 s.
    pub connect_timeout: Duration,
    /// Longest silence while reading a response or stream. Default 120 s.
    pub read_timeout: Duration,
    /// DER-encoded CA certificates trusted in addition to the platform's (a private CA in
    /// front of a self-hosted model server). Default none.
    pub extra_roots: Vec<Vec<u8>>,
}

impl HttpSettings {
    /// Settings for `base_url` with default timeouts, no extra headers or roots.
    pub fn new(base_url: impl Into<String>) -> Self {
        HttpSettings {
            base_url: base_url.into(),
            headers: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            extra_roots: Vec::new(),
        }
    }

    /// `base_url` joined with `path` (exactly one slash between them).
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.base_url.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }
}

/// What one provider API adds to [`HttpModel`]: where and how to send, and how to read the
/// answer. Implemented by the provider configurations
/// ([`AnthropicConfig`](super::anthropic::AnthropicConfig), ...); hosts may add their own.
pub trait WireFormat: Send + Sync + 'static {
    /// Turns the API's server-sent events into [`StreamEvent`]s.
    type Decoder: SseDecoder;
    /// The response header carrying the provider's request id.
    const REQUEST_ID_HEADER: &'static str;
    /// The API's name, for error messages (e.g. `Anthropic Messages`).
    const NAME: &'static str;
    /// The provider, as `gen_ai.provider.name` says it (empty: unknown).
    const PROVIDER: &'static str = "";

    /// The provider of this configuration (default [`PROVIDER`](Self::PROVIDER); e.g.
    /// `azure.ai.openai` for an OpenAI wire format served by Azure).
    fn provider(&self) -> &str {
        Self::PROVIDER
    }

    /// Model facts.
    fn info(&self) -> &ModelInfo;
    /// Connection settings.
    fn http(&self) -> &HttpSettings;
    /// The endpoint requests are posted to.
    fn url(&self) -> String;
    /// Headers of every request besides [`HttpSettings::headers`] (authentication,
    /// versions). Marked sensitive.
    fn headers(&self) -> Vec<(String, String)>;
    /// The JSON body for `request` (deterministic: same request, same bytes).
    fn body(&self, request: &ModelRequest, stream: bool) -> Result<Vec<u8>, ModelError>;
    /// Parse a complete (non-streamed) answer.
    fn parse(&self, body: &[u8]) -> Result<ModelResponse, ModelError>;
}

/// A provider's translation of server-sent events into [`StreamEvent`]s.
pub trait SseDecoder: Default + Send + 'static {
    /// What a complete stream ends with, named in the error when it breaks off earlier.
    const END: &'static str;

    /// Decode one event (`event` name, possibly empty, and `data`).
    fn decode(&mut self, event: &str, data: &str) -> Result<Vec<StreamEvent>, ModelError>;

    /// Whether the end marker was seen.
    fn is_complete(&self) -> bool;
}

/// Serialise a request body; a value serde cannot encode is a typed
/// [`ModelError::InvalidRequest`] naming the API, never an empty body.
pub fn encode<T: serde::Serialize + ?Sized>(body: &T, api: &str) -> Result<Vec<u8>, ModelError> {
    serde_json::to_vec(body).map_err(|e| ModelError::InvalidRequest {
        message: format!("the {api} request cannot be serialised: {e}"),
    })
}

/// A request's temperature as a JSON number with the decimal the host wrote (`0.2`, not
/// the nearest `f64` of the `f32`, `0.20000000298023224`).
pub(crate) fn temperature_json(t: f32) -> serde_json::Value {
    let exact: f64 = t.to_string().parse().unwrap_or(f64::from(t));
    serde_json::json!(exact)
}

/// A model behind an HTTP API, for any [`WireFormat`].
pub struct HttpModel<W: WireFormat> {
    wire: W,
    client: reqwest::Client,
    url: String,
}

impl<W: WireFormat> HttpModel<W> {
    /// Build the client for `wire`'s settings and headers.
    pub fn from_wire(wire: W) -> Result<Self, ModelError> {
        let client = client(wire.http(), &wire.headers())?;
        let url = wire.url();
        reqwest::Url::parse(&url).map_err(|e| ModelError::InvalidRequest {
            message: format!("{} endpoint `{url}` is not a URL: {e}", W::NAME),
        })?;
        Ok(HttpModel { wire, client, url })
    }

    /// The wire format (the provider's configuration).
    pub fn wire(&self) -> &W {
        &self.wire
    }

    /// The endpoint requests are posted to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The JSON body sent for `request` (deterministic: same request, same bytes).
    pub fn request_body(
        &self,
        request: &ModelRequest,
        stream: bool,
    ) -> Result<Vec<u8>, ModelError> {
        self.wire.body(request, stream)
    }
}

#[async_trait::async_trait]
impl<W: WireFormat> Model for HttpModel<W> {
    fn provider(&self) -> &str {
        self.wire.provider()
    }

    fn info(&self) -> &ModelInfo {
        self.wire.info()
    }

    async fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ModelError> {
        validate_request(request)?;
        let body = self.wire.body(request, false)?;
        let response = post_json(&self.client, &self.url, body, W::REQUEST_ID_HEADER).await?;
        let request_id = header(response.headers(), W::REQUEST_ID_HEADER);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| with_request_id(transport(&self.url, &e), request_id.as_deref()))?;
        let mut parsed = self
            .wire
            .parse(&bytes)
            .map_err(|e| with_request_id(e, request_id.as_deref()))?;
        if request_id.is_some() {
            parsed.request_id = request_id;
        }
        Ok(parsed)
    }

    async fn stream(
        &self,
        request: &ModelRequest,
    ) -> Result<BoxStream<'static, Result<StreamEvent, ModelError>>, ModelError> {
        validate_request(request)?;
        let body = self.wire.body(request, true)?;
        let response = post_json(&self.client, &self.url, body, W::REQUEST_ID_HEADER).await?;
        let request_id = header(response.headers(), W::REQUEST_ID_HEADER);
        let events = sse(response, self.url.clone());
        Ok(decode::<W::Decoder>(events, request_id))
    }
}

/// The state of one decoded stream.
struct Decoding<D> {
    events: BoxStream<'static, Result<SseEvent, ModelError>>,
    decoder: D,
    queue: VecDeque<StreamEvent>,
    /// The id from the response header, which wins over any the events carry.
    header_id: Option<String>,
    done: bool,
}

/// Decode `events` with `D`. The request id comes first (from the header, else from the
/// decoder's first event). A stream that ends before `D`'s end marker is a transport error
/// (retryable), so nothing partial is taken for complete.
fn decode<D: SseDecoder>(
    events: BoxStream<'static, Result<SseEvent, ModelError>>,
    header_id: Option<String>,
) -> BoxStream<'static, Result<StreamEvent, ModelError>> {
    let mut queue = VecDeque::new();
    if let Some(id) = &header_id {
        queue.push_back(StreamEvent::RequestId { id: id.clone() });
    }
    let state = Decoding {
        events,
        decoder: D::default(),
        queue,
        header_id,
        done: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(event) = s.queue.pop_front() {
                return Some((Ok(event), s));
            }
            if s.done {
                return None;
            }
            let failure = match s.events.next().await {
                Some(Ok(e)) => match s.decoder.decode(&e.event, &e.data) {
                    Ok(out) => {
                        let from_header = s.header_id.is_some();
                        s.queue.extend(out.into_iter().filter(|e| {
                            !(from_header && matches!(e, StreamEvent::RequestId { .. }))
                        }));
                        continue;
                    }
                    Err(err) => err,
                },
                Some(Err(err)) => err,
                None if s.decoder.is_complete() => {
                    s.done = true;
                    continue;
                }
                None => ModelError::Transport {
                    message: format!("the stream ended before {}", D::END),
                },
            };
            s.done = true;
            let failure = with_request_id(failure, s.header_id.as_deref());
            return Some((Err(failure), s));
        }
    })
    .boxed()
}

/// Attach the request id to an error that lacks one: into a status error's field, else
/// into the message of an invalid response.
fn with_request_id(error: ModelError, id: Option<&str>) -> ModelError {
    let Some(id) = id else { return error };
    match error {
        ModelError::Status {
            status,
            message,
            request_id: None,
            retry_after_ms,
        } => ModelError::Status {
            status,
            message,
            request_id: Some(id.to_string()),
            retry_after_ms,
        },
        ModelError::InvalidResponse { message } => ModelError::InvalidResponse {
            message: format!("{message} (request id {id})"),
        },
        other => other,
    }
}

/// The rustls configuration: ring as this client's own crypto provider (nothing is
/// installed process-wide), the platform's certificate verifier plus `extra_roots`, and
/// ALPN for HTTP/2 and HTTP/1.1 (reqwest leaves a preconfigured TLS setup as it is).
fn tls_config(settings: &HttpSettings) -> Result<rustls::ClientConfig, ModelError> {
    let tls_error = |e: rustls::Error| ModelError::Transport {
        message: format!("cannot set up TLS: {e}"),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = settings
        .extra_roots
        .iter()
        .map(|der| rustls::pki_types::CertificateDer::from(der.clone()));
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
            .map_err(tls_error)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        // "dangerous" only in name: this is how the platform verifier is plugged in
        // (rustls-platform-verifier's own `with_platform_verifier` does the same).
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The HTTP client the providers use (the platform's roots plus `settings.extra_roots`, the
/// timeouts and headers of `settings`), for a host that talks to other HTTP services too.
pub fn http_client(settings: &HttpSettings) -> Result<reqwest::Client, ModelError> {
    client(settings, &[])
}

fn client(
    settings: &HttpSettings,
    extra: &[(String, String)],
) -> Result<reqwest::Client, ModelError> {
    let mut headers = HeaderMap::new();
    for (k, v) in settings.headers.iter().chain(extra) {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| ModelError::InvalidRequest {
                message: format!("header name `{k}`: {e}"),
            })?;
        let mut value = HeaderValue::from_str(v).map_err(|e| ModelError::InvalidRequest {
            message: format!("header `{k}` has an invalid value: {e}"),
        })?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(settings)?)
        .default_headers(headers)
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.read_timeout)
        .build()
        .map_err(|e| ModelError::Transport {
            message: format!("cannot build the HTTP client: {e}"),
        })
}

/// POST a JSON body; a non-2xx answer becomes a typed [`ModelError::Status`].
async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    request_id_header: &str,
) -> Result<reqwest::Response, ModelError> {
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| transport(url, &e))?;
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let request_id = header(response.headers(), request_id_header);
    let retry_after_ms = retry_after_ms(response.headers());
    let text = response.text().await.unwrap_or_default();
    Err(ModelError::Status {
        status,
        message: provider_message(&text),
        request_id,
        retry_after_ms,
    })
}

fn transport(url: &str, e: &reqwest::Error) -> ModelError {
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "the response body broke off"
    } else {
        "request failed"
    };
    // Walk the source chain: "connection refused", "connection reset", certificate
    // errors live there.
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    ModelError::Transport {
        message: format!("{what} ({url}): {detail}"),
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `retry-after-ms`, else `retry-after` in seconds (fractions allowed).
fn retry_after_ms(headers: &HeaderMap) -> Option<u64> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(ms.max(0.0) as u64);
    }
    header(headers, "retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|s| (s.max(0.0) * 1000.0) as u64)
}

/// The provider's error message from an error body (`{"error": {"message": ...}}`, or
/// `{"error": "..."}`, or `{"message": ...}`), else the body itself (capped).
fn provider_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        let e = &v["error"];
        let msg = e["message"]
            .as_str()
            .or_else(|| e.as_str())
            .or_else(|| v["message"].as_str());
        if let Some(m) = msg {
            return match e["type"].as_str() {
                Some(t) => format!("{t}: {m}"),
                None => m.to_string(),
            };
        }
    }
    let body = body.trim();
    if body.is_empty() {
        "(empty body)".into()
    } else {
        crate::text::truncate_middle(body, 2000)
    }
}

/// The response body as server-sent events.
fn sse(
    response: reqwest::Response,
    url: String,
) -> BoxStream<'static, Result<SseEvent, ModelError>> {
    let state = (response.bytes_stream(), SseParser::default(), url, false);
    futures::stream::unfold(state, |(mut body, mut parser, url, done)| async move {
        if done {
            return None;
        }
        loop {
            match parser.next_event() {
                Some(Ok(e)) => return Some((Ok(e), (body, parser, url, false))),
                Some(Err(e)) => {
                    let err = ModelError::InvalidResponse {
                        message: format!("event stream from {url} is not UTF-8: {e}"),
                    };
                    return Some((Err(err), (body, parser, url, true)));
                }
                None => {}
            }
            match body.next().await {
                Some(Ok(bytes)) => parser.push(&bytes),
                Some(Err(e)) => {
                    let err = transport(&url, &e);
                    return Some((Err(err), (body, parser, url, true)));
                }
                None => return None,
            }
        }
    })
    .boxed()
}

/// A provider's error `type`/`code` as the HTTP status it stands for, so a stream's error
/// event is retried exactly like the same error answered as a status (unknown kinds are
/// server errors: retryable).
pub(crate) fn status_of(kind: &str) -> u16 {
    match kind {
        "invalid_request_error"
        | "invalid_prompt"
        | "context_length_exceeded"
        | "invalid_value" => 400,
        "authentication_error" | "invalid_api_key" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "rate_limit_error" | "rate_limit_exceeded" | "requests" | "tokens" => 429,
        "overloaded_error" => 529,
        _ => 500,
    }
}
