//! The `ContextLayer` contract: a named, ordered piece of prompt context.

use async_trait::async_trait;

use crate::error::Result;

/// Which session a layer renders for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerContext<'a> {
    /// The session.
    pub session_id: &'a str,
    /// The agent (`parent/child` for subagents).
    pub agent: &'a str,
}

impl LayerContext<'static> {
    /// A context outside any session (tests, previews).
    pub const DETACHED: LayerContext<'static> = LayerContext {
        session_id: "detached",
        agent: "detached",
    };
}

/// A piece of context placed after the system prompt, in the order layers were added.
///
/// Layers are rendered when a session starts and the rendering is persisted with the
/// session, so a resumed session sends the same bytes. A layer that can change mid-session
/// says so with [`ContextLayer::is_dynamic`]; the loop re-renders it before each turn and, if
/// the text changed, appends the new text at the tail as a message instead of editing the
/// system prompt (which would break the provider's cached prefix).
#[async_trait]
pub trait ContextLayer: Send + Sync {
    /// Name (e.g. `connectors`, `repositories`, `knowledge-map`, `topology`, `skills`).
    fn name(&self) -> &str;

    /// The layer's text for one session (layers that keep per-session state, like the
    /// pinned investigation state, render that session's).
    async fn render(&self, ctx: &LayerContext<'_>) -> Result<String>;

    /// Whether the text can change during a session.
    fn is_dynamic(&self) -> bool {
        false
    }
}
