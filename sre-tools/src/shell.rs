//! `shell` and `python`: both are thin argument layers over the one [`Executor`].

use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use sre_core::{ToolAnnotations, ToolContext, ToolError, ToolOutput, TypedTool};

use crate::error::Error;
use crate::exec::{ExecRequest, Executor};
use crate::files::blocking;
use crate::workspace::Access;

/// Arguments of `shell`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShellArgs {
    /// Bash command line, run with `bash -c` in the workspace root (or `cwd`).
    pub command: String,
    /// Working directory relative to the workspace root (default: the root).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Timeout in seconds (default 120).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub timeout_secs: Option<u64>,
}

/// `shell`: run a bash command.
#[derive(Clone, Debug)]
pub struct Shell {
    exec: Executor,
}

impl Shell {
    /// `shell` on `exec`.
    pub fn new(exec: Executor) -> Self {
        Shell { exec }
    }

    /// The executor (e.g. to query [`Executor::confinement`]).
    pub fn executor(&self) -> &Executor {
        &self.exec
    }
}

/// Resolve the working directory (path checks touch the disk: on the blocking pool).
async fn cwd(exec: &Executor, cwd: Option<&str>) -> Result<std::path::PathBuf, ToolError> {
    let ws = exec.workspace().clone();
    let cwd = cwd.unwrap_or(".").to_string();
    blocking(move || {
        let r = ws.resolve(&cwd, Access::Read)?;
        if !r.host.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "cwd `{}` is not a directory",
                r.rel
            )));
        }
        Ok(r.host)
    })
    .await
}

async fn run(
    exec: &Executor,
    req: ExecRequest,
    ctx: &ToolContext,
) -> Result<ToolOutput, ToolError> {
    let outcome = exec.run(req, &ctx.cancel).await?;
    let text = outcome.render();
    Ok(if outcome.success() {
        ToolOutput::ok(text)
    } else {
        ToolOutput::error(text)
    })
}

#[async_trait]
impl TypedTool for Shell {
    type Args = ShellArgs;

    fn name(&self) -> &str {
        "shell"
    }

    fn description(&self) -> &str {
        "Run a bash command in the workspace (cwd = workspace root; $WORKSPACE is its host path). jq, python3, \
         git, grep, awk, sed are available. Writes are allowed only inside writable mounts (enforced by the \
         kernel when the header says `sandbox: landlock`); $TMPDIR is a private temp dir. Long output keeps \
         its head and tail. Background processes are killed when the command ends; timeout default 120s."
    }

    fn annotations(&self) -> ToolAnnotations {
        // Arbitrary commands: may write, destroy, and reach the network.
        ToolAnnotations::unrestricted()
    }

    /// The longest timeout a call may ask for, and a minute for the kill and the output.
    fn deadline(&self) -> Option<std::time::Duration> {
        Some(self.exec.config().max_timeout + std::time::Duration::from_secs(60))
    }

    /// Read-only for a command line made only of readers (`grep`, `cut`, `sort -n`, ...,
    /// no file-writing redirection); see [`crate::readonly`].
    fn call_annotations(&self, input: &serde_json::Value) -> ToolAnnotations {
        match input.get("command").and_then(serde_json::Value::as_str) {
            Some(command) => crate::readonly::shell_call_annotations(command),
            None => ToolAnnotations::unrestricted(),
        }
    }

    async fn run(&self, args: ShellArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let mut req = ExecRequest::new(
            "bash",
            vec!["-c".into(), args.command],
            cwd(&self.exec, args.cwd.as_deref()).await?,
        );
        req.timeout = args.timeout_secs.map(Duration::from_secs);
        run(&self.exec, req, ctx).await
    }
}

/// Arguments of `python`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PythonArgs {
    /// Python 3 source to run. Give either code or file.
    #[serde(default)]
    pub code: Option<String>,
    /// A .py file in the workspace to run instead of code.
    #[serde(default)]
    pub file: Option<String>,
    /// Command-line arguments (`sys.argv[1:]`).
    #[serde(default)]
    pub args: Vec<String>,
    /// Working directory relative to the workspace root (default: the root).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Timeout in seconds (default 120).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub timeout_secs: Option<u64>,
}

/// `python`: run a Python snippet or file with the same controls as `shell`.
#[derive(Clone, Debug)]
pub struct Python {
    exec: Executor,
    interpreter: String,
}

impl Python {
    /// `python` on `exec`, using `python3` from `PATH`.
    pub fn new(exec: Executor) -> Self {
        Python {
            exec,
            interpreter: "python3".into(),
        }
    }

    /// Use another interpreter.
    pub fn interpreter(mut self, program: impl Into<String>) -> Self {
        self.interpreter = program.into();
        self
    }
}

#[async_trait]
impl TypedTool for Python {
    type Args = PythonArgs;

    fn name(&self) -> &str {
        "python"
    }

    fn description(&self) -> &str {
        "Run Python 3 code (or a .py file from the workspace) with the same sandbox, timeout and output \
         limits as shell. cwd is the workspace root; print() what you want to see. Standard library only \
         unless the host installed more."
    }

    fn annotations(&self) -> ToolAnnotations {
        // Arbitrary commands: may write, destroy, and reach the network.
        ToolAnnotations::unrestricted()
    }

    /// The longest timeout a call may ask for, and a minute for the kill and the output.
    fn deadline(&self) -> Option<std::time::Duration> {
        Some(self.exec.config().max_timeout + std::time::Duration::from_secs(60))
    }

    async fn run(&self, args: PythonArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let dir = cwd(&self.exec, args.cwd.as_deref()).await?;
        let mut req = match (args.code, args.file) {
            (Some(code), None) => {
                let mut argv = vec!["-".to_string()];
                argv.extend(args.args);
                let mut req = ExecRequest::new(self.interpreter.clone(), argv, dir);
                req.stdin = Some(code.into_bytes());
                req
            }
            (None, Some(file)) => {
                let ws = self.exec.workspace().clone();
                let host = blocking(move || {
                    let r = ws.resolve(&file, Access::Read)?;
                    if !r.host.is_file() {
                        return Err(Error::NotFound { path: r.rel });
                    }
                    Ok(r.host)
                })
                .await?;
                let mut argv = vec![host.to_string_lossy().into_owned()];
                argv.extend(args.args);
                ExecRequest::new(self.interpreter.clone(), argv, dir)
            }
            _ => {
                return Err(ToolError::Invalid(
                    "give exactly one of `code` or `file`".into(),
                ));
            }
        };
        req.timeout = args.timeout_secs.map(Duration::from_secs);
        run(&self.exec, req, ctx).await
    }
}
