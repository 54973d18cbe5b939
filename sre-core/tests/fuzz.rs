//! No parser panics on any input: seeded random and mutated inputs for every boundary of
//! sre-core (transcripts, scripts, SSE, provider stream events and responses, requests).
//! Deterministic (fixed seeds), so a failure reproduces; raise FUZZ_ITERS to search longer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use std::path::Path;

use sre_core::providers::anthropic::{self, StreamDecoder as AnthropicDecoder};
use sre_core::providers::openai::{self, StreamDecoder as OpenAiDecoder};
use sre_core::providers::responses::{self, StreamDecoder as ResponsesDecoder};
use sre_core::providers::sse::SseParser;
use sre_core::session::parse_jsonl;
use sre_core::{ModelRequest, ScriptedModel, prefix_report, validate_request};

/// xorshift64*: small, seeded, good enough to drive mutations.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn iterations() -> usize {
    std::env::var("FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// Mutate a valid sample: flip, insert, delete, duplicate or splice bytes (JSON-ish tokens
/// included, so mutants stay close to the grammar).
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    const TOKENS: &[&[u8]] = &[
        b"{", b"}", b"[", b"]", b"\"", b":", b",", b"\n", b"\r\n", b"null", b"-1", b"1e999",
        b"\\u0000", b"\xff", b"data: ", b"event: ",
    ];
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            2 if !v.is_empty() => {
                let end = (at + rng.below(16)).min(v.len());
                v.drain(at.min(end)..end);
            }
            3 => v.truncate(at),
            4 if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = (a + rng.below(64)).min(v.len());
                let chunk = v[a..b].to_vec();
                v.splice(at..at, chunk);
            }
            _ => v.insert(at, (rng.next() & 0xff) as u8),
        }
    }
    v
}

fn cases(seed: u64, samples: &[&[u8]], mut check: impl FnMut(&[u8])) {
    let mut rng = Rng(seed);
    for s in samples {
        check(s);
    }
    for _ in 0..iterations() {
        let sample = samples[rng.below(samples.len())];
        let input = if rng.below(10) == 0 {
            (0..rng.below(300))
                .map(|_| (rng.next() & 0xff) as u8)
                .collect()
        } else {
            mutate(&mut rng, sample)
        };
        check(&input);
    }
}

const ANTHROPIC_SSE: &[u8] = include_bytes!("fixtures/anthropic_tool_use.sse");
const OPENAI_SSE: &[u8] = include_bytes!("fixtures/openai_tool_calls.sse");
const RESPONSES_SSE: &[u8] = include_bytes!("fixtures/openai_responses.sse");

#[test]
fn transcripts() {
    let line = br#"{"record":"message","message":{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"grep","input":{"q":1}}]},"turn":1,"usage":{"input_tokens":1,"output_tokens":2,"cache_read_tokens":0,"cache_write_tokens":0}}
{"record":"start","agent":"a","system":[{"name":"system","text":"x"}]}
{"record":"finished","cause":{"cause":"completed"},"answer":"ok"}
"#;
    cases(1, &[line], |b| {
        let _ = parse_jsonl(Path::new("fuzz.jsonl"), b);
    });
}

#[test]
fn sse_and_provider_stream_decoders() {
    cases(2, &[ANTHROPIC_SSE, OPENAI_SSE, RESPONSES_SSE], |b| {
        let mut parser = SseParser::default();
        let mut a = AnthropicDecoder::default();
        let mut o = OpenAiDecoder::default();
        let mut r = ResponsesDecoder::default();
        // Feed in two pieces to exercise the incremental path.
        let split = b.len() / 3;
        for piece in [&b[..split], &b[split..]] {
            parser.push(piece);
            while let Some(event) = parser.next_event() {
                if let Ok(e) = event {
                    let _ = a.decode_event(&e.event, &e.data);
                    let _ = o.decode_data(&e.data);
                    let _ = r.decode_event(&e.event, &e.data);
                }
            }
        }
    });
}

#[test]
fn provider_responses() {
    let a = br#"{"id":"m","content":[{"type":"text","text":"hi"},{"type":"tool_use","id":"t","name":"grep","input":{"p":"x"}},{"type":"thinking","thinking":"z","signature":"s"}],"stop_reason":"tool_use","usage":{"input_tokens":3,"cache_read_input_tokens":5}}"#;
    let o = br#"{"id":"c","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"x","tool_calls":[{"id":"c1","type":"function","function":{"name":"grep","arguments":"{\"p\":1}"}}]}}],"usage":{"prompt_tokens":9,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":4}}}"#;
    let r = br#"{"id":"r","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[{"type":"reasoning","summary":[{"type":"summary_text","text":"s"}],"encrypted_content":"e"},{"type":"message","content":[{"type":"output_text","text":"x"},{"type":"refusal","refusal":"no"}]},{"type":"function_call","call_id":"c","name":"grep","arguments":"{\"p\":1}"}],"usage":{"input_tokens":9,"input_tokens_details":{"cached_tokens":99}}}"#;
    cases(3, &[a, o, r], |b| {
        let _ = anthropic::parse_response(b);
        let _ = openai::parse_response(b);
        let _ = responses::parse_response(b);
        let _ = prefix_report(a, b);
    });
}

#[test]
fn scripts() {
    let script = br#"name: x
model: {context_window: 1000}
turns:
  - say: hi
    tool_calls: [{tool: grep, args: {pattern: "a"}}]
  - expect: {last_message_contains: ["a"]}
    final: done
agents:
  sub: [{final: ok}]
"#;
    cases(4, &[script], |b| {
        if let Ok(text) = std::str::from_utf8(b) {
            let _ = ScriptedModel::from_yaml(text);
        }
    });
}

#[test]
fn requests_from_arbitrary_json_are_validated_without_panic() {
    let req = br#"{"tools":[{"name":"grep","description":"d","input_schema":{"type":"object"}}],"system":[],"messages":[{"role":"user","content":[{"type":"text","text":"x"}]},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"grep","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"r","is_error":false}]}],"max_output_tokens":10}"#;
    let mut valid = 0;
    cases(5, &[req], |b| {
        if let Ok(r) = serde_json::from_slice::<ModelRequest>(b)
            && validate_request(&r).is_ok()
        {
            valid += 1;
        }
    });
    assert!(valid >= 1, "the seed request itself is valid");
}
