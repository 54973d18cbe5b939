//! Default model facts (context window, output cap, minimum cacheable prompt, prices, and
//! whether the model is a reasoning model) by model-name prefix. Defaults only: hosts
//! override any field through [`ModelInfo`] and the provider configurations, and the loop
//! itself never looks at vendor names.

use crate::model::{ModelInfo, Pricing};

/// One row: facts for every model name starting with `prefix`.
struct Row {
    prefix: &'static str,
    window: u64,
    max_output: u64,
    min_cache: u64,
    /// $/Mtok: input, output, cache read, cache write.
    prices: [f64; 4],
    /// A reasoning model (OpenAI o-series, gpt-5 family): see [`is_reasoning_model`].
    reasoning: bool,
}

const fn row(
    prefix: &'static str,
    window: u64,
    max_output: u64,
    min_cache: u64,
    prices: [f64; 4],
    reasoning: bool,
) -> Row {
    Row {
        prefix,
        window,
        max_output,
        min_cache,
        prices,
        reasoning,
    }
}

#[rustfmt::skip]
const TABLE: &[Row] = &[
    //  prefix               window     output  cache  $/Mtok: in, out, cache read, write  reasoning
    row("claude-opus-4",     200_000,   32_000, 1024, [15.0, 75.0, 1.5, 18.75], false),
    row("claude-sonnet-4",   200_000,   64_000, 1024, [3.0, 15.0, 0.3, 3.75], false),
    row("claude-haiku-4",    200_000,   64_000, 4096, [1.0, 5.0, 0.1, 1.25], false),
    row("claude-3-5-haiku",  200_000,    8_192, 2048, [0.8, 4.0, 0.08, 1.0], false),
    row("claude-3-7-sonnet", 200_000,   64_000, 1024, [3.0, 15.0, 0.3, 3.75], false),
    row("gpt-5",             400_000,  128_000, 1024, [1.25, 10.0, 0.125, 0.0], true),
    row("gpt-5-mini",        400_000,  128_000, 1024, [0.25, 2.0, 0.025, 0.0], true),
    row("gpt-5-nano",        400_000,  128_000, 1024, [0.05, 0.4, 0.005, 0.0], true),
    row("gpt-4.1",         1_047_576,   32_768, 1024, [2.0, 8.0, 0.5, 0.0], false),
    row("gpt-4o",            128_000,   16_384, 1024, [2.5, 10.0, 1.25, 0.0], false),
    row("o1",                200_000,  100_000, 1024, [15.0, 60.0, 7.5, 0.0], true),
    row("o3",                200_000,  100_000, 1024, [2.0, 8.0, 0.5, 0.0], true),
    row("o3-mini",           200_000,  100_000, 1024, [1.1, 4.4, 0.55, 0.0], true),
    row("o4-mini",           200_000,  100_000, 1024, [1.1, 4.4, 0.275, 0.0], true),
];

fn lookup(model: &str) -> Option<&'static Row> {
    TABLE
        .iter()
        .filter(|row| model.starts_with(row.prefix))
        .max_by_key(|row| row.prefix.len())
}

/// Facts for `model`: the longest matching prefix of the table, else a conservative
/// default (128k window, 8k output, 1024-token cache minimum, unknown prices as zero).
pub fn model_info(model: &str) -> ModelInfo {
    match lookup(model) {
        Some(r) => ModelInfo {
            name: model.to_string(),
            context_window: r.window,
            max_output_tokens: r.max_output,
            min_cacheable_tokens: r.min_cache,
            pricing: Pricing {
                input_per_mtok: r.prices[0],
                output_per_mtok: r.prices[1],
                cache_read_per_mtok: r.prices[2],
                cache_write_per_mtok: r.prices[3],
            },
        },
        None => ModelInfo {
            max_output_tokens: 8192,
            ..ModelInfo::new(model, 128_000)
        },
    }
}

/// Whether `model` is a reasoning model (o1, o3, o4-mini, the gpt-5 family). Their Chat
/// Completions requests need `max_completion_tokens` instead of `max_tokens` (which they
/// reject), take `developer` instead of `system` messages and no sampling parameters; on
/// the Responses API they return encrypted reasoning to send back. Unknown models (e.g.
/// served by vLLM, llama.cpp, Ollama) are not.
pub fn is_reasoning_model(model: &str) -> bool {
    lookup(model).is_some_and(|r| r.reasoning)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_models_are_known_by_prefix() {
        for m in [
            "gpt-5",
            "gpt-5-mini",
            "gpt-5.1",
            "o1",
            "o3-mini",
            "o4-mini-2025-04-16",
        ] {
            assert!(is_reasoning_model(m), "{m}");
        }
        for m in [
            "gpt-4.1",
            "gpt-4o-mini",
            "claude-sonnet-4-5",
            "qwen3",
            "llama3",
        ] {
            assert!(!is_reasoning_model(m), "{m}");
        }
        assert_eq!(
            model_info("gpt-5-mini-2025-08-07").pricing.input_per_mtok,
            0.25
        );
        assert_eq!(model_info("unknown").context_window, 128_000);
    }
}
