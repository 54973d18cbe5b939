//! Default model facts (context window, output cap, minimum cacheable prompt, prices) by
//! model-name prefix. Defaults only: hosts override any field through [`ModelInfo`], and
//! the loop itself never looks at vendor names.

use crate::model::{ModelInfo, Pricing};

/// (prefix, context window, max output, min cacheable tokens, $/Mtok input, output, cache read, cache write)
type Row = (&'static str, u64, u64, u64, f64, f64, f64, f64);

const TABLE: &[Row] = &[
    (
        "claude-opus-4",
        200_000,
        32_000,
        1024,
        15.0,
        75.0,
        1.5,
        18.75,
    ),
    (
        "claude-sonnet-4",
        200_000,
        64_000,
        1024,
        3.0,
        15.0,
        0.3,
        3.75,
    ),
    ("claude-haiku-4", 200_000, 64_000, 4096, 1.0, 5.0, 0.1, 1.25),
    (
        "claude-3-5-haiku",
        200_000,
        8_192,
        2048,
        0.8,
        4.0,
        0.08,
        1.0,
    ),
    (
        "claude-3-7-sonnet",
        200_000,
        64_000,
        1024,
        3.0,
        15.0,
        0.3,
        3.75,
    ),
    ("gpt-5", 400_000, 128_000, 1024, 1.25, 10.0, 0.125, 0.0),
    ("gpt-4.1", 1_047_576, 32_768, 1024, 2.0, 8.0, 0.5, 0.0),
    ("gpt-4o", 128_000, 16_384, 1024, 2.5, 10.0, 1.25, 0.0),
    ("o4-mini", 200_000, 100_000, 1024, 1.1, 4.4, 0.275, 0.0),
];

/// Facts for `model`: the longest matching prefix of the table, else a conservative
/// default (128k window, 8k output, 1024-token cache minimum, unknown prices as zero).
pub fn model_info(model: &str) -> ModelInfo {
    let best = TABLE
        .iter()
        .filter(|row| model.starts_with(row.0))
        .max_by_key(|row| row.0.len());
    match best {
        Some(&(_, window, out, min_cache, input, output, read, write)) => ModelInfo {
            name: model.to_string(),
            context_window: window,
            max_output_tokens: out,
            min_cacheable_tokens: min_cache,
            pricing: Pricing {
                input_per_mtok: input,
                output_per_mtok: output,
                cache_read_per_mtok: read,
                cache_write_per_mtok: write,
            },
        },
        None => ModelInfo {
            max_output_tokens: 8192,
            ..ModelInfo::new(model, 128_000)
        },
    }
}
