//! Assembling every tool for a workspace.

use std::sync::Arc;

use sre_core::{Tool, typed_tool};

use crate::error::{Error, Result};
use crate::exec::{ExecConfig, Executor};
use crate::files::{EditFile, ReadFile, ReadLimits, WriteFile};
use crate::find::Find;
use crate::git::{Git, GitCheckout, GitDiff, GitLiveCommit, GitLog};
use crate::list::List;
use crate::prefix::PrefixReportTool;
use crate::search::{Grep, GrepLimits};
use crate::shell::{Python, Shell};
use crate::workspace::Workspace;

/// Which tools to build and how. [`Workspace::tools`] is `ToolSet::new(ws).build()`.
#[derive(Clone, Debug)]
pub struct ToolSet {
    ws: Workspace,
    exec: ExecConfig,
    read: ReadLimits,
    grep: GrepLimits,
    read_only: bool,
    process_tools: bool,
    prefix_report: bool,
}

impl ToolSet {
    /// Every tool with default settings.
    pub fn new(ws: Workspace) -> Self {
        ToolSet {
            ws,
            exec: ExecConfig::default(),
            read: ReadLimits::default(),
            grep: GrepLimits::default(),
            read_only: false,
            process_tools: true,
            prefix_report: false,
        }
    }

    /// Configure the executor behind `shell`, `python` and the git tools.
    pub fn exec_config(mut self, config: ExecConfig) -> Self {
        self.exec = config;
        self
    }

    /// Limits of `read_file`.
    pub fn read_limits(mut self, limits: ReadLimits) -> Self {
        self.read = limits;
        self
    }

    /// Limits of `grep`.
    pub fn grep_limits(mut self, limits: GrepLimits) -> Self {
        self.grep = limits;
        self
    }

    /// Leave out `write_file` and `edit_file`.
    pub fn read_only(mut self, on: bool) -> Self {
        self.read_only = on;
        self
    }

    /// Include `shell`, `python` and the git tools (default true).
    pub fn process_tools(mut self, on: bool) -> Self {
        self.process_tools = on;
        self
    }

    /// Include `prefix_report` (prompt-cache diagnostics on request bodies; default false,
    /// as few agents investigate model requests).
    pub fn prefix_report(mut self, on: bool) -> Self {
        self.prefix_report = on;
        self
    }

    /// The executor these settings give.
    pub fn executor(&self) -> Executor {
        Executor::new(self.ws.clone(), self.exec.clone())
    }

    /// Build the tools, sorted by name.
    pub fn build(self) -> Result<Vec<Arc<dyn Tool>>> {
        let ws = self.ws.clone();
        let wrap = |r: sre_core::Result<Arc<dyn Tool>>| {
            r.map_err(|e| Error::InvalidArgument(e.to_string()))
        };
        let mut tools = vec![
            wrap(typed_tool(ReadFile::new(ws.clone()).with_limits(self.read)))?,
            wrap(typed_tool(Grep::new(ws.clone()).with_limits(self.grep)))?,
            wrap(typed_tool(Find::new(ws.clone())))?,
            wrap(typed_tool(List::new(ws.clone())))?,
        ];
        if self.prefix_report {
            tools.push(wrap(typed_tool(PrefixReportTool::new(ws.clone())))?);
        }
        if !self.read_only {
            tools.push(wrap(typed_tool(WriteFile::new(ws.clone())))?);
            tools.push(wrap(typed_tool(EditFile::new(ws.clone())))?);
        }
        if self.process_tools {
            let exec = self.executor();
            let git = Git::new(exec.with_capture(192 * 1024, 64 * 1024));
            tools.push(wrap(typed_tool(Shell::new(exec.clone())))?);
            tools.push(wrap(typed_tool(Python::new(exec)))?);
            tools.push(wrap(typed_tool(GitLiveCommit(git.clone())))?);
            tools.push(wrap(typed_tool(GitLog(git.clone())))?);
            tools.push(wrap(typed_tool(GitDiff(git.clone())))?);
            tools.push(wrap(typed_tool(GitCheckout(git)))?);
        }
        tools.sort_by(|a, b| a.spec().name.cmp(&b.spec().name));
        Ok(tools)
    }
}

impl Workspace {
    /// Every tool for this workspace with default settings (see [`ToolSet`] to configure).
    pub fn tools(&self) -> Result<Vec<Arc<dyn Tool>>> {
        ToolSet::new(self.clone()).build()
    }
}
