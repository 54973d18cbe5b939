//! Measuring investigation quality: `sre eval` runs a suite of cases (HolmesGPT's open
//! fixture format, plus cases on a real workspace), scores each run with deterministic
//! checks and a judge, and reports pass rates, tokens, cost and time; two reports compare
//! side by side.
//!
//! ```no_run
//! use sre_host::eval::{EvalModel, EvalOptions, report, run_suite};
//! # async fn f() -> Result<(), String> {
//! let mut options = EvalOptions::new("examples/evals", EvalModel::Script("right".into()));
//! options.jobs = 4;
//! let results = run_suite(&options).await?;
//! println!("{}", report::table(&results));
//! # Ok(()) }
//! ```

pub mod case;
pub mod checks;
pub mod cli;
pub mod mock;
pub mod report;
pub mod runner;

pub use checks::Judge;
pub use runner::{CaseRun, EvalModel, EvalOptions, Status, SuiteResults, run_suite};
