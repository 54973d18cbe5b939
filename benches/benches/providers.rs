//! Provider layer: SSE parse throughput (MB/s) and per-request overhead against a local
//! keep-alive HTTP server, side by side with the official Python `openai` client on the
//! same server and the same bytes (when `SRE_BENCH_PYTHON` points at a Python with
//! `openai` installed; `benches/run_provider_bench.sh` sets that up).
//!
//! Run: `benches/run_provider_bench.sh` (or `cargo bench -p benches --bench providers`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sre_core::model::collect_stream;
use sre_core::providers::HttpSettings;
use sre_core::providers::openai::{OpenAiConfig, OpenAiModel};
use sre_core::{Message, Model, ModelRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CHUNKS: usize = 20_000;
const STREAM_REPS: usize = 7;
const REQUESTS: usize = 500;

fn big_stream() -> Vec<u8> {
    let mut out = String::new();
    for i in 0..CHUNKS {
        out.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1732492800,\"model\":\"gpt-4.1\",\"system_fingerprint\":\"fp_b7faba9ef5\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"tok{i} \"}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}\n\n"
        ));
    }
    out.push_str("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1732492800,\"model\":\"gpt-4.1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    out.push_str("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1732492800,\"model\":\"gpt-4.1\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":20000,\"total_tokens\":20010}}\n\n");
    out.push_str("data: [DONE]\n\n");
    out.into_bytes()
}

const SMALL: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1732492800,"model":"small","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":1,"total_tokens":11}}"#;

/// A keep-alive HTTP/1.1 server: `"stream": true` requests get the big stream, others the
/// small JSON answer. Headers and body leave in one write (TCP_NODELAY).
async fn serve(stream_body: Arc<Vec<u8>>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let body = stream_body.clone();
            tokio::spawn(async move {
                sock.set_nodelay(true).ok();
                let mut buf = Vec::new();
                let mut tmp = vec![0u8; 65536];
                loop {
                    // Read one request (headers + content-length body).
                    let (head_end, len) = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| {
                                    l.strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            break (i + 4, len);
                        }
                        match sock.read(&mut tmp).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        }
                    };
                    while buf.len() < head_end + len {
                        match sock.read(&mut tmp).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        }
                    }
                    let req_body = buf[head_end..head_end + len].to_vec();
                    buf.drain(..head_end + len);
                    let streaming = String::from_utf8_lossy(&req_body).contains("\"stream\":true");
                    let (ctype, payload): (&str, &[u8]) = if streaming {
                        ("text/event-stream", &body)
                    } else {
                        ("application/json", SMALL.as_bytes())
                    };
                    let mut out = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\n\r\n",
                        payload.len()
                    )
                    .into_bytes();
                    out.extend_from_slice(payload);
                    if sock.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let body = Arc::new(big_stream());
    let mb = body.len() as f64 / 1e6;
    let addr = rt.block_on(serve(body.clone()));
    let base = format!("http://{addr}/v1");

    let mut config = OpenAiConfig::new(&base, "big-stream");
    config.http = HttpSettings::new(&base);
    let model = OpenAiModel::new(config).unwrap();
    let request = ModelRequest {
        messages: vec![Message::user("INCIDENT-4711")],
        max_output_tokens: 100,
        ..Default::default()
    };

    let mut stream_times = Vec::new();
    for _ in 0..STREAM_REPS {
        let t = Instant::now();
        let response = rt.block_on(async {
            collect_stream(model.stream(&request).await.unwrap(), |_| {})
                .await
                .unwrap()
        });
        stream_times.push(t.elapsed());
        assert_eq!(response.usage.output_tokens, 20_000);
    }
    let rust_stream = median(stream_times);

    let mut small = OpenAiConfig::new(&base, "small");
    small.http = HttpSettings::new(&base);
    let small = OpenAiModel::new(small).unwrap();
    rt.block_on(async {
        for _ in 0..20 {
            small.complete(&request).await.unwrap();
        }
    });
    let t = Instant::now();
    rt.block_on(async {
        for _ in 0..REQUESTS {
            let r = small.complete(&request).await.unwrap();
            assert_eq!(r.content.len(), 1);
        }
    });
    let rust_request = t.elapsed() / REQUESTS as u32;

    println!(
        "SSE stream: {CHUNKS} chunks, {mb:.2} MB; {REQUESTS} small non-streamed requests; local keep-alive server"
    );
    println!("| client | stream parse (median of {STREAM_REPS}) | MB/s | per-request overhead |");
    println!("|---|---|---|---|");
    println!(
        "| sre-core OpenAiModel | {:.1} ms | {:.0} | {:.0} µs |",
        rust_stream.as_secs_f64() * 1e3,
        mb / rust_stream.as_secs_f64(),
        rust_request.as_secs_f64() * 1e6
    );
    match std::env::var("SRE_BENCH_PYTHON") {
        Ok(python) => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/py/openai_client_bench.py");
            let out = std::process::Command::new(python)
                .args([
                    script,
                    &base,
                    &STREAM_REPS.to_string(),
                    &REQUESTS.to_string(),
                ])
                .output()
                .unwrap();
            if !out.status.success() {
                println!(
                    "python openai client failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                return;
            }
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let s = v["stream_s"].as_f64().unwrap();
            let r = v["request_us"].as_f64().unwrap();
            println!(
                "| python openai 3.57.0 | {:.1} ms | {:.0} | {:.0} µs |",
                s * 1e3,
                mb / s,
                r
            );
            println!(
                "ratio python/sre-core: stream {:.1}x, per-request {:.1}x",
                s / rust_stream.as_secs_f64(),
                r / (rust_request.as_secs_f64() * 1e6)
            );
        }
        Err(_) => println!(
            "(set SRE_BENCH_PYTHON to a Python with `openai` installed, or run benches/run_provider_bench.sh, for the side-by-side row)"
        ),
    }
}
