//! TokenBudget: exact accounting from reported usage, thresholds, batched pruning,
//! compaction (template, agent lane, overflow, pinned state, pair consistency).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests may fail loudly

use std::sync::Arc;

use serde_json::json;
use sre_context::transcript::check;
use sre_context::{
    BudgetConfig, CompactConfig, Estimator, PinnedState, PruneConfig, TokenBudget, UpdateArgs,
};
use sre_core::{
    BudgetVerdict, BudgetView, ContentBlock, ContextBudget, Message, ModelInfo, ModelRequest,
    ReportedPrompt, Role, ScriptedModel, SystemBlock, canonical_prompt,
};

fn info(window: u64) -> ModelInfo {
    let mut i = ModelInfo::new("test", window);
    i.max_output_tokens = 1000;
    i
}

fn transcript(turns: usize, output_bytes: usize) -> Vec<Message> {
    let mut t = vec![Message::user("Find why checkout is slow.")];
    for k in 0..turns {
        t.push(Message {
            role: Role::Assistant,
            content: vec![
                ContentBlock::text(format!("Looking at window {k}.")),
                ContentBlock::ToolUse {
                    id: format!("call_{k}"),
                    name: "query_logs".into(),
                    input: json!({"n": k}),
                },
            ],
        });
        let line = format!(
            "2024-05-02T14:00:{:02}Z ERROR pool timeout waiters={k}\n",
            k % 60
        );
        t.push(Message {
            role: Role::User,
            content: vec![ContentBlock::ToolResult {
                tool_use_id: format!("call_{k}"),
                content: line.repeat(output_bytes / line.len() + 1),
                is_error: false,
            }],
        });
    }
    t
}

fn request(messages: Vec<Message>) -> ModelRequest {
    ModelRequest {
        tools: vec![],
        system: vec![SystemBlock {
            name: "system".into(),
            text: "You are an SRE agent.".into(),
        }],
        messages,
        max_output_tokens: 1000,
        agent: "main".into(),
        session_id: "s".into(),
        ..ModelRequest::default()
    }
}

fn budget() -> TokenBudget {
    TokenBudget::new(BudgetConfig::default())
        .unwrap()
        .with_estimator(Estimator::heuristic())
}

#[test]
fn thresholds_are_fractions_of_window_minus_output() {
    let b = budget();
    let i = info(10_000);
    let r = request(transcript(1, 100));
    let a = b.assessment(&BudgetView {
        info: &i,
        request: &r,
        last_reported: None,
    });
    assert_eq!(a.usable, 9_000);
    assert_eq!(
        (a.prune_target, a.prune_at, a.compact_at),
        (3_600, 5_400, 7_200)
    );
    assert_eq!(a.verdict, BudgetVerdict::Fits);
    // An explicit reserve and window override.
    let b = TokenBudget::new(BudgetConfig {
        context_window: Some(8_000),
        reserved_output: Some(0),
        ..BudgetConfig::default()
    })
    .unwrap();
    let a = b.assessment(&BudgetView {
        info: &i,
        request: &r,
        last_reported: None,
    });
    assert_eq!(a.usable, 8_000);
}

#[test]
fn reported_usage_is_exact_and_only_the_tail_is_estimated() {
    let b = budget();
    let i = info(10_000);
    let t = transcript(4, 200);
    let r = request(t.clone());
    // The provider said the first 7 messages were 8000 tokens: far more than the estimate.
    let view = BudgetView {
        info: &i,
        request: &r,
        last_reported: Some(ReportedPrompt {
            messages: 7,
            prompt_tokens: 8_000,
        }),
    };
    let a = b.assessment(&view);
    assert_eq!(a.tokens.reported, 8_000);
    let tail = b.estimator().with_margin(b.estimator().messages(&t[7..]));
    assert_eq!(a.tokens.estimated, tail);
    assert_eq!(
        a.verdict,
        BudgetVerdict::Compact,
        "nothing prunable frees enough"
    );
    // Without a report everything is estimated.
    let a = b.assessment(&BudgetView {
        last_reported: None,
        ..view
    });
    assert_eq!(a.tokens.reported, 0);
    assert_eq!(a.verdict, BudgetVerdict::Fits);
}

#[tokio::test]
async fn prune_is_one_batch_below_the_target_and_keeps_recent_turns() {
    let b = budget();
    let i = info(20_000);
    let t = transcript(12, 4000);
    let r = request(t.clone());
    let view = BudgetView {
        info: &i,
        request: &r,
        last_reported: None,
    };
    let a = b.assessment(&view);
    assert!(a.tokens.total() > a.prune_at, "{a:?}");
    assert_eq!(a.verdict, BudgetVerdict::Prune);
    let rw = b.prune(&view).await.unwrap().unwrap();
    check(&rw.messages).unwrap();
    let well_under = a.prune_target + (a.prune_at - a.prune_target) / 2;
    assert!(
        rw.tokens_after <= well_under,
        "{} > {well_under}",
        rw.tokens_after
    );
    assert!(rw.tokens_before > rw.tokens_after);
    assert!(rw.note.contains("freed"), "{}", rw.note);
    // The last 3 turns (6 messages) are untouched; earlier outputs are stubs.
    let n = t.len();
    assert_eq!(rw.messages[n - 6..], t[n - 6..]);
    let ContentBlock::ToolResult { content, .. } = &rw.messages[2].content[0] else {
        panic!()
    };
    assert!(
        content.starts_with("[pruned output of `query_logs`"),
        "{content}"
    );
    // After the batch, the next turn fits without another prune.
    let after = request(rw.messages.clone());
    let v2 = BudgetView {
        info: &i,
        request: &after,
        last_reported: None,
    };
    assert_eq!(b.assess(&v2), BudgetVerdict::Fits);
}

fn compactor(summary: &str) -> Arc<ScriptedModel> {
    let yaml = format!(
        "model: {{context_window: 6000}}\nagents:\n  summariser:\n    - expect: {{prompt_contains: [\"CUSTOM TEMPLATE 300\", \"[H1]\"]}}\n      final: {summary:?}\n"
    );
    Arc::new(ScriptedModel::from_yaml(&yaml).unwrap().recording())
}

#[tokio::test]
async fn compaction_keeps_summary_user_messages_and_pinned_state() {
    let pinned = PinnedState::new();
    pinned
        .update(
            "s",
            serde_json::from_value::<UpdateArgs>(json!({
                "hypotheses": [{"id": "H1", "statement": "pool exhausted", "status": "supported"}],
                "evidence": [{"fact": "waiters peak 39"}]
            }))
            .unwrap(),
        )
        .unwrap();
    let b = TokenBudget::new(BudgetConfig {
        compact: CompactConfig {
            agent: "summariser".into(),
            template: "CUSTOM TEMPLATE {summary_tokens}\n{pinned_state}".into(),
            summary_tokens: 300,
            user_message_tokens: 200,
        },
        ..BudgetConfig::default()
    })
    .unwrap()
    .with_estimator(Estimator::heuristic())
    .with_pinned(pinned.clone());
    let model = compactor("## Findings\nwaiters 39");
    let i = sre_core::Model::info(model.as_ref()).clone();
    let mut t = transcript(3, 300);
    t.push(Message::assistant("Anything else?"));
    t.push(Message::user("Also check the 14:02 deploy."));
    let r = request(t);
    let view = BudgetView {
        info: &i,
        request: &r,
        last_reported: None,
    };
    let rw = b.compact(&view, model.as_ref()).await.unwrap();
    check(&rw.messages).unwrap();
    assert_eq!(rw.messages.len(), 1);
    let text = rw.messages[0].text();
    assert!(
        text.contains("<handoff-summary>") && text.contains("waiters 39"),
        "{text}"
    );
    assert!(text.contains("Find why checkout is slow."), "{text}");
    assert!(text.contains("Also check the 14:02 deploy."), "{text}");
    assert!(
        text.contains("<context-update layer=\"investigation-state\">"),
        "{text}"
    );
    assert!(text.contains(&pinned.render("s")));
    assert!(rw.note.contains("pinned state re-inserted"), "{}", rw.note);
    let sent = model.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].agent, "summariser");
    assert_eq!(sent[0].max_output_tokens, 300);
    // The summary request extends the main request: same system blocks, same transcript prefix.
    assert_eq!(sent[0].system, r.system);
    assert!(
        canonical_prompt(&sent[0]).starts_with(&canonical_prompt(&request(
            r.messages[..r.messages.len() - 1].to_vec()
        )))
    );
}

#[tokio::test]
async fn an_overflowing_summary_request_drops_the_oldest_items_and_stays_consistent() {
    let b = TokenBudget::new(BudgetConfig {
        compact: CompactConfig {
            summary_tokens: 500,
            ..CompactConfig::default()
        },
        prune: PruneConfig {
            min_output_tokens: 1_000_000, // stubbing is not enough: messages must be dropped
            ..PruneConfig::default()
        },
        ..BudgetConfig::default()
    })
    .unwrap()
    .with_estimator(Estimator::heuristic());
    let model = Arc::new(
        ScriptedModel::from_yaml(
            "model: {context_window: 4000}\nagents:\n  compactor:\n    - final: short summary\n",
        )
        .unwrap()
        .recording(),
    );
    let i = ModelInfo::new("x", 4000);
    let r = request(transcript(30, 1500));
    let view = BudgetView {
        info: &i,
        request: &r,
        last_reported: None,
    };
    let rw = b.compact(&view, model.as_ref()).await.unwrap();
    assert!(rw.note.contains("oldest messages dropped"), "{}", rw.note);
    let sent = &model.requests()[0];
    check(&sent.messages).unwrap();
    assert_eq!(sent.messages[0].role, Role::User);
    let est = Estimator::heuristic();
    let size = est.with_margin(est.request(sent)) + 500;
    assert!(size <= 4000, "summary request of {size} tokens overflows");
    check(&rw.messages).unwrap();
}
