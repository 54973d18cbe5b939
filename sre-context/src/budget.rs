//! `TokenBudget`: the [`ContextBudget`] of sre-context.
//!
//! Sizes are fractions of the *usable* window: the context window minus an allowance
//! reserved for the model's output. Below `prune_at` the request is sent as is. From
//! `prune_at`, old tool outputs are stubbed in one batch down to `prune_target` (so the
//! provider's cache breaks once per batch, not every turn). From `compact_at`, or when
//! pruning cannot get below `prune_at`, the transcript is summarised.

use async_trait::async_trait;
use sre_core::{BudgetVerdict, BudgetView, ContextBudget, Model, ModelInfo, ModelRequest, Rewrite};

use crate::compact::{self, CompactConfig};
use crate::error::ContextError;
use crate::pinned::PinnedState;
use crate::prune::{self, PruneConfig, PrunePlan};
use crate::tokens::{Estimator, PromptTokens};

/// Thresholds and policies of a [`TokenBudget`].
#[derive(Clone, Debug)]
pub struct BudgetConfig {
    /// Context window to assume instead of the model's (e.g. to stay below a cheaper tier).
    pub context_window: Option<u64>,
    /// Tokens reserved for the output. Default: the request's `max_output_tokens`, at most a
    /// quarter of the window.
    pub reserved_output: Option<u64>,
    /// Fraction of the usable window at which pruning starts. Default 0.6.
    pub prune_at: f64,
    /// Fraction a prune brings the prompt down to. Default 0.4.
    pub prune_target: f64,
    /// Fraction at which the transcript is compacted. Default 0.8.
    pub compact_at: f64,
    /// A prune below `compact_at` must free at least this fraction of the usable window,
    /// else it is not worth breaking the cache for. Default 0.05.
    pub min_prune: f64,
    /// What pruning may touch.
    pub prune: PruneConfig,
    /// How compaction works.
    pub compact: CompactConfig,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            context_window: None,
            reserved_output: None,
            prune_at: 0.6,
            prune_target: 0.4,
            compact_at: 0.8,
            min_prune: 0.05,
            prune: PruneConfig::default(),
            compact: CompactConfig::default(),
        }
    }
}

impl BudgetConfig {
    fn check(&self) -> Result<(), ContextError> {
        let ok = 0.0 < self.prune_target
            && self.prune_target < self.prune_at
            && self.prune_at <= self.compact_at
            && self.compact_at <= 1.0
            && (0.0..1.0).contains(&self.min_prune);
        if ok {
            Ok(())
        } else {
            Err(ContextError::Config(format!(
                "budget fractions must satisfy 0 < prune_target ({}) < prune_at ({}) <= compact_at ({}) <= 1 and 0 <= min_prune ({}) < 1",
                self.prune_target, self.prune_at, self.compact_at, self.min_prune
            )))
        }
    }
}

/// What the budget computed for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    /// The prompt size (reported + estimated).
    pub tokens: PromptTokens,
    /// Usable window (window minus reserved output).
    pub usable: u64,
    /// Token counts of the three thresholds.
    pub prune_at: u64,
    /// Prune target.
    pub prune_target: u64,
    /// Compaction threshold.
    pub compact_at: u64,
    /// The verdict.
    pub verdict: BudgetVerdict,
}

/// The token budget: exact accounting from provider-reported usage, batched pruning and
/// summary compaction, with the pinned state re-inserted after each compaction.
///
/// ```
/// use sre_context::{BudgetConfig, TokenBudget};
/// let budget = TokenBudget::new(BudgetConfig { prune_at: 0.5, ..BudgetConfig::default() }).unwrap();
/// // AgentLoop::builder(model).budget(std::sync::Arc::new(budget))
/// # let _ = budget;
/// ```
#[derive(Clone, Debug)]
pub struct TokenBudget {
    config: BudgetConfig,
    estimator: Estimator,
    pinned: Option<PinnedState>,
}

impl TokenBudget {
    /// A budget with `config` and the default estimator ([`Estimator::tokenizer`]).
    pub fn new(config: BudgetConfig) -> Result<Self, ContextError> {
        config.check()?;
        Ok(TokenBudget {
            config,
            estimator: Estimator::tokenizer(),
            pinned: None,
        })
    }

    /// Use another estimator.
    pub fn with_estimator(mut self, estimator: Estimator) -> Self {
        self.estimator = estimator;
        self
    }

    /// Re-insert this pinned state after every compaction.
    pub fn with_pinned(mut self, pinned: PinnedState) -> Self {
        self.pinned = Some(pinned);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    /// The estimator.
    pub fn estimator(&self) -> &Estimator {
        &self.estimator
    }

    fn window(&self, info: &ModelInfo) -> u64 {
        self.config.context_window.unwrap_or(info.context_window)
    }

    /// Usable window for `request` on `info`.
    pub fn usable(&self, info: &ModelInfo, request: &ModelRequest) -> u64 {
        let window = self.window(info);
        let reserve = self
            .config
            .reserved_output
            .unwrap_or_else(|| request.max_output_tokens.min(window / 4));
        window.saturating_sub(reserve)
    }

    fn frac(usable: u64, f: f64) -> u64 {
        (usable as f64 * f) as u64
    }

    fn plan(&self, view: &BudgetView<'_>, need: u64) -> PrunePlan {
        prune::plan(
            &view.request.messages,
            need,
            &self.estimator,
            &self.config.prune,
        )
    }

    /// Measure the request and decide (what [`ContextBudget::assess`] returns, with the numbers).
    pub fn assessment(&self, view: &BudgetView<'_>) -> Assessment {
        let tokens = self.estimator.prompt(view);
        let usable = self.usable(view.info, view.request);
        let prune_at = Self::frac(usable, self.config.prune_at);
        let prune_target = Self::frac(usable, self.config.prune_target);
        let compact_at = Self::frac(usable, self.config.compact_at);
        let total = tokens.total();
        let verdict = if total < prune_at {
            BudgetVerdict::Fits
        } else {
            // A prune is worth a cache break only if it lands well under the prune
            // threshold (at most midway between the target and the threshold) and frees a
            // meaningful amount; otherwise wait, and compact at the higher threshold.
            let need = total.saturating_sub(prune_target);
            let plan = self.plan(view, need);
            let after = total.saturating_sub(plan.freed);
            let well_under = prune_target + (prune_at - prune_target) / 2;
            let worth = !plan.items.is_empty()
                && after <= well_under
                && plan.freed >= Self::frac(usable, self.config.min_prune).max(1);
            if worth {
                BudgetVerdict::Prune
            } else if total >= compact_at {
                BudgetVerdict::Compact
            } else {
                BudgetVerdict::Fits
            }
        };
        Assessment {
            tokens,
            usable,
            prune_at,
            prune_target,
            compact_at,
            verdict,
        }
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[async_trait]
impl ContextBudget for TokenBudget {
    fn assess(&self, view: &BudgetView<'_>) -> BudgetVerdict {
        self.assessment(view).verdict
    }

    async fn prune(&self, view: &BudgetView<'_>) -> sre_core::Result<Option<Rewrite>> {
        let a = self.assessment(view);
        let total = a.tokens.total();
        let need = total.saturating_sub(a.prune_target);
        let plan = self.plan(view, need);
        if plan.items.is_empty() {
            return Ok(None);
        }
        let messages = prune::apply(
            &view.request.messages,
            &plan,
            &self.estimator,
            &self.config.prune,
        );
        let freed = plan.freed.min(total);
        let tokens_after = total - freed;
        let mut what = vec![format!("{} tool outputs", plan.outputs)];
        if plan.arguments > 0 {
            what.push(format!("{} tool-call arguments", plan.arguments));
        }
        if plan.updates > 0 {
            what.push(format!("{} superseded layer updates", plan.updates));
        }
        Ok(Some(Rewrite {
            messages,
            tokens_before: total,
            tokens_after,
            note: format!(
                "pruned {}: freed ~{} tokens ({} -> {} of {} usable; the last {} turns and the pinned state untouched)",
                what.join(", "),
                thousands(freed),
                thousands(total),
                thousands(tokens_after),
                thousands(a.usable),
                self.config.prune.keep_recent_turns,
            ),
        }))
    }

    async fn compact(&self, view: &BudgetView<'_>, model: &dyn Model) -> sre_core::Result<Rewrite> {
        let total = self.estimator.prompt(view).total();
        let pinned = self
            .pinned
            .as_ref()
            .map(|p| p.render(&view.request.session_id))
            .unwrap_or_default();
        let done = compact::compact(
            view.request,
            total,
            self.window(view.info),
            &pinned,
            model,
            &self.estimator,
            &self.config.compact,
            &self.config.prune,
        )
        .await?;
        let after = self.estimator.with_margin(
            self.estimator
                .prefix(&view.request.tools, &view.request.system)
                + self.estimator.messages(&done.messages),
        );
        let mut note = format!(
            "compacted {} messages into a ~{}-token handoff summary ({} -> {} tokens); carried {} user messages",
            view.request.messages.len(),
            thousands(done.summary_tokens),
            thousands(total),
            thousands(after),
            done.carried,
        );
        if !pinned.is_empty() {
            note.push_str("; pinned state re-inserted");
        }
        if done.dropped > 0 || done.stubbed > 0 {
            note.push_str(&format!(
                "; to fit the summary request {} outputs were stubbed and the {} oldest messages dropped",
                done.stubbed, done.dropped
            ));
        }
        Ok(Rewrite {
            messages: done.messages,
            tokens_before: total,
            tokens_after: after,
            note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_fractions_are_rejected() {
        let bad = BudgetConfig {
            prune_at: 0.9,
            compact_at: 0.8,
            ..BudgetConfig::default()
        };
        assert!(TokenBudget::new(bad).is_err());
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
