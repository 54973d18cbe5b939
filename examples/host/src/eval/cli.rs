//! `sre eval DIR ...` and `sre eval compare A B`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::checks::Judge;
use super::report;
use super::runner::{EvalModel, EvalOptions, SuiteResults, run_suite};

/// `sre eval` arguments: a suite to run, or a comparison.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    /// Compare two results instead.
    #[command(subcommand)]
    pub compare: Option<EvalCommand>,
    /// The suite: a folder of cases (each a folder with a test_case.yaml).
    pub suite: Option<PathBuf>,
    /// The agent home whose agent is evaluated (with --agent); default: a plain
    /// investigator with the workspace tools.
    #[arg(long, requires = "agent")]
    pub home: Option<PathBuf>,
    /// The agent of --home to evaluate.
    #[arg(long, requires = "home")]
    pub agent: Option<String>,
    /// The model under test, from the configured provider (as SRE_MODEL); default: the
    /// environment's.
    #[arg(long, conflicts_with = "script")]
    pub model: Option<String>,
    /// Offline: a scripted model, a file for every case or a NAME looked up as
    /// scripts/NAME.yaml in each case, then in the suite.
    #[arg(long)]
    pub script: Option<String>,
    /// The judge of expected outputs: `lexical` (default: every quoted phrase of each
    /// element present), `env` (the configured provider's default model), `env:MODEL`, or
    /// `script:FILE` (a scripted judge, offline).
    #[arg(long, default_value = "lexical")]
    pub judge: String,
    /// Runs of each case.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Runs at once.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Only cases whose name contains this, or tagged so (repeatable).
    #[arg(long = "only", value_name = "NAME|TAG")]
    pub only: Vec<String>,
    /// Longest one run may take, in seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Where to write results.json, report.md and report.html (default
    /// `eval-results/<suite>-<time>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run the cases' live-only before_test/after_test commands (HolmesGPT's).
    #[arg(long)]
    pub live: bool,
    /// Run commands without namespaces (Landlock alone).
    #[arg(long)]
    pub no_namespaces: bool,
}

/// `sre eval compare`.
#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// Two results side by side (results.json files, or the folders holding them).
    Compare {
        /// The baseline.
        a: PathBuf,
        /// The candidate.
        b: PathBuf,
    },
}

/// The judge `spec` names.
pub fn judge_of(spec: &str) -> Result<Judge, String> {
    let model = |m: Option<&str>| -> Result<Judge, String> {
        let get = |k: &str| match (k, m) {
            ("SRE_MODEL", Some(m)) => Some(m.to_string()),
            _ => std::env::var(k).ok(),
        };
        sre_core::providers::from_env_with(get)
            .map_err(|e| e.to_string())?
            .map(Judge::Model)
            .ok_or_else(|| {
                "--judge env: no provider configured (ANTHROPIC_API_KEY, OPENAI_*, AZURE_OPENAI_*)"
                    .to_string()
            })
    };
    match spec.split_once(':') {
        _ if spec == "lexical" => Ok(Judge::Lexical),
        _ if spec == "env" => model(None),
        Some(("env", m)) if !m.is_empty() => model(Some(m)),
        Some(("script", file)) if !file.is_empty() => {
            let m = sre_core::ScriptedModel::from_file(file).map_err(|e| e.to_string())?;
            Ok(Judge::Model(std::sync::Arc::new(m)))
        }
        _ => Err(format!(
            "--judge {spec}: lexical, env, env:MODEL or script:FILE"
        )),
    }
}

fn load_results(path: &Path) -> Result<SuiteResults, String> {
    let file = if path.is_dir() {
        path.join("results.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not eval results: {e}", file.display()))
}

/// Write the results and reports into `out`.
pub fn write_reports(results: &SuiteResults, out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let json = serde_json::to_string_pretty(results).map_err(|e| e.to_string())?;
    for (name, text) in [
        ("results.json", json),
        ("report.md", report::markdown(results)),
        ("report.html", report::html(results)),
    ] {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

/// Run `sre eval`; exit status 0 when every scored run passed, 1 on an error of the suite
/// itself, 3 when some run did not pass.
pub async fn eval(args: EvalArgs) -> ExitCode {
    match eval_inner(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn eval_inner(args: EvalArgs) -> Result<ExitCode, String> {
    if let Some(EvalCommand::Compare { a, b }) = args.compare {
        let (a, b) = (load_results(&a)?, load_results(&b)?);
        print!("{}", report::compare(&a, &b));
        return Ok(ExitCode::SUCCESS);
    }
    let suite = args.suite.ok_or("give a suite folder (or `compare A B`)")?;
    let model = match (args.script, args.model) {
        (Some(s), _) => EvalModel::Script(s),
        (None, m) => EvalModel::Environment(m),
    };
    let mut options = EvalOptions::new(&suite, model);
    options.home = args.home.zip(args.agent);
    options.judge = judge_of(&args.judge)?;
    options.repeat = args.repeat.max(1);
    options.jobs = args.jobs.max(1);
    options.only = args.only;
    options.timeout = std::time::Duration::from_secs(args.timeout.max(1));
    options.live = args.live;
    options.namespaces = !args.no_namespaces;
    // Interrupted (Ctrl-C, SIGTERM): the runs under way are dropped, which kills their
    // commands' process groups, instead of the process dying with them still running.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let results = tokio::select! {
        r = run_suite(&options) => r?,
        _ = tokio::signal::ctrl_c() => return Err("interrupted: the runs under way were stopped".into()),
        _ = term.recv() => return Err("terminated: the runs under way were stopped".into()),
    };
    for w in &results.warnings {
        eprintln!("warning: {w}");
    }
    print!("{}", report::table(&results));
    let out = args.out.unwrap_or_else(|| {
        let name = suite
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "suite".into());
        PathBuf::from("eval-results").join(format!(
            "{name}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    });
    write_reports(&results, &out)?;
    println!("reports: {}", out.display());
    let totals = report::Totals::of(&results.runs);
    Ok(if totals.passed == totals.runs {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
