//! The HTTP mechanism every provider shares (`HttpModel` over a `WireFormat`): request
//! ids kept on streamed and complete answers, bodies that cannot be serialised, TLS with
//! the client's own crypto provider.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sre_core::model::collect_stream;
use sre_core::providers::anthropic::{AnthropicConfig, AnthropicModel};
use sre_core::providers::openai::{OpenAiConfig, OpenAiModel};
use sre_core::providers::responses::{ResponsesConfig, ResponsesModel};
use sre_core::providers::{HttpModel, HttpSettings, WireFormat, encode};
use sre_core::{Message, Model, ModelError, ModelInfo, ModelRequest, ModelResponse, StreamEvent};
use support::http_server::{Reply, TestServer, TlsServer};

fn http(url: &str) -> HttpSettings {
    HttpSettings {
        read_timeout: Duration::from_millis(500),
        ..HttpSettings::new(url)
    }
}

fn request() -> ModelRequest {
    ModelRequest {
        messages: vec![Message::user("INCIDENT-4711: 503s")],
        max_output_tokens: 256,
        ..ModelRequest::default()
    }
}

/// The three providers against `url`.
fn models(url: &str) -> Vec<(&'static str, Arc<dyn Model>)> {
    let mut a = AnthropicConfig::new("k", "claude-sonnet-4-5");
    a.http = http(url);
    let o = OpenAiConfig {
        http: http(&format!("{url}/v1")),
        ..OpenAiConfig::new(format!("{url}/v1"), "gpt-4.1")
    };
    let r = ResponsesConfig {
        http: http(&format!("{url}/v1")),
        ..ResponsesConfig::new(format!("{url}/v1"), "gpt-5")
    };
    vec![
        ("anthropic", Arc::new(AnthropicModel::new(a).unwrap())),
        ("chat", Arc::new(OpenAiModel::new(o).unwrap())),
        ("responses", Arc::new(ResponsesModel::new(r).unwrap())),
    ]
}

/// A short answer in each API's format: (streamed body, complete body, header name).
fn answer(api: &str) -> (String, serde_json::Value, &'static str) {
    match api {
        "anthropic" => (
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_body\",\"usage\":{\"input_tokens\":5}}}\n\n\
             event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
             event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"ok\"}}\n\n\
             event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1}}\n\n\
             event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".into(),
            json!({"id": "msg_body", "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "usage": {"input_tokens": 5, "output_tokens": 1}}),
            "request-id",
        ),
        "chat" => (
            "data: {\"id\":\"chatcmpl-body\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n\
             data: {\"id\":\"chatcmpl-body\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n".into(),
            json!({"id": "chatcmpl-body", "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}),
            "x-request-id",
        ),
        _ => (
            "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_body\",\"status\":\"in_progress\",\"output\":[]}}\n\n\
             event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"ok\"}\n\n\
             event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_body\",\"status\":\"completed\",\"output\":[],\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n".into(),
            json!({"id": "resp_body", "status": "completed", "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok", "annotations": []}]}], "usage": {"input_tokens": 5, "output_tokens": 1}}),
            "x-request-id",
        ),
    }
}

#[tokio::test]
async fn every_provider_keeps_the_request_id_streamed_and_not() {
    for with_header in [true, false] {
        for api in ["anthropic", "chat", "responses"] {
            let (sse, body, name) = answer(api);
            let header = with_header.then_some(name);
            let server = TestServer::start(move |_, r| {
                let mut reply = if r.json()["stream"] == json!(true) {
                    Reply::sse(&sse)
                } else {
                    Reply::json(200, &body)
                };
                if let Some(h) = header {
                    reply = reply.with_header(h, "req_from_header");
                }
                reply
            })
            .await;
            let model = models(&server.url())
                .into_iter()
                .find(|(n, _)| *n == api)
                .unwrap()
                .1;
            let expected = if with_header {
                "req_from_header".to_string()
            } else {
                answer(api).1["id"].as_str().unwrap().to_string()
            };
            let case = format!("{api}, header {with_header}");

            let mut events = Vec::new();
            let stream = model.stream(&request()).await.unwrap();
            let streamed = collect_stream(stream, |e| events.push(e.clone()))
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(
                streamed.request_id.as_deref(),
                Some(expected.as_str()),
                "{case}"
            );
            let ids: Vec<&StreamEvent> = events
                .iter()
                .filter(|e| matches!(e, StreamEvent::RequestId { .. }))
                .collect();
            assert_eq!(ids.len(), 1, "{case}: one id, {events:?}");
            assert!(
                matches!(&events[0], StreamEvent::RequestId { .. }),
                "{case}: the id comes first"
            );

            let complete = model.complete(&request()).await.unwrap();
            assert_eq!(
                complete.request_id.as_deref(),
                Some(expected.as_str()),
                "{case}"
            );
        }
    }
}

#[tokio::test]
async fn an_error_event_mid_stream_carries_the_header_request_id() {
    let server = TestServer::start(|_, _| {
        Reply::sse(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":{}}}\n\n\
             event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
        )
        .with_header("request-id", "req_err")
    })
    .await;
    let model = &models(&server.url())[0].1;
    let err = collect_stream(model.stream(&request()).await.unwrap(), |_| {})
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ModelError::Status {
            status: 529,
            message: "overloaded_error: Overloaded".into(),
            request_id: Some("req_err".into()),
            retry_after_ms: None
        }
    );
}

/// A wire format whose body serde cannot encode (a map keyed by tuples is not JSON).
struct Unencodable {
    http: HttpSettings,
    info: ModelInfo,
}

impl WireFormat for Unencodable {
    type Decoder = sre_core::providers::anthropic::StreamDecoder;
    const REQUEST_ID_HEADER: &'static str = "request-id";
    const NAME: &'static str = "Tuple-keyed";

    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn http(&self) -> &HttpSettings {
        &self.http
    }
    fn url(&self) -> String {
        self.http.url("v1/x")
    }
    fn headers(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn body(&self, _: &ModelRequest, _: bool) -> Result<Vec<u8>, ModelError> {
        let body: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        encode(&body, Self::NAME)
    }
    fn parse(&self, _: &[u8]) -> Result<ModelResponse, ModelError> {
        unreachable!("nothing is sent")
    }
}

#[tokio::test]
async fn a_body_that_cannot_be_serialised_is_a_typed_error_and_nothing_is_sent() {
    let server = TestServer::start(|_, _| Reply::json(200, &json!({}))).await;
    let model = HttpModel::from_wire(Unencodable {
        http: http(&server.url()),
        info: ModelInfo::new("t", 1000),
    })
    .unwrap();
    let check = |err: ModelError| match err {
        ModelError::InvalidRequest { message } => assert!(
            message.contains("Tuple-keyed request cannot be serialised")
                && message.contains("key must be a string"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    };
    check(model.complete(&request()).await.unwrap_err());
    check(model.stream(&request()).await.err().unwrap());
    check(model.request_body(&request(), false).unwrap_err());
    assert!(server.requests().is_empty(), "no empty body may be sent");
}

// Test certificates (valid until 2126), made with openssl:
//   ca: EC P-256, CN "sre-harness test CA", basicConstraints CA:TRUE, keyCertSign
//   localhost: EC P-256, SAN IP:127.0.0.1 DNS:localhost, serverAuth, signed by ca
const CA: &[u8] = include_bytes!("fixtures/tls/ca.der");
const LEAF: &[u8] = include_bytes!("fixtures/tls/localhost.der");
const LEAF_KEY: &[u8] = include_bytes!("fixtures/tls/localhost.key.der");

fn tls_answer() -> serde_json::Value {
    answer("anthropic").1
}

fn anthropic_at(url: &str, roots: Vec<Vec<u8>>) -> AnthropicModel {
    let mut c = AnthropicConfig::new("k", "claude-sonnet-4-5");
    c.http = HttpSettings {
        extra_roots: roots,
        ..http(url)
    };
    AnthropicModel::new(c).unwrap()
}

#[tokio::test]
async fn tls_works_with_the_clients_own_crypto_provider_and_installs_none() {
    let server = TlsServer::start(&[LEAF, CA], LEAF_KEY, tls_answer());
    let model = anthropic_at(&server.url(), vec![CA.to_vec()]);
    let response = model.complete(&request()).await.unwrap();
    assert_eq!(response.request_id.as_deref(), Some("msg_body"));
    assert_eq!(server.requests.lock().unwrap().len(), 1);
    assert_eq!(
        server.alpn.lock().unwrap()[0].as_deref(),
        Some(&b"http/1.1"[..]),
        "the client offers ALPN (a preconfigured TLS setup gets none from reqwest)"
    );
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "a library must not install a process-wide crypto provider"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_typed_transport_error() {
    let server = TlsServer::start(&[LEAF, CA], LEAF_KEY, tls_answer());
    let model = anthropic_at(&server.url(), Vec::new());
    let err = model.complete(&request()).await.unwrap_err();
    assert!(
        matches!(&err, ModelError::Transport { message } if message.contains("certificate")),
        "{err}"
    );
    assert!(server.requests.lock().unwrap().is_empty());
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
}

#[test]
fn no_source_file_installs_a_process_wide_crypto_provider() {
    fn scan(dir: &std::path::Path, hits: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, hits);
            } else if path.extension().is_some_and(|e| e == "rs")
                && std::fs::read_to_string(&path)
                    .unwrap()
                    .contains(concat!("install", "_default"))
            {
                hits.push(path.display().to_string());
            }
        }
    }
    let mut hits = Vec::new();
    scan(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut hits,
    );
    assert!(hits.is_empty(), "{hits:?}");
}

/// `api`'s provider for `model` at `url`, with the catalogue's facts for the model.
fn provider(api: &str, model: &str, url: &str) -> Arc<dyn Model> {
    match api {
        "anthropic" => {
            let mut a = AnthropicConfig::new("k", model);
            a.http = http(url);
            Arc::new(AnthropicModel::new(a).unwrap())
        }
        "chat" => {
            let mut o = OpenAiConfig::new(format!("{url}/v1"), model);
            o.http = http(&format!("{url}/v1"));
            Arc::new(OpenAiModel::new(o).unwrap())
        }
        _ => {
            let mut r = ResponsesConfig::new(format!("{url}/v1"), model);
            r.http = http(&format!("{url}/v1"));
            Arc::new(ResponsesModel::new(r).unwrap())
        }
    }
}

#[tokio::test]
async fn the_agents_temperature_is_sent_except_to_reasoning_models() {
    use sre_core::{Agent, AgentLoop, Session};
    let cases = [
        ("anthropic", "claude-sonnet-4-5", true),
        ("chat", "gpt-4.1", true),
        ("chat", "llama3", true),
        ("chat", "gpt-5-mini", false),
        ("chat", "o4-mini", false),
        ("responses", "gpt-4.1", true),
        ("responses", "gpt-5", false),
        ("responses", "o3", false),
    ];
    for (api, name, sent) in cases {
        let (_, body, _) = answer(api);
        let server = TestServer::start(move |_, _| Reply::json(200, &body)).await;
        let model = provider(api, name, &server.url());
        for temperature in [Some(0.2f32), None] {
            let mut builder = AgentLoop::builder(model.clone());
            if let Some(t) = temperature {
                builder = builder.temperature(t);
            }
            let out = builder
                .build()
                .unwrap()
                .run(&Session::new("t"), "INCIDENT-4711: 503s")
                .await
                .unwrap();
            assert_eq!(out.answer.as_deref(), Some("ok"), "{api} {name}");
        }
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{api} {name}");
        let (with, without) = (requests[0].json(), requests[1].json());
        if sent {
            assert_eq!(with["temperature"], json!(0.2), "{api} {name}: {with}");
        } else {
            assert!(with.get("temperature").is_none(), "{api} {name}: {with}");
        }
        assert!(
            without.get("temperature").is_none(),
            "{api} {name}: {without}"
        );
    }
}
