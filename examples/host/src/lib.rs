//! # sre-host
//!
//! The reference host of sre-harness: it turns an **agent home** (a directory of
//! declarative files: agents, skills, Python tools, MCP connectors, hooks) into running
//! agents, and the `sre` command drives it (`sre validate`, `sre run`).
//!
//! It lives under `examples/` because it is a user of the library crates, not one of them:
//! the satellites depend only on `sre-core`; this crate depends on all of them and
//! assembles what a Rust host would assemble by hand. Rust services and `sre-py` reuse it
//! as a library.
//!
//! ```
//! use sre_host::home::AgentHome;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Load and check the reference team: every error of the files at once, or the home.
//! let home = AgentHome::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../team"))
//!     .map_err(|errors| errors.to_string())?;
//! let monitor = home.agent("tls-monitor").ok_or("no tls-monitor")?;
//! assert_eq!(monitor.skills.as_deref(), Some(&["tls-audit".to_string()][..]));
//! assert!(home.python_tools.contains_key("check_tls_certificate"));
//! # Ok(())
//! # }
//! ```
//!
//! Running one is [`team::Team`]'s business (see its example), and the `sre` command's
//! ([`cli`]).

pub mod approvals_cli;
pub mod cli;
pub mod error;
pub mod eval;
pub mod home;
pub mod incident;
pub mod incident_cli;
pub mod progress;
pub mod python_tools;
pub mod remote;
pub mod replay_cli;
pub mod schedule;
pub mod serve;
pub mod skills;
pub mod store;
pub mod team;
pub mod telemetry;
pub mod world;

pub use error::HostError;
