//! Prompt-cache diagnostics: where two consecutive requests stop sharing a prefix.
//!
//! Providers cache the exact byte prefix of consecutive requests. A [`PrefixReport`] on two
//! requests as sent on the wire says how much of the previous request the next one reused
//! and, if the prefix broke, the first JSON path where they differ (e.g.
//! `messages[3].content[0].text`), so a change that breaks prompt caching can be caught
//! in CI.

use serde::Serialize;
use serde_json::Value;

/// Common-prefix report on two consecutive request bodies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrefixReport {
    /// Bytes of the previous body.
    pub previous_bytes: usize,
    /// Bytes of the next body.
    pub next_bytes: usize,
    /// Length of the common byte prefix.
    pub common_bytes: usize,
    /// Estimated tokens in the common prefix (bytes / 4), unless the caller knows better.
    pub common_tokens_estimate: usize,
    /// The first JSON path where the two bodies differ, in serialization order; `None` when
    /// the previous body's content is entirely reused (the next one only appends).
    pub first_difference: Option<String>,
}

impl PrefixReport {
    /// Share of the previous body reused by the next one.
    pub fn reuse_ratio(&self) -> f64 {
        if self.previous_bytes == 0 {
            1.0
        } else {
            self.common_bytes as f64 / self.previous_bytes as f64
        }
    }
}

/// Compare two request bodies as sent (JSON).
///
/// Both bodies are put in the order providers cache in (request parameters such as
/// `model`, then `tools`, `system`/`instructions`, `messages`/`input`) with `cache_control` markers removed, since
/// providers key the cache on content and a breakpoint moving to the newest message is
/// not a break. Bodies that are not JSON are compared as raw bytes.
pub fn prefix_report(previous: &[u8], next: &[u8]) -> PrefixReport {
    let (a, b) = match (
        serde_json::from_slice::<Value>(previous),
        serde_json::from_slice::<Value>(next),
    ) {
        (Ok(mut a), Ok(mut b)) => {
            strip_cache_control(&mut a);
            strip_cache_control(&mut b);
            (Some(a), Some(b))
        }
        _ => (None, None),
    };
    let (pa, pb) = match (&a, &b) {
        (Some(a), Some(b)) => (cache_order_bytes(a), cache_order_bytes(b)),
        _ => (previous.to_vec(), next.to_vec()),
    };
    let common = crate::prompt::common_prefix_len(&pa, &pb);
    let first_difference = match (&a, &b) {
        (Some(a), Some(b)) => first_difference(&ordered(a), &ordered(b)),
        _ => (common < pa.len()).then(|| format!("byte {common} (bodies are not JSON)")),
    };
    PrefixReport {
        previous_bytes: pa.len(),
        next_bytes: pb.len(),
        common_bytes: common,
        common_tokens_estimate: common / 4,
        first_difference,
    }
}

const CACHE_ORDER: [&str; 5] = ["tools", "system", "instructions", "messages", "input"];

/// Request parameters (model, max_tokens...) first, then the cached content in order.
fn rank(key: &str) -> usize {
    CACHE_ORDER
        .iter()
        .position(|k| *k == key)
        .map(|p| p + 1)
        .unwrap_or(0)
}

/// Top-level entries in cache order.
fn ordered(v: &Value) -> Vec<(String, &Value)> {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, &Value)> =
                map.iter().map(|(k, v)| (k.clone(), v)).collect();
            entries.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then(a.cmp(b)));
            entries
        }
        other => vec![(String::new(), other)],
    }
}

fn cache_order_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in ordered(v) {
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        if serde_json::to_writer(&mut out, v).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

fn strip_cache_control(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("cache_control");
            map.values_mut().for_each(strip_cache_control);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_cache_control),
        _ => {}
    }
}

fn first_difference(a: &[(String, &Value)], b: &[(String, &Value)]) -> Option<String> {
    for ((ka, va), (kb, vb)) in a.iter().zip(b.iter()) {
        if ka != kb {
            return Some(ka.clone());
        }
        if let Some(d) = first_difference_in(va, vb, ka.clone()) {
            return Some(d);
        }
    }
    (a.len() > b.len()).then(|| "(top-level keys removed)".to_string())
}

/// The first path, in document order, where `next` does not extend `prev`. Arrays may grow
/// at the end; anything else is a difference.
fn first_difference_in(prev: &Value, next: &Value, path: String) -> Option<String> {
    match (prev, next) {
        (Value::Object(a), Value::Object(b)) => {
            for ((ka, va), (kb, vb)) in a.iter().zip(b.iter()) {
                let p = if path.is_empty() {
                    ka.clone()
                } else {
                    format!("{path}.{ka}")
                };
                if ka != kb {
                    return Some(p);
                }
                if let Some(d) = first_difference_in(va, vb, p) {
                    return Some(d);
                }
            }
            (a.len() > b.len()).then(|| format!("{path} (keys removed)"))
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (va, vb)) in a.iter().zip(b.iter()).enumerate() {
                if let Some(d) = first_difference_in(va, vb, format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (a.len() > b.len()).then(|| format!("{path} (elements removed)"))
        }
        (a, b) if a == b => None,
        _ => Some(if path.is_empty() {
            "(root)".into()
        } else {
            path
        }),
    }
}
