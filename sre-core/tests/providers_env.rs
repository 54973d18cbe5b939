//! Providers chosen from the environment (read through an injected lookup), checked on the
//! wire against a local HTTP server: Anthropic, OpenAI (Chat Completions and Responses),
//! Azure OpenAI (classic deployment routes and the v1 API).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

mod support;

use std::collections::HashMap;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use sre_core::providers::{OpenAiApi, ProviderChoice, from_env_with, provider_from_env};
use sre_core::{ContentBlock, Message, ModelRequest};
use support::http_server::{Recorded, Reply, TestServer};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

fn request() -> ModelRequest {
    ModelRequest {
        messages: vec![Message::user("INCIDENT-4711: 503s")],
        max_output_tokens: 512,
        ..ModelRequest::default()
    }
}

#[test]
fn the_environment_selects_the_provider() {
    assert_eq!(provider_from_env(env(&[])).unwrap(), None);
    assert_eq!(
        provider_from_env(env(&[
            ("ANTHROPIC_API_KEY", "k"),
            ("OPENAI_BASE_URL", "http://x")
        ]))
        .unwrap(),
        Some(ProviderChoice::Anthropic {
            base_url: "https://api.anthropic.com".into(),
            model: "claude-sonnet-4-5".into()
        })
    );
    assert_eq!(
        provider_from_env(env(&[
            ("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
            ("SRE_MODEL", "qwen3")
        ]))
        .unwrap(),
        Some(ProviderChoice::OpenAi {
            base_url: "http://127.0.0.1:8000/v1".into(),
            model: "qwen3".into(),
            api: OpenAiApi::ChatCompletions,
        })
    );
    assert_eq!(
        provider_from_env(env(&[
            ("OPENAI_API_KEY", "k"),
            ("SRE_OPENAI_API", "responses")
        ]))
        .unwrap(),
        Some(ProviderChoice::OpenAi {
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4.1".into(),
            api: OpenAiApi::Responses,
        })
    );
    let err = provider_from_env(env(&[
        ("OPENAI_API_KEY", "k"),
        ("SRE_OPENAI_API", "assistants"),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("SRE_OPENAI_API"), "{err}");
}

#[test]
fn azure_settings_come_from_the_sdk_variables_and_our_deployment_variable() {
    let azure = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com"),
            ("AZURE_OPENAI_API_KEY", "azk"),
            ("OPENAI_API_KEY", "sk-ignored"),
        ];
        pairs.extend_from_slice(extra);
        provider_from_env(env(&pairs))
    };
    assert_eq!(
        azure(&[
            ("AZURE_OPENAI_DEPLOYMENT", "prod-gpt5"),
            ("OPENAI_API_VERSION", "2024-10-21"),
            ("AZURE_OPENAI_API_VERSION", "2025-04-01-preview"),
            ("SRE_MODEL", "gpt-5"),
        ])
        .unwrap(),
        Some(ProviderChoice::AzureOpenAi {
            endpoint: "https://res.openai.azure.com".into(),
            deployment: "prod-gpt5".into(),
            api_version: Some("2025-04-01-preview".into()),
            model: "gpt-5".into(),
            api: OpenAiApi::ChatCompletions,
        }),
        "AZURE_OPENAI_API_VERSION wins over OPENAI_API_VERSION"
    );
    assert_eq!(
        azure(&[("OPENAI_MODEL", "gpt-4.1"), ("SRE_OPENAI_API", "responses")]).unwrap(),
        Some(ProviderChoice::AzureOpenAi {
            endpoint: "https://res.openai.azure.com".into(),
            deployment: "gpt-4.1".into(),
            api_version: None,
            model: "gpt-4.1".into(),
            api: OpenAiApi::Responses,
        }),
        "no deployment variable: the model name; no api-version: the v1 API"
    );
    let no_deployment = azure(&[]).unwrap_err().to_string();
    assert!(
        no_deployment.contains("AZURE_OPENAI_DEPLOYMENT"),
        "{no_deployment}"
    );
    let no_key = provider_from_env(env(&[
        ("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com"),
        ("AZURE_OPENAI_DEPLOYMENT", "d"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(no_key.contains("AZURE_OPENAI_API_KEY"), "{no_key}");
}

fn chat_answer() -> Value {
    json!({"id": "chatcmpl-1", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "ok"}}], "usage": {"prompt_tokens": 5, "completion_tokens": 1}})
}

fn responses_answer() -> Value {
    json!({"id": "resp_1", "status": "completed", "output": [{"type": "message", "role": "assistant",
        "content": [{"type": "output_text", "text": "ok", "annotations": []}]}],
        "usage": {"input_tokens": 5, "output_tokens": 1}})
}

/// Build the model `vars` configure (with the server's URL as endpoint), make one call,
/// and return what the server received.
async fn one_call(vars: &[(&str, &str)], endpoint_var: &str, suffix: &str) -> Recorded {
    let server = TestServer::start(|_, r| {
        if r.path.contains("/responses") {
            Reply::json(200, &responses_answer())
        } else {
            Reply::json(200, &chat_answer())
        }
    })
    .await;
    let url = format!("{}{suffix}", server.url());
    let mut pairs = vars.to_vec();
    pairs.push((endpoint_var, &url));
    let model = from_env_with(env(&pairs)).unwrap().unwrap();
    let response = model.complete(&request()).await.unwrap();
    assert_eq!(response.content, vec![ContentBlock::text("ok")]);
    server.requests().remove(0)
}

const AZURE: [(&str, &str); 3] = [
    ("AZURE_OPENAI_API_KEY", "azk-123"),
    ("AZURE_OPENAI_DEPLOYMENT", "prod-gpt5"),
    ("SRE_MODEL", "gpt-5"),
];

fn assert_azure_auth(sent: &Recorded) {
    assert_eq!(sent.header("api-key"), Some("azk-123"));
    assert_eq!(sent.header("authorization"), None);
}

#[tokio::test]
async fn azure_chat_on_the_classic_deployment_route() {
    let mut vars = AZURE.to_vec();
    vars.push(("OPENAI_API_VERSION", "2024-10-21"));
    let sent = one_call(&vars, "AZURE_OPENAI_ENDPOINT", "").await;
    assert_eq!(
        sent.path,
        "/openai/deployments/prod-gpt5/chat/completions?api-version=2024-10-21"
    );
    assert_azure_auth(&sent);
    let body = sent.json();
    assert_eq!(body["model"], json!("prod-gpt5"));
    assert_eq!(
        body["max_completion_tokens"],
        json!(512),
        "the deployment runs gpt-5 (SRE_MODEL): a reasoning model"
    );
    assert!(body.get("max_tokens").is_none());
}

#[tokio::test]
async fn azure_chat_on_the_v1_route_without_an_api_version() {
    let sent = one_call(&AZURE, "AZURE_OPENAI_ENDPOINT", "/").await;
    assert_eq!(sent.path, "/openai/v1/chat/completions");
    assert_azure_auth(&sent);
    assert_eq!(
        sent.json()["model"],
        json!("prod-gpt5"),
        "deployment in `model`"
    );
}

#[tokio::test]
async fn azure_responses_on_both_routes() {
    let mut vars = AZURE.to_vec();
    vars.push(("SRE_OPENAI_API", "responses"));
    let sent = one_call(&vars, "AZURE_OPENAI_ENDPOINT", "").await;
    assert_eq!(sent.path, "/openai/v1/responses");
    assert_azure_auth(&sent);
    let body = sent.json();
    assert_eq!(body["model"], json!("prod-gpt5"));
    assert_eq!(body["store"], json!(false));
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));

    vars.push(("AZURE_OPENAI_API_VERSION", "2025-04-01-preview"));
    let sent = one_call(&vars, "AZURE_OPENAI_ENDPOINT", "").await;
    assert_eq!(
        sent.path,
        "/openai/responses?api-version=2025-04-01-preview"
    );
    assert_azure_auth(&sent);
}

#[tokio::test]
async fn openai_responses_from_the_environment() {
    let vars = [
        ("OPENAI_API_KEY", "sk-1"),
        ("SRE_OPENAI_API", "responses"),
        ("SRE_MODEL", "gpt-4.1"),
    ];
    let sent = one_call(&vars, "OPENAI_BASE_URL", "/v1").await;
    assert_eq!(sent.path, "/v1/responses");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-1"));
    let body = sent.json();
    assert_eq!(body["model"], json!("gpt-4.1"));
    assert!(body.get("include").is_none(), "not a reasoning model");
}

#[tokio::test]
async fn sre_model_gpt5_succeeds_on_the_first_call() {
    // The server answers like OpenAI does for reasoning models.
    let server = TestServer::start(|_, r| {
        let body = r.json();
        if body.get("max_tokens").is_some() {
            return Reply::json(400, &json!({"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
                "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}}));
        }
        if body.get("temperature").is_some_and(|t| t != &json!(1)) {
            return Reply::json(400, &json!({"error": {"message": "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported.",
                "type": "invalid_request_error", "param": "temperature", "code": "unsupported_value"}}));
        }
        Reply::json(200, &chat_answer())
    })
    .await;
    for model in ["gpt-5", "o4-mini"] {
        let url = format!("{}/v1", server.url());
        let vars = [
            ("OPENAI_API_KEY", "sk-1"),
            ("OPENAI_BASE_URL", url.as_str()),
            ("SRE_MODEL", model),
        ];
        let m = from_env_with(env(&vars)).unwrap().unwrap();
        let r = m.complete(&request()).await;
        assert!(r.is_ok(), "{model}: {r:?}");
    }
    assert_eq!(server.requests().len(), 2, "one attempt each");
}
