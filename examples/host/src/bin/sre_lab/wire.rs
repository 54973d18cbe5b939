//! What the lab's provider servers share: an OpenAI-shaped error response, serving a router
//! on a free loopback port, and reading JSONL input with errors that say where.

use std::path::Path;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error as OpenAI's API sends it: `{"error": {message, type, param, code}}`, with the
/// request's id in `x-request-id`.
pub fn error(
    status: StatusCode,
    request_id: &str,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    (
        status,
        [("x-request-id", request_id.to_string())],
        axum::Json(
            json!({"error": {"message": message, "type": kind, "param": param, "code": code}}),
        ),
    )
        .into_response()
}

/// The body of a Chat Completions request, or the 400 OpenAI answers when it is not one.
pub fn chat_request(raw: &[u8], request_id: &str) -> Result<Value, Box<Response>> {
    let invalid = |message: &str| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            request_id,
            message,
            "invalid_request_error",
            None,
            None,
        ))
    };
    let body: Value = serde_json::from_slice(raw)
        .map_err(|_| invalid("We could not parse the JSON body of your request."))?;
    if !body.is_object() {
        return Err(invalid("The request body must be a JSON object."));
    }
    if !body["model"].is_string() {
        return Err(invalid("you must provide a model parameter"));
    }
    if !body["messages"].is_array() {
        return Err(invalid("Missing required parameter: 'messages'."));
    }
    Ok(body)
}

/// Serve `app` on 127.0.0.1 (a free port) in the background; its base URL
/// (`http://127.0.0.1:P/v1`).
pub async fn serve(app: Router) -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/v1"))
}

/// The JSON objects of a JSONL file, blank lines skipped; an error names the file and line.
pub fn read_jsonl(path: &Path) -> Result<Vec<(usize, Value)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = format!("{}:{}", path.display(), i + 1);
        let v: Value = serde_json::from_str(line).map_err(|e| format!("{at}: {e}"))?;
        if !v.is_object() {
            return Err(format!("{at}: not a JSON object"));
        }
        out.push((i + 1, v));
    }
    Ok(out)
}

/// Field `name` of `v` as a string; an error names where (`at`) and the field.
pub fn text(v: &Value, name: &str, at: &str) -> Result<String, String> {
    v[name]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{at}: `{name}` is missing or not a string"))
}

/// Field `name` of `v` as an RFC 3339 time, in UTC.
pub fn time(v: &Value, name: &str, at: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let t = text(v, name, at)?;
    chrono::DateTime::parse_from_rfc3339(&t)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            format!("{at}: `{name}` {t:?} is not an RFC 3339 time (e.g. 2026-11-15T09:30:00Z): {e}")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_request_must_be_an_object_with_a_model_and_messages() {
        assert!(chat_request(br#"{"model":"m","messages":[]}"#, "r").is_ok());
        for bad in [
            &b"[1]"[..],
            b"\"x\"",
            b"{",
            br#"{"messages":[]}"#,
            br#"{"model":"m"}"#,
        ] {
            let r = chat_request(bad, "r").unwrap_err();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn times_are_parsed_into_utc_and_bad_ones_say_where() {
        let v = json!({"t": "2026-01-01T01:00:00+05:00", "u": "zzz"});
        assert_eq!(
            time(&v, "t", "x").unwrap().to_rfc3339(),
            "2025-12-31T20:00:00+00:00"
        );
        let e = time(&v, "u", "f:3").unwrap_err();
        assert!(
            e.starts_with("f:3: `u` \"zzz\" is not an RFC 3339 time"),
            "{e}"
        );
        assert!(
            text(&v, "missing", "f:4")
                .unwrap_err()
                .contains("`missing` is missing")
        );
    }
}
