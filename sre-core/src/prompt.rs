//! The canonical prompt: the bytes of a request in the order providers cache them.
//!
//! One JSON line per tool spec, then per system block, then per message. For an
//! append-only transcript the canonical prompt of turn N is a byte prefix of turn N+1;
//! tests assert it, and [`common_prefix_len`] measures how much of it was kept.

use serde::Serialize;

use crate::message::Message;
use crate::model::{ModelRequest, SystemBlock, ToolSpec};

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Line<'a> {
    Tool(&'a ToolSpec),
    System(&'a SystemBlock),
    Message(&'a Message),
}

/// The canonical bytes of `request` (tools, system blocks, messages; one JSON line each).
pub fn canonical_prompt(request: &ModelRequest) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    let lines = request
        .tools
        .iter()
        .map(Line::Tool)
        .chain(request.system.iter().map(Line::System))
        .chain(request.messages.iter().map(Line::Message));
    for line in lines {
        // Serializing plain data into a Vec cannot fail.
        if serde_json::to_writer(&mut out, &line).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

/// Length of the common byte prefix of `a` and `b`.
pub fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
