//! The context layers: deterministic renderings of what the agent can reach and where
//! things live. Each is byte-identical across renders while its inputs are unchanged, so
//! the provider's cached prefix keeps hitting.
//!
//! | layer | name | source |
//! |---|---|---|
//! | [`ConnectorsLayer`] | `connectors` | a host-provided list of [`Connector`]s |
//! | [`RepositoriesLayer`] | `repositories` | attached repositories: tree + AGENTS.md files |
//! | [`KnowledgeMapLayer`] | `knowledge-map` | any [`sre_core::MemoryStore`]'s index |
//! | [`TopologyLayer`] | `topology` | a YAML/JSON [`Topology`] |
//! | [`SkillsLayer`](crate::SkillsLayer) | `skills` | a [`Skills`](crate::Skills) set: names and whole descriptions (see [`crate::skills`]) |
//! | [`PinnedState::layer`](crate::PinnedState::layer) | `investigation-state` | the pinned state (dynamic) |
//!
//! A host adds its own layer by implementing [`sre_core::ContextLayer`]:
//!
//! ```
//! use sre_core::{ContextLayer, LayerContext};
//!
//! struct OnCall(&'static str);
//!
//! #[async_trait::async_trait]
//! impl ContextLayer for OnCall {
//!     fn name(&self) -> &str { "on-call" }
//!     async fn render(&self, _ctx: &LayerContext<'_>) -> sre_core::Result<String> {
//!         Ok(format!("On call: {}", self.0))
//!     }
//! }
//! // AgentLoop::builder(model).layer(std::sync::Arc::new(OnCall("alice")))
//! ```

mod connectors;
mod knowledge;
mod repositories;
mod topology;

pub use connectors::{Connector, ConnectorsLayer};
pub use knowledge::KnowledgeMapLayer;
pub use repositories::{
    InstructionLimits, Instructions, RepositoriesLayer, Repository, TreeLimits,
    discover_instructions, render_tree,
};
pub use topology::{Account, Group, Service, Topology, TopologyLayer};

use crate::error::ContextError;

/// Run a layer's file-reading render on tokio's blocking pool: walking a repository must
/// not stall the runtime thread other sessions run on.
pub(crate) async fn off_runtime(
    render: impl FnOnce() -> Result<String, ContextError> + Send + 'static,
) -> sre_core::Result<String> {
    match tokio::task::spawn_blocking(render).await {
        Ok(text) => Ok(text?),
        Err(e) => Err(sre_core::Error::Context(format!(
            "layer render task failed: {e}"
        ))),
    }
}

/// Cut `text` to at most `max` bytes on a char boundary, with a marker if cut.
pub(crate) fn cap(text: String, max: usize, what: &str) -> String {
    if text.len() <= max {
        return text;
    }
    let keep = sre_core::text::floor_char_boundary(&text, max.saturating_sub(80));
    let keep = text[..keep].rfind('\n').map(|i| i + 1).unwrap_or(keep);
    format!(
        "{}[{what} truncated: {} of {} bytes shown]",
        &text[..keep],
        keep,
        text.len()
    )
}
