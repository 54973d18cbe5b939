//! A local OpenAI-compatible Chat Completions server that caches prompt prefixes by the
//! provider's documented rules: a prompt of at least 1,024 tokens is cached in blocks of 128
//! tokens, and a later prompt is served from the cache for as many leading blocks as are
//! token-for-token identical to a cached prompt's (each block's hash chains every token
//! before it, so one changed byte early on misses every block after it). Tokens are counted
//! with the real `o200k_base` tokenizer over the messages as the chat template lays them
//! out. One difference, on purpose: entries never expire. A real provider evicts a prefix
//! after minutes without use; the lab replays an hourly sample of a gateway's traffic, whose
//! unsampled requests would keep the shared prefix warm. Every body received is kept as
//! `NNNN.json`, `NNNN` being the request's number, which the response's id carries
//! (`chatcmpl-lab-NNNN`, `x-request-id: req-NNNN`).

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
    /// A cache with nothing in it, keeping bodies in `bodies` (created).
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

async fn completions(State(cache): State<Arc<PrefixCache>>, raw: Bytes) -> Response {
    let n = cache.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let request_id = format!("req-{n:04}");
    let body = match crate::wire::chat_request(&raw, &request_id) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let model = body["model"].as_str().unwrap_or_default();
    if body["stream"] == json!(true) {
        let message = "this lab server does not stream";
        return crate::wire::error(
            StatusCode::BAD_REQUEST,
            &request_id,
            message,
            "invalid_request_error",
            Some("stream"),
            None,
        );
    }
    let path = cache.bodies.join(format!("{n:04}.json"));
    if let Err(e) = tokio::fs::write(&path, &raw).await {
        let message = format!("{}: {e}", path.display());
        return crate::wire::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &request_id,
            &message,
            "server_error",
            None,
            None,
        );
    }
    let (prompt, cached) = cache.account(model, &body).await;
    (
        [("x-request-id", request_id)],
        axum::Json(json!({
            "id": format!("chatcmpl-lab-{n:04}"),
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Noted."}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": 2,
                "total_tokens": prompt + 2,
                "prompt_tokens_details": {"cached_tokens": cached}
            }
        })),
    )
        .into_response()
}

/// Serve on 127.0.0.1 (a free port); returns the base URL (`http://127.0.0.1:P/v1`).
pub async fn serve(cache: PrefixCache) -> Result<String, String> {
    crate::wire::serve(
        Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(Arc::new(cache)),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(system: &str, user: &str) -> Value {
        json!({"model": "m", "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]})
    }

    #[tokio::test]
    async fn only_long_prompts_are_cached_and_only_their_identical_leading_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PrefixCache::new(dir.path().join("b")).unwrap();
        let long = "the static policy text of every request. ".repeat(200);
        // The first sight of a prefix caches it; nothing is served from the cache yet.
        let (p1, c1) = cache.account("m", &prompt(&long, "question one")).await;
        assert!(p1 >= MIN_CACHEABLE_TOKENS);
        assert_eq!(c1, 0);
        // The same prefix again: its whole blocks are served (a multiple of 128, <= prompt).
        let (p2, c2) = cache.account("m", &prompt(&long, "question two")).await;
        assert!(
            c2 >= MIN_CACHEABLE_TOKENS && c2 % BLOCK_TOKENS == 0 && c2 <= p2,
            "{c2} of {p2}"
        );
        // One changed token at the start misses every block after it.
        let (_, c3) = cache
            .account("m", &prompt(&format!("X{long}"), "question one"))
            .await;
        assert_eq!(c3, 0);
        // Another model has a cache of its own.
        assert_eq!(
            cache
                .account("other", &prompt(&long, "question one"))
                .await
                .1,
            0
        );
        // A short prompt is never cached, however often it is seen.
        for _ in 0..2 {
            assert_eq!(cache.account("m", &prompt("short", "q")).await.1, 0);
        }
    }
}
