//! The client side of the session: progress notifications and elicitation requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::model::{
    ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction, NumberOrString,
    ProgressNotificationParam, ProgressToken,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ClientHandler, ErrorData, RoleClient};
use serde_json::{Map, Value};

/// What the client does when a server asks the user for input (elicitation).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ElicitationPolicy {
    /// Do not advertise the capability; decline any request (an agent has no user at hand).
    #[default]
    Decline,
    /// Advertise form elicitation and accept with the defaults the request's schema gives.
    AcceptDefaults,
}

/// Last progress notification per pending call, keyed by progress token.
pub(crate) type ProgressMap = Arc<Mutex<HashMap<String, ProgressNotificationParam>>>;

#[derive(Clone)]
pub(crate) struct Handler {
    pub(crate) info: ClientConfig,
    pub(crate) progress: ProgressMap,
    pub(crate) progress_total: Arc<AtomicU64>,
    pub(crate) elicitation: ElicitationPolicy,
}

pub(crate) fn token_key(t: &ProgressToken) -> String {
    match &t.0 {
        NumberOrString::Number(n) => n.to_string(),
        NumberOrString::String(s) => s.to_string(),
    }
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        self.info.clone()
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress_total.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut map) = self.progress.lock() {
            let key = token_key(&params.progress_token);
            if map.contains_key(&key) {
                map.insert(key, params);
            }
        }
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let decline = ElicitResult::new(ElicitationAction::Decline);
        if self.elicitation != ElicitationPolicy::AcceptDefaults {
            return Ok(decline);
        }
        let request = serde_json::to_value(&request).unwrap_or(Value::Null);
        let Some(props) = request
            .pointer("/requestedSchema/properties")
            .and_then(Value::as_object)
        else {
            return Ok(decline);
        };
        let mut content = Map::new();
        for (key, schema) in props {
            if let Some(default) = schema.get("default") {
                content.insert(key.clone(), default.clone());
            }
        }
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(Value::Object(content)))
    }
}
