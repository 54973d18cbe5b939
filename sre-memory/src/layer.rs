//! The index as a [`sre_core::ContextLayer`], so hosts can put it in the prompt.

use async_trait::async_trait;
use sre_core::{ContextLayer, MemoryStore};

use crate::store::MarkdownMemory;

/// Renders `index.md` as the `memory` context layer (rendered when a session starts).
#[derive(Clone, Debug)]
pub struct IndexLayer {
    store: MarkdownMemory,
}

impl IndexLayer {
    /// A layer showing `store`'s index.
    pub fn new(store: MarkdownMemory) -> Self {
        IndexLayer { store }
    }
}

#[async_trait]
impl ContextLayer for IndexLayer {
    fn name(&self) -> &str {
        "memory"
    }

    async fn render(&self) -> sre_core::Result<String> {
        MemoryStore::index(&self.store).await
    }
}
