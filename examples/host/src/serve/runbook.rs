//! `POST /api/threads/{id}/runbook`: "turn this investigation into a runbook". The team's
//! model writes it from the thread's last hop; it lands in the workspace memory's knowledge
//! files, which the next investigations see in their memory index.

// Handlers answer their errors as responses, as axum does.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::api::{AppState, check_api, error, store_call};
use crate::store::{ThreadStatus, ThreadStore};

/// Write the runbook of a finished thread: `201 {"thread", "runbook": PATH}`.
pub(super) async fn runbook(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    check_api(&s, &headers, q)?;
    let (store, tid) = (s.store.clone(), id.clone());
    let Some(thread) = store_call(move || store.thread(&tid)).await? else {
        return Err(error(StatusCode::NOT_FOUND, "no such thread"));
    };
    if thread.status != ThreadStatus::Completed {
        return Err(error(
            StatusCode::CONFLICT,
            format!(
                "thread {id} is {}: a runbook is written from a completed investigation",
                thread.status.as_str()
            ),
        ));
    }
    match s.dispatcher.runbook(&id).await {
        Ok(path) => {
            let path = path.display().to_string();
            s.dispatcher
                .record(&id, json!({"thread": id, "runbook": path}));
            Ok((
                StatusCode::CREATED,
                Json(json!({"thread": id, "runbook": path})),
            )
                .into_response())
        }
        Err(e) => Err(error(
            StatusCode::BAD_GATEWAY,
            format!("the runbook was not written: {e}"),
        )),
    }
}
