//! Small text helpers shared by the loop and tool crates.

/// Keep the head and tail of `text` within about `max_bytes`, with a marker in the middle
/// that says how much was cut. Cuts on UTF-8 character boundaries.
///
/// ```
/// let cut = sre_core::text::truncate_middle(&"x".repeat(1000), 100);
/// assert!(cut.len() < 200);
/// assert!(cut.contains("bytes (0 lines) omitted"));
/// ```
pub fn truncate_middle(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let half = max_bytes / 2;
    let head_end = floor_char_boundary(text, half);
    let tail_start = ceil_char_boundary(text, text.len() - half);
    let omitted = tail_start - head_end;
    let omitted_lines = text[head_end..tail_start].matches('\n').count();
    format!(
        "{}\n[... {omitted} bytes ({omitted_lines} lines) omitted ...]\n{}",
        &text[..head_end],
        &text[tail_start..]
    )
}

/// The largest char boundary `<= i`.
pub fn floor_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary `>= i`.
pub fn ceil_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// What kind of JSON value `v` is, for error messages ("expected a string, found an
/// array").
///
/// ```
/// assert_eq!(sre_core::text::json_kind(&serde_json::json!([1])), "an array");
/// ```
pub fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
