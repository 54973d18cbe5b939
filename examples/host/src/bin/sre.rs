//! `sre`: validate and run an agent home (a directory of declarative agents, skills, Python
//! tools, MCP connectors and hooks).
//!
//! ```text
//! sre validate DIR
//! sre run DIR --agent NAME [--script FILE] [--session ID] [--workspace PATH] [--json] TASK
//! sre run DIR --agent NAME --resume --session ID
//! ```

use std::process::ExitCode;

use clap::Parser;
use sre_host::cli::{Cli, main_with};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(main_with(cli))
}
