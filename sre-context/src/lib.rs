//! # sre-context
//!
//! The frugal-context half of sre-harness: long investigations never hit a visible limit,
//! and provider prompt caches keep hitting.
//!
//! - **Layers** ([`layers`]): deterministic, ordered renderings of what the agent can
//!   reach: connectors, repositories (capped tree + `AGENTS.md` chain), the memory's
//!   knowledge map, the topology. Byte-identical while their inputs are unchanged, so the
//!   system prompt stays a cacheable prefix.
//! - **Skills** ([`skills`]): progressive disclosure. A static catalog of names and whole
//!   descriptions, `activate_skill` returning a skill's instructions and files (at most 5
//!   active per session, least recently activated unloaded first), and gates refusing a
//!   skill's tools until it is active.
//! - **Budget** ([`TokenBudget`]): exact token accounting from provider-reported usage,
//!   estimation only for what was appended since; batched pruning of old tool outputs
//!   ([`prune`]) at one threshold, a structured handoff summary ([`compact`]) at a higher one.
//! - **Pinned state** ([`PinnedState`]): hypotheses, evidence, timeline and next steps the
//!   agent maintains with the `update_investigation_state` tool; shown by a dynamic layer
//!   and re-inserted after every compaction.
//!
//! ```
//! use std::sync::Arc;
//! use sre_context::{
//!     BudgetConfig, Connector, ConnectorsLayer, PinnedState, TokenBudget, Topology, TopologyLayer,
//! };
//! use sre_core::{Agent, AgentLoop, ScriptedModel, Session};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let model = Arc::new(ScriptedModel::from_yaml(r#"
//! turns:
//!   - tool_calls:
//!       - tool: update_investigation_state
//!         args: {hypotheses: [{id: H1, statement: "pool exhausted", status: open}]}
//!   - expect: {last_message_contains: ["[H1] (open) pool exhausted"]}
//!     final: "H1 is open."
//! "#).unwrap());
//! let pinned = PinnedState::new();
//! let topology = Topology::from_yaml("accounts: [{name: prod, provider: aws}]", "topology.yaml").unwrap();
//! let budget = TokenBudget::new(BudgetConfig::default()).unwrap().with_pinned(pinned.clone());
//! let agent = AgentLoop::builder(model)
//!     .system_prompt("You are an SRE agent.")
//!     .layer(Arc::new(ConnectorsLayer::new([Connector::new("aws-prod", "stdio", 42).note("region", "eu-west-1")])))
//!     .layer(Arc::new(TopologyLayer::new(topology)))
//!     .layer(pinned.layer())
//!     .tool(pinned.tool().unwrap())
//!     .budget(Arc::new(budget))
//!     .build()
//!     .unwrap();
//! let outcome = agent.run(&Session::new("s"), "Why is checkout slow?").await.unwrap();
//! assert_eq!(outcome.answer.as_deref(), Some("H1 is open."));
//! # });
//! ```

pub mod budget;
pub mod compact;
pub mod error;
pub mod layers;
pub mod pinned;
pub mod prune;
pub mod skills;
pub mod tokens;
pub mod transcript;

pub use budget::{Assessment, BudgetConfig, TokenBudget};
pub use compact::{CompactConfig, DEFAULT_TEMPLATE};
pub use error::{ContextError, Result};
pub use layers::{
    Connector, ConnectorsLayer, InstructionLimits, KnowledgeMapLayer, RepositoriesLayer,
    Repository, Topology, TopologyLayer, TreeLimits,
};
pub use pinned::{
    Evidence, Hypothesis, HypothesisStatus, InvestigationState, PINNED_LAYER, PINNED_TOOL,
    PinnedState, TimelineEntry, UpdateArgs, UpdateMode,
};
pub use prune::PruneConfig;
pub use skills::{
    ACTIVATE_SKILL_TOOL, SKILLS_LAYER, Skill, SkillFiles, SkillLimits, Skills, SkillsLayer,
    load_skills, parse_skill,
};
#[cfg(feature = "tiktoken")]
pub use tokens::Bpe;
pub use tokens::{Estimator, Heuristic, PromptTokens, TokenCounter};

/// The README's code blocks, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
