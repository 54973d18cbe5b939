//! The home's Python tools as sre-tools' `PythonFunctionTool`s: one persistent, sandboxed
//! worker per tool (the `shell` tool's confinement), dependencies in a cached environment.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sre_core::Tool;
use sre_tools::{ParamSpec, ParamType, PythonFunctionSpec, PythonFunctionTool, Workspace};

use crate::error::HostError;
use crate::home::{self, PythonToolDef};

/// Default call timeout of a Python tool that does not set `timeout_seconds`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The tool for `def`, confined to `workspace` as `exec` says, with environments cached
/// under `cache`.
pub fn build(
    def: &PythonToolDef,
    workspace: &Workspace,
    cache: &Path,
    exec: sre_tools::ExecConfig,
) -> Result<Arc<dyn Tool>, HostError> {
    let mut spec = PythonFunctionSpec::new(&def.name, &def.description, &def.code)
        .timeout(def.timeout.unwrap_or(DEFAULT_TIMEOUT))
        .dependencies(def.dependencies.iter().cloned());
    for p in &def.parameters {
        spec = spec.param(ParamSpec {
            name: p.name.clone(),
            ty: param_type(p.ty),
            description: p.description.clone().unwrap_or_default(),
            required: p.required,
            default: p.default.clone(),
        });
    }
    let exec = sre_tools::ToolSet::new(workspace.clone())
        .exec_config(exec)
        .executor();
    let tool = PythonFunctionTool::new(spec, exec, cache).map_err(|e| {
        HostError::Assembly(format!(
            "Python tool `{}` ({}): {e}",
            def.name, def.location
        ))
    })?;
    Ok(Arc::new(tool))
}

fn param_type(t: home::ParamType) -> ParamType {
    match t {
        home::ParamType::String => ParamType::String,
        home::ParamType::Integer => ParamType::Integer,
        home::ParamType::Number => ParamType::Number,
        home::ParamType::Boolean => ParamType::Boolean,
        home::ParamType::Array => ParamType::Array,
        home::ParamType::Object => ParamType::Object,
    }
}
