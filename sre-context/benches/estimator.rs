//! Token estimation cost: the heuristic vs the o200k BPE, per KiB of mixed text, and the
//! budget's per-turn assessment on a 100-message transcript, and a multi-MiB text on first
//! sight (the sampled estimate vs o200k over all of it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests may fail loudly

use std::fmt::Write as _;

use divan::Bencher;
use sre_context::{BudgetConfig, Estimator, Heuristic, TokenBudget, TokenCounter};
use sre_core::{BudgetView, ContentBlock, Message, ModelInfo, ModelRequest, ReportedPrompt, Role};

fn main() {
    divan::main();
}

fn mixed(kib: usize) -> String {
    let mut out = String::new();
    let mut i = 0u64;
    while out.len() < kib * 1024 {
        i += 1;
        let _ = writeln!(
            out,
            "2024-05-02T14:{:02}:{:02}Z ERROR checkout-api waiters={} msg=\"timeout after 30000 ms\"",
            i % 60,
            (i * 7) % 60,
            i % 40
        );
        let _ = writeln!(
            out,
            "{{\"pod\": \"checkout-{i}\", \"restarts\": {}, \"phase\": \"Running\"}}",
            i % 9
        );
        out.push_str("fn acquire(&self) -> Result<Conn, PoolError> { self.pool.get_timeout(self.timeout) }\n");
        out.push_str("The pool ran out within three minutes of the deploy, and requests queued.\n");
    }
    out
}

#[divan::bench(args = [1, 16, 64])]
fn heuristic(b: Bencher, kib: usize) {
    let text = mixed(kib);
    let h = Heuristic::default();
    b.bench(|| h.count(divan::black_box(&text)));
}

#[cfg(feature = "tiktoken")]
#[divan::bench(args = [1, 16, 64])]
fn o200k(b: Bencher, kib: usize) {
    let text = mixed(kib);
    let bpe = sre_context::Bpe::o200k().unwrap();
    b.bench(|| bpe.count(divan::black_box(&text)));
}

/// One turn's `assess` with a provider report: only the 2 newest messages are estimated.
#[divan::bench]
fn assess_100_messages(b: Bencher) {
    let mut messages = vec![Message::user("task")];
    for k in 0..50 {
        messages.push(Message {
            role: Role::Assistant,
            content: vec![ContentBlock::ToolUse {
                id: format!("c{k}"),
                name: "logs".into(),
                input: serde_json::json!({"n": k}),
            }],
        });
        messages.push(Message {
            role: Role::User,
            content: vec![ContentBlock::ToolResult {
                tool_use_id: format!("c{k}"),
                content: mixed(2),
                is_error: false,
            }],
        });
    }
    let request = ModelRequest {
        messages,
        max_output_tokens: 4000,
        ..ModelRequest::default()
    };
    let info = ModelInfo::new("m", 200_000);
    let budget = TokenBudget::new(BudgetConfig::default())
        .unwrap()
        .with_estimator(Estimator::tokenizer());
    let n = request.messages.len();
    b.bench(|| {
        budget.assessment(&BudgetView {
            info: &info,
            request: &request,
            last_reported: Some(ReportedPrompt {
                messages: n - 2,
                prompt_tokens: 40_000,
            }),
        })
    });
}

/// A 4 MiB text as the budget's synchronous `assess` meets it (first sight, no memo): the
/// estimator's sampled count (heuristic over all of it, o200k on 32 KiB of samples) ...
#[divan::bench(args = [1024, 4096], sample_count = 10)]
fn large_text_estimate(b: Bencher, kib: usize) {
    let text = mixed(kib);
    b.bench(|| Estimator::tokenizer().text(divan::black_box(&text)));
}

/// ... and what it replaces: o200k over the whole text.
#[cfg(feature = "tiktoken")]
#[divan::bench(args = [1024, 4096], sample_count = 3)]
fn large_text_o200k_whole(b: Bencher, kib: usize) {
    let text = mixed(kib);
    let bpe = sre_context::Bpe::o200k().unwrap();
    b.bench(|| bpe.count(divan::black_box(&text)));
}
