//! Estimator error against a real tokenizer (o200k_base) on a mixed corpus: code, logs,
//! JSON and prose. `cargo test -p sre-context --test estimator -- --nocapture` prints it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests may fail loudly
#![cfg(feature = "tiktoken")]

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use sre_context::{Bpe, BudgetConfig, Estimator, Heuristic, TokenBudget, TokenCounter};
use sre_core::{BudgetView, ContextBudget, Message, ModelInfo, ModelRequest};

fn code() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = ["../sre-core/src", "src", "src/layers"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn logs() -> Vec<String> {
    let mut rng = Rng(42);
    let levels = ["INFO", "WARN", "ERROR", "DEBUG"];
    let services = ["checkout-api", "payments", "cart", "gateway"];
    (0..12)
        .map(|doc| {
            let mut out = String::new();
            for i in 0..60 {
                let r = rng.next();
                match doc % 3 {
                    0 => {
                        let _ = writeln!(
                            out,
                            "2024-05-02T14:{:02}:{:02}.{:03}Z {} {} pool=main active={} idle={} waiters={} msg=\"timeout acquiring connection after 30000 ms\" trace_id={:016x}",
                            i % 60,
                            r % 60,
                            r % 1000,
                            levels[(r % 4) as usize],
                            services[(r >> 8) as usize % 4],
                            r % 11,
                            r % 3,
                            r % 40,
                            r
                        );
                    }
                    1 => {
                        let _ = writeln!(
                            out,
                            "10.0.{}.{} - - [02/May/2024:14:{:02}:{:02} +0000] \"POST /api/v1/checkout/{} HTTP/1.1\" {} {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" {}ms",
                            r % 255,
                            (r >> 8) % 255,
                            i % 60,
                            r % 60,
                            r % 100000,
                            [200, 201, 503, 504][(r % 4) as usize],
                            r % 5000,
                            r % 3000
                        );
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "May  2 14:{:02}:{:02} ip-10-0-{}-{} kernel: [{}.{:06}] Out of memory: Killed process {} (java) total-vm:{}kB, anon-rss:{}kB",
                            i % 60,
                            r % 60,
                            r % 255,
                            (r >> 9) % 255,
                            r % 100000,
                            r % 1000000,
                            r % 65536,
                            r % 9000000,
                            r % 4000000
                        );
                    }
                }
            }
            out
        })
        .collect()
}

fn json() -> Vec<String> {
    let mut rng = Rng(7);
    (0..10)
        .map(|doc| {
            let items: Vec<serde_json::Value> = (0..25)
                .map(|i| {
                    let r = rng.next();
                    let phase = ["Running", "Pending", "CrashLoopBackOff"][(r % 3) as usize];
                    serde_json::json!({
                        "metadata": {"name": format!("checkout-api-{:x}-{}", r % 0xfffff, i), "namespace": "payments",
                                     "labels": {"app": "checkout-api", "pod-template-hash": format!("{:x}", r % 0xffffffff)}},
                        "status": {"phase": phase,
                                   "restartCount": r % 17, "podIP": format!("10.1.{}.{}", r % 255, (r >> 8) % 255),
                                   "startTime": format!("2024-05-02T14:{:02}:{:02}Z", i % 60, r % 60)},
                        "metrics": {"cpu_millicores": r % 2000, "memory_bytes": r % 4_000_000_000u64, "p99_ms": (r % 5000) as f64 / 3.0}
                    })
                })
                .collect();
            if doc % 2 == 0 {
                serde_json::to_string_pretty(&items).unwrap()
            } else {
                serde_json::to_string(&items).unwrap()
            }
        })
        .collect()
}

fn prose() -> Vec<String> {
    let text = include_str!("corpus/prose.md");
    text.split("\n## ").map(|s| s.to_string()).collect()
}

#[test]
fn heuristic_error_against_o200k_on_a_mixed_corpus() {
    let bpe = Bpe::o200k().unwrap();
    let h = Heuristic::default();
    let mut table = String::from(
        "\n| corpus | docs | bytes | o200k tokens | heuristic tokens | aggregate error | mean abs error per doc | worst doc | bytes/4 error |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut all = (0u64, 0u64, 0u64);
    for (name, docs) in [
        ("code", code()),
        ("logs", logs()),
        ("json", json()),
        ("prose", prose()),
    ] {
        let mut sum_t = 0u64;
        let mut sum_h = 0u64;
        let mut bytes = 0u64;
        let mut abs = Vec::new();
        for d in &docs {
            let t = bpe.count(d);
            let e = h.count(d);
            sum_t += t;
            sum_h += e;
            bytes += d.len() as u64;
            abs.push((e as f64 - t as f64).abs() / t.max(1) as f64);
        }
        let agg = sum_h as f64 / sum_t as f64 - 1.0;
        let mean = abs.iter().sum::<f64>() / abs.len() as f64;
        let worst = abs.iter().cloned().fold(0.0, f64::max);
        let ratio = (bytes as f64 / 4.0) / sum_t as f64 - 1.0;
        let _ = writeln!(
            table,
            "| {name} | {} | {bytes} | {sum_t} | {sum_h} | {:+.1}% | {:.1}% | {:.1}% | {:+.1}% |",
            docs.len(),
            100.0 * agg,
            100.0 * mean,
            100.0 * worst,
            100.0 * ratio
        );
        all.0 += bytes;
        all.1 += sum_t;
        all.2 += sum_h;
        assert!(
            agg.abs() < 0.15,
            "{name}: aggregate error {agg:+.3}\n{table}"
        );
        assert!(
            worst < 0.30,
            "{name}: worst document error {worst:.3}\n{table}"
        );
    }
    let agg = all.2 as f64 / all.1 as f64 - 1.0;
    let _ = writeln!(
        table,
        "| all | | {} | {} | {} | {:+.1}% | | | {:+.1}% |",
        all.0,
        all.1,
        all.2,
        100.0 * agg,
        100.0 * ((all.0 as f64 / 4.0) / all.1 as f64 - 1.0)
    );
    println!("{table}");
    assert!(agg.abs() < 0.08, "overall error {agg:+.3}\n{table}");
}

#[test]
fn bpe_counts_match_known_values() {
    let bpe = Bpe::o200k().unwrap();
    assert_eq!(bpe.count(""), 0);
    assert_eq!(bpe.count("hello world"), 2);
    // Long pathological input is counted (chunked) without panicking.
    let spaces = " ".repeat(100_000);
    assert!(bpe.count(&spaces) > 0);
}

/// The grid search that calibrated `Heuristic::default()`: the shipped parameters must stay
/// within one point of the best worst-case error the grid finds on the corpus (run with
/// `--nocapture` to see the top candidates).
#[test]
fn shipped_calibration_is_the_best_of_the_grid() {
    let bpe = Bpe::o200k().unwrap();
    let corpora = [code(), logs(), json(), prose()];
    let truth: Vec<u64> = corpora
        .iter()
        .map(|d| d.iter().map(|x| bpe.count(x)).sum())
        .collect();
    let mut best = Vec::new();
    for pp in [1.6, 2.0, 2.5, 3.0, 3.5] {
        for sw in [5usize, 6, 7, 8, 10] {
            for lp in [2.5, 3.0, 4.0, 5.0] {
                let h = Heuristic {
                    letters_per_token: lp,
                    short_word: sw,
                    punct_per_token: pp,
                    scale: 1.0,
                };
                let est: Vec<u64> = corpora
                    .iter()
                    .map(|d| d.iter().map(|x| h.count(x)).sum())
                    .collect();
                let errs: Vec<f64> = est
                    .iter()
                    .zip(&truth)
                    .map(|(e, t)| *e as f64 / *t as f64 - 1.0)
                    .collect();
                let worst = errs.iter().map(|e| e.abs()).fold(0.0, f64::max);
                best.push((worst, pp, sw, lp, errs));
            }
        }
    }
    best.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    for b in best.iter().take(8) {
        println!("{b:?}");
    }
    let d = Heuristic::default();
    let shipped = best
        .iter()
        .find(|(_, pp, sw, lp, _)| {
            *pp == d.punct_per_token && *sw == d.short_word && *lp == d.letters_per_token
        })
        .expect("the shipped parameters are on the grid");
    assert!(
        shipped.0 <= best[0].0 + 0.01,
        "shipped heuristic worst error {:.3} vs best {:.3} ({:?})",
        shipped.0,
        best[0].0,
        best[0]
    );
}

/// Texts over 64 KiB are estimated from samples (the heuristic over the whole text, scaled
/// by o200k / heuristic on eight 4 KiB samples): close to the exact count on each corpus
/// and on a mix of them.
#[test]
fn sampled_estimates_of_large_texts_stay_close_to_o200k() {
    let bpe = Bpe::o200k().unwrap();
    let estimator = Estimator::tokenizer();
    let (code, logs, json) = (code().concat(), logs().concat(), json().concat());
    let mixed: String = code
        .lines()
        .take(2500)
        .zip(logs.lines().cycle())
        .zip(json.lines().cycle())
        .map(|((c, l), j)| format!("{c}\n{l}\n{j}\n"))
        .collect();
    let mut report = String::new();
    for (name, text) in [
        ("code", &code),
        ("logs", &logs),
        ("json", &json),
        ("mixed", &mixed),
    ] {
        assert!(text.len() > 64 * 1024, "{name}: {} bytes", text.len());
        let exact = bpe.count(text);
        let sampled = estimator.text(text);
        let err = sampled as f64 / exact as f64 - 1.0;
        let _ = writeln!(
            report,
            "{name}: {} bytes, o200k {exact}, sampled {sampled} ({:+.1}%)",
            text.len(),
            100.0 * err
        );
        assert!(err.abs() < 0.06, "{name}: {err:+.3}\n{report}");
        // Deterministic: the same text gives the same count (no cache involved).
        assert_eq!(Estimator::tokenizer().text(text), sampled);
    }
    println!("{report}");
    // Small texts are still counted exactly.
    let small = &logs[..60 * 1024];
    assert_eq!(estimator.text(small), bpe.count(small));
}

/// The budget's (synchronous) assessment of a request carrying a 4 MB log no longer runs
/// o200k over all of it on the runtime thread: a ticker on the same current-thread runtime
/// is held up for a fraction of what the exact count takes.
#[test]
fn assessing_a_multi_megabyte_prompt_does_not_stall_the_runtime_thread() {
    let text: String = logs().concat().repeat(6);
    assert!(text.len() > 600_000);
    let started = Instant::now();
    let exact = Bpe::o200k().unwrap().count(&text);
    let exact_took = started.elapsed();
    let budget = TokenBudget::new(BudgetConfig::default()).unwrap();
    let request = ModelRequest {
        messages: vec![Message::user(text.clone())],
        ..ModelRequest::default()
    };
    let info = ModelInfo::new("test", 200_000);
    let view = BudgetView {
        info: &info,
        request: &request,
        last_reported: None,
    };
    let rt = common::current_thread();
    let (verdict, took, worst) =
        rt.block_on(common::lateness_during(async { budget.assess(&view) }));
    println!(
        "o200k over {} bytes: {exact_took:?}; assess: {took:?}, worst ticker lateness {worst:?} ({verdict:?})",
        text.len()
    );
    assert!(
        worst * 4 < exact_took,
        "the runtime thread stalled for {worst:?} (exact count takes {exact_took:?})"
    );
    let estimated = budget.estimator().text(&text);
    let err = estimated as f64 / exact as f64 - 1.0;
    assert!(err.abs() < 0.06, "estimate {estimated} vs o200k {exact}");
}
