//! In-process hooks: a Rust closure with the same filter (events, matcher, activation) as
//! configured hooks. For a full trait object, implement [`sre_core::Hook`] directly.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use sre_core::{Hook, HookContext, HookDecision, HookEvent, HookInput};

use crate::error::HookError;
use crate::matcher::{Activation, HookFilter, ToolMatcher};

/// A hook backed by an async closure that receives the input (owned) and returns the
/// decision; an `Err` is reported by the loop as a `HookFailed` event.
///
/// ```
/// use sre_core::{HookDecision, HookEvent};
/// use sre_hooks::FnHook;
///
/// let no_sudo = FnHook::new("no-sudo", [HookEvent::PreToolUse], "Bash|run_shell", |input| async move {
///     let command = input.to_json()["tool_input"]["command"].as_str().unwrap_or_default().to_string();
///     Ok(if command.contains("sudo") { HookDecision::block("sudo is not allowed") } else { HookDecision::allow() })
/// })
/// .unwrap();
/// # let _ = no_sudo;
/// ```
pub struct FnHook<F> {
    filter: HookFilter,
    f: F,
}

impl<F, Fut> FnHook<F>
where
    F: Fn(HookInput) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HookDecision, sre_core::Error>> + Send + 'static,
{
    /// A hook named `name` for `events`, on tools matching `matcher` (`"*"` or `""` = all).
    pub fn new(
        name: impl Into<String>,
        events: impl IntoIterator<Item = HookEvent>,
        matcher: &str,
        f: F,
    ) -> Result<Self, HookError> {
        let name = name.into();
        let matcher = ToolMatcher::new(Some(matcher)).map_err(|e| {
            HookError::config(
                format!("hook `{name}`: matcher"),
                format!("invalid regex: {e}"),
            )
        })?;
        Ok(FnHook {
            filter: HookFilter::new(name, events, matcher),
            f,
        })
    }

    /// A hook with an explicit filter.
    pub fn with_filter(filter: HookFilter, f: F) -> Self {
        FnHook { filter, f }
    }

    /// Make it on-demand, switched through `activation`.
    pub fn on_demand(mut self, activation: &Activation) -> Self {
        self.filter = self.filter.on_demand(activation);
        self
    }

    /// As a shared trait object, ready for `AgentLoopBuilder::hook`.
    pub fn into_arc(self) -> Arc<dyn Hook> {
        Arc::new(self)
    }
}

impl<F> std::fmt::Debug for FnHook<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnHook")
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<F, Fut> Hook for FnHook<F>
where
    F: Fn(HookInput) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HookDecision, sre_core::Error>> + Send + 'static,
{
    fn name(&self) -> &str {
        &self.filter.name
    }

    fn handles(&self, input: &HookInput) -> bool {
        self.filter.handles(input)
    }

    async fn run(
        &self,
        input: &HookInput,
        _ctx: &HookContext,
    ) -> Result<HookDecision, sre_core::Error> {
        (self.f)(input.clone()).await
    }
}
