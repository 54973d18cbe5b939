//! The `ContextBudget` contract: decide before each model call whether the transcript must
//! be pruned or compacted, and do it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::message::Message;
use crate::model::{Model, ModelInfo, ModelRequest};

/// The prompt tokens the provider reported for the last request, and how many messages
/// that request had; a budget counts exactly up to there and estimates only the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedPrompt {
    /// Messages in the request the provider reported on.
    pub messages: usize,
    /// Prompt tokens it reported (uncached + cache read + cache write).
    pub prompt_tokens: u64,
}

/// What a budget sees.
#[derive(Clone, Copy, Debug)]
pub struct BudgetView<'a> {
    /// The model about to be called.
    pub info: &'a ModelInfo,
    /// The request about to be sent.
    pub request: &'a ModelRequest,
    /// Provider-reported size of the previous request, if any.
    pub last_reported: Option<ReportedPrompt>,
}

/// A budget's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetVerdict {
    /// Send as is.
    Fits,
    /// Trim stale tool outputs first.
    Prune,
    /// Summarise and restart from the summary first.
    Compact,
}

/// A transcript replaced by a prune or a compaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rewrite {
    /// The new transcript.
    pub messages: Vec<Message>,
    /// Estimated prompt tokens before.
    pub tokens_before: u64,
    /// Estimated prompt tokens after.
    pub tokens_after: u64,
    /// Human-readable note (what was pruned or summarised).
    pub note: String,
}

/// Token budget policy.
#[async_trait]
pub trait ContextBudget: Send + Sync {
    /// Decide what to do before the next call.
    fn assess(&self, view: &BudgetView<'_>) -> BudgetVerdict;

    /// Trim the transcript; `None` if there was nothing to trim.
    async fn prune(&self, view: &BudgetView<'_>) -> Result<Option<Rewrite>>;

    /// Summarise the transcript with `model` and return the transcript to continue from.
    async fn compact(&self, view: &BudgetView<'_>, model: &dyn Model) -> Result<Rewrite>;
}
