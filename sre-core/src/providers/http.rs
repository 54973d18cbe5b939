//! HTTP plumbing shared by the providers: client construction, error mapping (status,
//! provider message, request id, retry-after) and server-sent events.

use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::sse::{SseEvent, SseParser};
use crate::error::ModelError;
use crate::model::{ModelResponse, StreamEvent};

/// Connection settings of a provider.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Base URL (e.g. `https://api.anthropic.com`, `http://127.0.0.1:8000/v1`).
    pub base_url: String,
    /// Extra headers sent with every request (e.g. `api-key` for Azure OpenAI).
    pub headers: Vec<(String, String)>,
    /// TCP/TLS connect timeout. Default 10 s.
    pub connect_timeout: Duration,
    /// Longest silence while reading a response or stream. Default 120 s.
    pub read_timeout: Duration,
}

impl HttpSettings {
    /// Settings for `base_url` with default timeouts and no extra headers.
    pub fn new(base_url: impl Into<String>) -> Self {
        HttpSettings {
            base_url: base_url.into(),
            headers: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
        }
    }

    /// `base_url` joined with `path` (exactly one slash between them).
    pub(crate) fn url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.base_url.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }
}

pub(crate) fn client(settings: &HttpSettings) -> Result<reqwest::Client, ModelError> {
    // reqwest is built without a bundled crypto provider; install ring once per process
    // (a no-op if the host installed one already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut headers = HeaderMap::new();
    for (k, v) in &settings.headers {
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
        .default_headers(headers)
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.read_timeout)
        .build()
        .map_err(|e| ModelError::Transport {
            message: format!("cannot build the HTTP client: {e}"),
        })
}

/// POST a JSON body; a non-2xx answer becomes a typed [`ModelError::Status`].
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    headers: HeaderMap,
    body: Vec<u8>,
    request_id_header: &str,
) -> Result<reqwest::Response, ModelError> {
    let response = client
        .post(url)
        .headers(headers)
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

pub(crate) fn transport(url: &str, e: &reqwest::Error) -> ModelError {
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "the response body broke off"
    } else {
        "request failed"
    };
    // Walk the source chain: "connection refused", "connection reset" live there.
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

pub(crate) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `retry-after-ms`, else `retry-after` in seconds (fractions allowed).
pub(crate) fn retry_after_ms(headers: &HeaderMap) -> Option<u64> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(ms.max(0.0) as u64);
    }
    header(headers, "retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|s| (s.max(0.0) * 1000.0) as u64)
}

/// The provider's error message from an error body (`{"error": {"message": ...}}`, or
/// `{"error": "..."}`, or `{"message": ...}`), else the body itself (capped).
pub(crate) fn provider_message(body: &str) -> String {
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
pub(crate) fn sse(
    response: reqwest::Response,
    url: String,
) -> BoxStream<'static, Result<SseEvent, ModelError>> {
    let state = (response.bytes_stream(), SseParser::default(), url, false);
    futures::stream::unfold(state, |(mut body, mut parser, url, mut done)| async move {
        loop {
            if done {
                return None;
            }
            match parser.next_event() {
                Some(Ok(e)) => return Some((Ok(e), (body, parser, url, done))),
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
                    done = true;
                    let err = transport(&url, &e);
                    return Some((Err(err), (body, parser, url, done)));
                }
                None => return None,
            }
        }
    })
    .boxed()
}

/// A provider's translation of server-sent events into [`StreamEvent`]s.
pub(crate) trait SseDecoder: Default + Send + 'static {
    /// What a complete stream ends with, named in the error when it breaks off earlier.
    const END: &'static str;

    /// Decode one event.
    fn decode(&mut self, event: &str, data: &str) -> Result<Vec<StreamEvent>, ModelError>;

    /// Whether the end marker was seen.
    fn is_complete(&self) -> bool;
}

/// POST `body` and parse the whole answer with `parse`; the request id header, when
/// present, wins over the body's id.
pub(crate) async fn complete(
    client: &reqwest::Client,
    url: &str,
    headers: HeaderMap,
    body: Vec<u8>,
    request_id_header: &str,
    parse: fn(&[u8]) -> Result<ModelResponse, ModelError>,
) -> Result<ModelResponse, ModelError> {
    let response = post_json(client, url, headers, body, request_id_header).await?;
    let request_id = header(response.headers(), request_id_header);
    let bytes = response.bytes().await.map_err(|e| transport(url, &e))?;
    let mut parsed = parse(&bytes)?;
    if request_id.is_some() {
        parsed.request_id = request_id;
    }
    Ok(parsed)
}

/// POST `body` and decode the streamed answer with `D`. A stream that ends before `D`'s end
/// marker is a transport error (retryable), so nothing partial is taken for complete.
pub(crate) async fn stream<D: SseDecoder>(
    client: &reqwest::Client,
    url: &str,
    headers: HeaderMap,
    body: Vec<u8>,
    request_id_header: &str,
) -> Result<BoxStream<'static, Result<StreamEvent, ModelError>>, ModelError> {
    let response = post_json(client, url, headers, body, request_id_header).await?;
    let events = sse(response, url.to_string());
    let decoded = futures::stream::unfold(
        (events, D::default(), false),
        |(mut events, mut dec, done)| async move {
            if done {
                return None;
            }
            match events.next().await {
                Some(Ok(e)) => match dec.decode(&e.event, &e.data) {
                    Ok(out) => Some((Ok(out), (events, dec, false))),
                    Err(err) => Some((Err(err), (events, dec, true))),
                },
                Some(Err(err)) => Some((Err(err), (events, dec, true))),
                None if dec.is_complete() => None,
                None => {
                    let err = ModelError::Transport {
                        message: format!("the stream ended before {}", D::END),
                    };
                    Some((Err(err), (events, dec, true)))
                }
            }
        },
    );
    Ok(decoded
        .flat_map(|r: Result<Vec<StreamEvent>, ModelError>| match r {
            Ok(v) => futures::stream::iter(v.into_iter().map(Ok).collect::<Vec<_>>()),
            Err(e) => futures::stream::iter(vec![Err(e)]),
        })
        .boxed())
}
