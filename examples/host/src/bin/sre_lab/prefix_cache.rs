//! A local OpenAI-compatible Chat Completions server that caches prompt prefixes the way
//! the provider documents it: a prompt of at least 1,024 tokens is cached in blocks of 128
//! tokens, and a later prompt is served from the cache for as many leading blocks as are
//! token-for-token identical to a cached prompt's (each block's hash chains every token
//! before it, so one changed byte early on misses every block after it). Tokens are counted
//! with the real `o200k_base` tokenizer over the messages as the chat template lays them
//! out. Every body received is kept, numbered, for the prefix report.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tiktoken_rs::CoreBPE;
use tokio::sync::Mutex;

/// Prompts shorter than this are never cached.
pub const MIN_CACHEABLE_TOKENS: usize = 1024;
/// Cache hits come in blocks of this many tokens.
pub const BLOCK_TOKENS: usize = 128;

/// The cache and where bodies go.
pub struct PrefixCache {
    bpe: CoreBPE,
    /// Per model, the chained hashes of every cached block.
    blocks: Mutex<HashMap<String, HashSet<u64>>>,
    seq: AtomicU64,
    bodies: PathBuf,
}

impl PrefixCache {
    pub fn new(bodies: PathBuf) -> Result<Self, String> {
        std::fs::create_dir_all(&bodies).map_err(|e| format!("{}: {e}", bodies.display()))?;
        Ok(PrefixCache {
            bpe: tiktoken_rs::o200k_base().map_err(|e| format!("o200k_base: {e}"))?,
            blocks: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
            bodies,
        })
    }

    /// Prompt tokens and cached tokens of `body` for `model`; caches its blocks.
    async fn account(&self, model: &str, body: &Value) -> (usize, usize) {
        let tokens = self.bpe.encode_ordinary(&chat_template(body));
        let mut hashes = Vec::with_capacity(tokens.len() / BLOCK_TOKENS);
        let mut chain = 0u64;
        for block in tokens.chunks_exact(BLOCK_TOKENS) {
            let mut h = DefaultHasher::new();
            chain.hash(&mut h);
            block.hash(&mut h);
            chain = h.finish();
            hashes.push(chain);
        }
        if tokens.len() < MIN_CACHEABLE_TOKENS {
            return (tokens.len(), 0);
        }
        let mut all = self.blocks.lock().await;
        let cache = all.entry(model.to_string()).or_default();
        let hit = hashes.iter().take_while(|h| cache.contains(h)).count() * BLOCK_TOKENS;
        cache.extend(hashes);
        let cached = if hit >= MIN_CACHEABLE_TOKENS { hit } else { 0 };
        (tokens.len(), cached)
    }
}

/// The prompt as a chat template lays it out: tools, then each message with its role.
fn chat_template(body: &Value) -> String {
    let mut text = String::new();
    if let Some(tools) = body.get("tools") {
        text.push_str(&format!("<|tools|>{tools}\n"));
    }
    for m in body["messages"].as_array().into_iter().flatten() {
        let content = match &m["content"] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let calls = m
            .get("tool_calls")
            .map(Value::to_string)
            .unwrap_or_default();
        text.push_str(&format!(
            "<|start|>{}<|message|>{content}{calls}<|end|>",
            m["role"].as_str().unwrap_or("user")
        ));
    }
    text
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"message": message, "type": "invalid_request_error"}})),
    )
        .into_response()
}

async fn completions(State(cache): State<Arc<PrefixCache>>, raw: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&raw) else {
        return error(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let Some(model) = body["model"].as_str() else {
        return error(StatusCode::BAD_REQUEST, "`model` is missing");
    };
    if body["stream"] == json!(true) {
        return error(StatusCode::BAD_REQUEST, "this lab server does not stream");
    }
    let n = cache.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let path = cache.bodies.join(format!("{n:04}.json"));
    if let Err(e) = tokio::fs::write(&path, &raw).await {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("{}: {e}", path.display()),
        );
    }
    let (prompt, cached) = cache.account(model, &body).await;
    let answer = "Noted.";
    axum::Json(json!({
        "id": format!("chatcmpl-lab-{n:04}"),
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": 2,
            "total_tokens": prompt + 2,
            "prompt_tokens_details": {"cached_tokens": cached}
        }
    }))
    .into_response()
}

/// Serve on 127.0.0.1 (a free port); returns the base URL (`http://127.0.0.1:P/v1`).
pub async fn serve(cache: PrefixCache) -> Result<String, String> {
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(Arc::new(cache));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/v1"))
}
