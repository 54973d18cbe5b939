//! A suite's results for people: the table printed at the end, a Markdown and a standalone
//! HTML report, and two result files side by side.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::runner::{CaseRun, Status, SuiteResults};

/// Totals of a set of runs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    /// Runs scored (skipped ones left out).
    pub runs: u32,
    /// Of which passed.
    pub passed: u32,
    /// Of which errored.
    pub errors: u32,
    /// Tokens in and out.
    pub input_tokens: u64,
    /// See `input_tokens`.
    pub output_tokens: u64,
    /// Cost, judge included.
    pub cost_usd: f64,
    /// Summed wall time of the runs.
    pub wall_ms: u64,
    /// Tool calls.
    pub tool_calls: u32,
    /// Stop hooks' rejections.
    pub stop_rejections: u32,
}

impl Totals {
    /// The totals of `runs`.
    pub fn of<'a>(runs: impl IntoIterator<Item = &'a CaseRun>) -> Totals {
        let mut t = Totals::default();
        for r in runs {
            if r.status == Status::Skipped {
                continue;
            }
            t.runs += 1;
            t.passed += u32::from(r.status == Status::Passed);
            t.errors += u32::from(r.status == Status::Error);
            t.input_tokens += r.input_tokens;
            t.output_tokens += r.output_tokens;
            t.cost_usd += r.cost_usd;
            t.wall_ms += r.wall_ms;
            t.tool_calls += r.tool_calls;
            t.stop_rejections += r.stop_rejections;
        }
        t
    }

    /// Passed over scored, 0..=1 (none scored: 0).
    pub fn pass_rate(&self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            f64::from(self.passed) / f64::from(self.runs)
        }
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "pass",
        Status::Failed => "FAIL",
        Status::Error => "ERROR",
        Status::Skipped => "skip",
    }
}

/// The runs grouped by case, in order.
fn by_case(results: &SuiteResults) -> Vec<(&str, Vec<&CaseRun>)> {
    let mut out: Vec<(&str, Vec<&CaseRun>)> = Vec::new();
    for r in &results.runs {
        match out.last_mut() {
            Some((name, runs)) if *name == r.case => runs.push(r),
            _ => out.push((r.case.as_str(), vec![r])),
        }
    }
    out
}

/// The table printed at the end of a suite.
pub fn table(results: &SuiteResults) -> String {
    let width = results
        .runs
        .iter()
        .map(|r| r.case.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:width$}  {:>3}  {:6}  {:>8}  {:>8}  {:>9}  {:>8}  {:>5}  {:>4}  why",
        "case", "run", "result", "in tok", "out tok", "cost $", "wall s", "tools", "stop"
    );
    for r in &results.runs {
        let why = r.reasons.first().cloned().unwrap_or_default();
        let why: String = why.chars().take(80).collect();
        let _ = writeln!(
            out,
            "{:width$}  {:>3}  {:6}  {:>8}  {:>8}  {:>9.4}  {:>8.1}  {:>5}  {:>4}  {why}",
            r.case,
            r.run,
            status_word(r.status),
            r.input_tokens,
            r.output_tokens,
            r.cost_usd,
            r.wall_ms as f64 / 1000.0,
            r.tool_calls,
            r.stop_rejections,
        );
    }
    let t = Totals::of(&results.runs);
    let _ = writeln!(
        out,
        "\n{} of {} runs passed ({:.1}%), {} errors; {} in / {} out tokens, ${:.4}, {:.1}s of runs in {:.1}s; model {}, judge {}",
        t.passed,
        t.runs,
        t.pass_rate() * 100.0,
        t.errors,
        t.input_tokens,
        t.output_tokens,
        t.cost_usd,
        t.wall_ms as f64 / 1000.0,
        results.wall_ms as f64 / 1000.0,
        results.model,
        results.judge,
    );
    out
}

/// The Markdown report: summary, one row per case, then each failed run's reasons and
/// the judge's reasoning.
pub fn markdown(results: &SuiteResults) -> String {
    let t = Totals::of(&results.runs);
    let mut out = format!(
        "# Eval: {}\n\nAgent `{}`, model {}, judge {}; started {}.\n\n**{} of {} runs passed ({:.1}%)**, {} errors; {} input / {} output tokens; ${:.4}; {:.1} s.\n\n| case | passed | runs | tokens in | tokens out | cost $ | mean wall s | tool calls | stop rejections |\n|---|---|---|---|---|---|---|---|---|\n",
        md(&results.suite),
        md(&results.agent),
        md(&results.model),
        md(&results.judge),
        results.started_at,
        t.passed,
        t.runs,
        t.pass_rate() * 100.0,
        t.errors,
        t.input_tokens,
        t.output_tokens,
        t.cost_usd,
        results.wall_ms as f64 / 1000.0,
    );
    for (case, runs) in by_case(results) {
        let c = Totals::of(runs.iter().copied());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.4} | {:.1} | {} | {} |",
            md(case),
            c.passed,
            c.runs,
            c.input_tokens,
            c.output_tokens,
            c.cost_usd,
            c.wall_ms as f64 / 1000.0 / f64::from(c.runs.max(1)),
            c.tool_calls,
            c.stop_rejections,
        );
    }
    let failed: Vec<&CaseRun> = results
        .runs
        .iter()
        .filter(|r| matches!(r.status, Status::Failed | Status::Error))
        .collect();
    if !failed.is_empty() {
        out.push_str("\n## Runs that did not pass\n");
        for r in failed {
            let _ = writeln!(
                out,
                "\n### {} (run {}): {}\n",
                md(&r.case),
                r.run,
                status_word(r.status)
            );
            for why in &r.reasons {
                let _ = writeln!(out, "- {}", md(why));
            }
            if let Some(v) = &r.verdict {
                let _ = writeln!(out, "\nJudge: {}", md(&v.reasoning));
            }
            if !r.answer.is_empty() {
                let _ = writeln!(
                    out,
                    "\nAnswer:\n\n> {}",
                    md(&r.answer).replace('\n', "\n> ")
                );
            }
        }
    }
    out
}

/// Markdown-safe text (table pipes and HTML escaped).
fn md(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A standalone HTML report (no script, no outside resource): the summary and every run.
pub fn html(results: &SuiteResults) -> String {
    let t = Totals::of(&results.runs);
    let mut rows = String::new();
    for r in &results.runs {
        let class = status_word(r.status).to_lowercase();
        let reasons: String = r
            .reasons
            .iter()
            .map(|w| format!("<li>{}</li>", html_escape(w)))
            .collect();
        let judge = r
            .verdict
            .as_ref()
            .map(|v| html_escape(&v.reasoning))
            .unwrap_or_default();
        let _ = writeln!(
            rows,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.1}</td><td>{}</td><td>{}</td><td><ul>{reasons}</ul><details><summary>answer and judge</summary><pre>{}</pre><p>{judge}</p></details></td></tr>",
            html_escape(&r.case),
            r.run,
            status_word(r.status),
            r.input_tokens,
            r.output_tokens,
            r.cost_usd,
            r.wall_ms as f64 / 1000.0,
            r.tool_calls,
            r.stop_rejections,
            html_escape(&r.answer),
        );
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Eval: {suite}</title>\n<style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .5rem;vertical-align:top}}tr.pass td:nth-child(3){{color:#060}}tr.fail td:nth-child(3),tr.error td:nth-child(3){{color:#a00;font-weight:bold}}pre{{white-space:pre-wrap;max-width:60rem}}</style></head>\n<body><h1>Eval: {suite}</h1>\n<p>Agent <code>{agent}</code>, model {model}, judge {judge}; started {started}.</p>\n<p><strong>{passed} of {runs} runs passed ({rate:.1}%)</strong>, {errors} errors; {tin} input / {tout} output tokens; ${cost:.4}; {wall:.1} s.</p>\n<table><thead><tr><th>case</th><th>run</th><th>result</th><th>tokens in</th><th>tokens out</th><th>cost $</th><th>wall s</th><th>tool calls</th><th>stop rejections</th><th>why</th></tr></thead><tbody>\n{rows}</tbody></table></body></html>\n",
        suite = html_escape(&results.suite),
        agent = html_escape(&results.agent),
        model = html_escape(&results.model),
        judge = html_escape(&results.judge),
        started = html_escape(&results.started_at),
        passed = t.passed,
        runs = t.runs,
        rate = t.pass_rate() * 100.0,
        errors = t.errors,
        tin = t.input_tokens,
        tout = t.output_tokens,
        cost = t.cost_usd,
        wall = results.wall_ms as f64 / 1000.0,
    )
}

/// Two results side by side: per case the pass rate of each and the change, then the
/// totals (cases only in one are shown with a dash for the other).
pub fn compare(a: &SuiteResults, b: &SuiteResults) -> String {
    let mut cases: BTreeMap<&str, (Option<Totals>, Option<Totals>)> = BTreeMap::new();
    for (case, runs) in by_case(a) {
        cases.entry(case).or_default().0 = Some(Totals::of(runs.iter().copied()));
    }
    for (case, runs) in by_case(b) {
        cases.entry(case).or_default().1 = Some(Totals::of(runs.iter().copied()));
    }
    let width = cases
        .keys()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let cell = |t: &Option<Totals>| match t {
        Some(t) if t.runs > 0 => format!("{}/{}", t.passed, t.runs),
        _ => "-".into(),
    };
    let mut out = format!(
        "A: {} ({}, {})\nB: {} ({}, {})\n\n{:width$}  {:>7}  {:>7}  {:>7}  {:>11}\n",
        a.suite,
        a.model,
        a.started_at,
        b.suite,
        b.model,
        b.started_at,
        "case",
        "A",
        "B",
        "change",
        "cost B-A $"
    );
    for (case, (ta, tb)) in &cases {
        let change = match (ta, tb) {
            (Some(x), Some(y)) if x.runs > 0 && y.runs > 0 => {
                let d = (y.pass_rate() - x.pass_rate()) * 100.0;
                if d.abs() < 0.05 {
                    "=".to_string()
                } else {
                    format!("{d:+.0} pts")
                }
            }
            _ => "-".into(),
        };
        let cost = match (ta, tb) {
            (Some(x), Some(y)) => format!("{:+.4}", y.cost_usd - x.cost_usd),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "{case:width$}  {:>7}  {:>7}  {change:>7}  {cost:>11}",
            cell(ta),
            cell(tb)
        );
    }
    // Totals over the cases both ran (so a case added or dropped does not move them).
    let both: Vec<&str> = cases
        .iter()
        .filter(|(_, (x, y))| x.is_some() && y.is_some())
        .map(|(c, _)| *c)
        .collect();
    let only = |r: &SuiteResults| -> Vec<CaseRun> {
        r.runs
            .iter()
            .filter(|x| both.contains(&x.case.as_str()))
            .cloned()
            .collect()
    };
    let (x, y) = (Totals::of(&only(a)), Totals::of(&only(b)));
    if both.len() < cases.len() {
        let _ = write!(
            out,
            "\nover the {} cases both ran ({} only in one):",
            both.len(),
            cases.len() - both.len()
        );
    }
    let _ = writeln!(
        out,
        "\npass rate {:.1}% -> {:.1}% ({:+.1} pts); tokens {} -> {}; cost ${:.4} -> ${:.4}; run time {:.1}s -> {:.1}s",
        x.pass_rate() * 100.0,
        y.pass_rate() * 100.0,
        (y.pass_rate() - x.pass_rate()) * 100.0,
        x.input_tokens + x.output_tokens,
        y.input_tokens + y.output_tokens,
        x.cost_usd,
        y.cost_usd,
        x.wall_ms as f64 / 1000.0,
        y.wall_ms as f64 / 1000.0,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(case: &str, n: u32, status: Status) -> CaseRun {
        CaseRun {
            case: case.into(),
            tags: vec![],
            run: n,
            status,
            reasons: if status == Status::Passed {
                vec![]
            } else {
                vec!["missing: the <pool>".into()]
            },
            answer: "<script>alert(1)</script>".into(),
            verdict: None,
            turns: 2,
            tool_calls: 3,
            tools: vec![],
            stop_rejections: 0,
            input_tokens: 100,
            output_tokens: 10,
            cost_usd: 0.01,
            wall_ms: 1500,
        }
    }

    fn results(runs: Vec<CaseRun>) -> SuiteResults {
        SuiteResults {
            suite: "suite".into(),
            agent: "investigator".into(),
            model: "m".into(),
            judge: "lexical".into(),
            started_at: "2026-11-30T00:00:00Z".into(),
            wall_ms: 3000,
            runs,
            warnings: vec![],
        }
    }

    #[test]
    fn reports_count_and_escape() {
        let r = results(vec![
            run("01_pool", 1, Status::Passed),
            run("01_pool", 2, Status::Failed),
            run("02_dns", 1, Status::Skipped),
        ]);
        let t = Totals::of(&r.runs);
        assert_eq!((t.runs, t.passed), (2, 1));
        assert!(
            table(&r).contains("1 of 2 runs passed (50.0%)"),
            "{}",
            table(&r)
        );
        let md = markdown(&r);
        assert!(md.contains("| 01_pool | 1 | 2 |"), "{md}");
        assert!(
            md.contains("&lt;script&gt;") && !md.contains("<script>"),
            "{md}"
        );
        let h = html(&r);
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !h.contains("<script>"));
    }

    #[test]
    fn compare_shows_per_case_changes() {
        let a = results(vec![
            run("01_pool", 1, Status::Failed),
            run("02_dns", 1, Status::Passed),
        ]);
        let b = results(vec![
            run("01_pool", 1, Status::Passed),
            run("03_new", 1, Status::Passed),
        ]);
        let c = compare(&a, &b);
        assert!(c.contains("01_pool      0/1      1/1  +100 pts"), "{c}");
        assert!(c.contains("02_dns       1/1        -        -"), "{c}");
        assert!(
            c.contains("over the 1 cases both ran (2 only in one):"),
            "{c}"
        );
        assert!(c.contains("pass rate 0.0% -> 100.0% (+100.0 pts)"), "{c}");
    }
}
