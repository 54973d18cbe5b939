//! The knowledge-map layer: the index of any [`MemoryStore`].

use std::sync::Arc;

use async_trait::async_trait;
use sre_core::{ContextLayer, LayerContext, MemoryStore};

/// Renders `MemoryStore::index()` under a heading, capped in size:
///
/// ```text
/// Knowledge map (memory index; read the files it names for details):
/// - runbooks/checkout.md: checkout service, pool sizing, 5xx triage
/// ```
#[derive(Clone)]
pub struct KnowledgeMapLayer {
    store: Arc<dyn MemoryStore>,
    max_bytes: usize,
    dynamic: bool,
}

impl KnowledgeMapLayer {
    /// A layer over `store`, capped at 8 KiB, rendered once per session.
    pub fn new(store: Arc<dyn MemoryStore>) -> Self {
        KnowledgeMapLayer {
            store,
            max_bytes: 8 * 1024,
            dynamic: false,
        }
    }

    /// Cap the rendering.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Re-render before each turn (changes are appended at the tail by the loop).
    pub fn dynamic(mut self, on: bool) -> Self {
        self.dynamic = on;
        self
    }
}

#[async_trait]
impl ContextLayer for KnowledgeMapLayer {
    fn name(&self) -> &str {
        "knowledge-map"
    }

    async fn render(&self, _ctx: &LayerContext<'_>) -> sre_core::Result<String> {
        let index = self.store.index().await?;
        let index = index.trim();
        if index.is_empty() {
            return Ok(String::new());
        }
        Ok(super::cap(
            format!("Knowledge map (memory index; read the files it names for details):\n{index}"),
            self.max_bytes,
            "knowledge map",
        ))
    }

    fn is_dynamic(&self) -> bool {
        self.dynamic
    }
}
