//! Token usage and the usage/cost ledger of an agent tree.

use std::collections::BTreeMap;
use std::ops::{Add, AddAssign};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::model::Pricing;

/// Tokens of one model call, as the provider reported them.
///
/// `input_tokens` counts prompt tokens that were neither read from nor written to the
/// provider's prompt cache; the whole prompt is `input + cache_read + cache_write`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Uncached prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Prompt tokens served from the provider's cache.
    pub cache_read_tokens: u64,
    /// Prompt tokens written to the provider's cache.
    pub cache_write_tokens: u64,
}

impl Usage {
    /// All prompt tokens (uncached + cache read + cache write).
    pub fn prompt_tokens(&self) -> u64 {
        self.input_tokens + self.cache_read_tokens + self.cache_write_tokens
    }

    /// Cost in US dollars under `pricing`.
    pub fn cost_usd(&self, pricing: &Pricing) -> f64 {
        let m = 1_000_000.0;
        self.input_tokens as f64 * pricing.input_per_mtok / m
            + self.output_tokens as f64 * pricing.output_per_mtok / m
            + self.cache_read_tokens as f64 * pricing.cache_read_per_mtok / m
            + self.cache_write_tokens as f64 * pricing.cache_write_per_mtok / m
    }
}

impl Add for Usage {
    type Output = Usage;
    fn add(self, o: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens + o.input_tokens,
            output_tokens: self.output_tokens + o.output_tokens,
            cache_read_tokens: self.cache_read_tokens + o.cache_read_tokens,
            cache_write_tokens: self.cache_write_tokens + o.cache_write_tokens,
        }
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        *self = *self + o;
    }
}

/// Usage of one agent of the tree.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentUsage {
    /// Model calls made.
    pub requests: u64,
    /// Summed token usage.
    pub usage: Usage,
    /// Summed cost in US dollars.
    pub cost_usd: f64,
    /// Requests whose prompt reached the model's minimum cacheable length.
    pub cacheable_requests: u64,
    /// Prompt tokens of those requests.
    pub cacheable_prompt_tokens: u64,
    /// Cache-read tokens of those requests.
    pub cacheable_cache_read_tokens: u64,
}

impl AgentUsage {
    /// Share of prompt tokens read from the cache, over cacheable requests only: a request
    /// below the model's minimum cacheable length can never hit, so it is not a regression.
    pub fn cache_hit_rate(&self) -> Option<f64> {
        (self.cacheable_prompt_tokens > 0)
            .then(|| self.cacheable_cache_read_tokens as f64 / self.cacheable_prompt_tokens as f64)
    }
}

/// Usage per agent (keyed by agent name, e.g. `investigator`, `investigator/db-pool`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageLedger {
    /// Per-agent rows.
    pub agents: BTreeMap<String, AgentUsage>,
}

impl UsageLedger {
    /// Record one model call of `agent` (`min_cacheable` is the model's minimum cacheable
    /// prompt length in tokens).
    pub fn record(&mut self, agent: &str, usage: Usage, pricing: &Pricing, min_cacheable: u64) {
        let row = self.agents.entry(agent.to_string()).or_default();
        row.requests += 1;
        row.usage += usage;
        row.cost_usd += usage.cost_usd(pricing);
        if usage.prompt_tokens() >= min_cacheable {
            row.cacheable_requests += 1;
            row.cacheable_prompt_tokens += usage.prompt_tokens();
            row.cacheable_cache_read_tokens += usage.cache_read_tokens;
        }
    }

    /// The sum over all agents.
    pub fn total(&self) -> AgentUsage {
        let mut t = AgentUsage::default();
        for row in self.agents.values() {
            t.add(row);
        }
        t
    }

    /// The rows of `agent`'s descendants (`agent/...`: subagents, hook judges, compaction).
    pub fn descendants_of(&self, agent: &str) -> BTreeMap<String, AgentUsage> {
        let prefix = format!("{agent}/");
        self.agents
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Add `rows` to this ledger.
    pub fn merge(&mut self, rows: &BTreeMap<String, AgentUsage>) {
        for (agent, row) in rows {
            self.agents.entry(agent.clone()).or_default().add(row);
        }
    }
}

impl AgentUsage {
    /// Add `other` to this row.
    pub fn add(&mut self, other: &AgentUsage) {
        self.requests += other.requests;
        self.usage += other.usage;
        self.cost_usd += other.cost_usd;
        self.cacheable_requests += other.cacheable_requests;
        self.cacheable_prompt_tokens += other.cacheable_prompt_tokens;
        self.cacheable_cache_read_tokens += other.cacheable_cache_read_tokens;
    }

    /// This row minus `earlier` (a previous state of the same row).
    pub fn since(&self, earlier: &AgentUsage) -> AgentUsage {
        let u = &self.usage;
        let e = &earlier.usage;
        AgentUsage {
            requests: self.requests.saturating_sub(earlier.requests),
            usage: Usage {
                input_tokens: u.input_tokens.saturating_sub(e.input_tokens),
                output_tokens: u.output_tokens.saturating_sub(e.output_tokens),
                cache_read_tokens: u.cache_read_tokens.saturating_sub(e.cache_read_tokens),
                cache_write_tokens: u.cache_write_tokens.saturating_sub(e.cache_write_tokens),
            },
            cost_usd: (self.cost_usd - earlier.cost_usd).max(0.0),
            cacheable_requests: self
                .cacheable_requests
                .saturating_sub(earlier.cacheable_requests),
            cacheable_prompt_tokens: self
                .cacheable_prompt_tokens
                .saturating_sub(earlier.cacheable_prompt_tokens),
            cacheable_cache_read_tokens: self
                .cacheable_cache_read_tokens
                .saturating_sub(earlier.cacheable_cache_read_tokens),
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.requests == 0 && self.usage == Usage::default()
    }
}

/// A ledger shared by every agent of one tree (a parent and its subagents).
#[derive(Clone, Debug, Default)]
pub struct SharedLedger(Arc<Mutex<UsageLedger>>);

impl SharedLedger {
    /// Record one model call of `agent` with the model's info (prices, cache minimum).
    pub fn record(&self, agent: &str, usage: Usage, info: &crate::model::ModelInfo) {
        let mut guard = self.lock();
        guard.record(agent, usage, &info.pricing, info.min_cacheable_tokens);
    }

    /// A copy of the ledger as it is now.
    pub fn snapshot(&self) -> UsageLedger {
        self.lock().clone()
    }

    /// The sum over all agents of the tree.
    pub fn total(&self) -> AgentUsage {
        self.lock().total()
    }

    /// The rows of `agent`'s descendants (see [`UsageLedger::descendants_of`]).
    pub fn descendants_of(&self, agent: &str) -> BTreeMap<String, AgentUsage> {
        self.lock().descendants_of(agent)
    }

    /// Add `rows` (usage restored from a transcript).
    pub fn merge(&self, rows: &BTreeMap<String, AgentUsage>) {
        self.lock().merge(rows);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, UsageLedger> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
