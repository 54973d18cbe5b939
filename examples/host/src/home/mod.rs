//! Loading and validating an **agent home**: a directory of declarative files (agents,
//! skills, Python tools, MCP connectors, hooks, the agents' world) turned into a typed,
//! checked [`AgentHome`]. Pure data: nothing is started here.
//!
//! ```no_run
//! use sre_host::home::AgentHome;
//!
//! match AgentHome::load("examples/team") {
//!     Ok(home) => {
//!         for w in &home.warnings {
//!             eprintln!("{w}");
//!         }
//!         println!("{} agents", home.agents.len());
//!     }
//!     // Every error found, each with file:line:column, the field and a help line.
//!     Err(errors) => eprintln!("{errors}"),
//! }
//! ```
//!
//! What is read (see the crate README, "The agent home", for every field):
//! - every `*.yaml`/`*.yml` at any depth (hidden folders other than `.agents`/`.claude`,
//!   `node_modules`, `target` skipped), multi-document, dispatched by `kind` ([`KINDS`]);
//!   files without a `kind` are data (e.g. a topology file) and are skipped, except an
//!   sre-mcp config (`connectors: [...]`);
//! - `SKILL.md` folders under any `skills/` folder (`skills/`, `.agents/skills/`,
//!   `.claude/skills/`);
//! - Claude Code `settings.json` at the root or in `.claude/` (global hooks).
//!
//! Every error is collected (not only the first) and names file, line, column and field,
//! with a "did you mean" for near misses; fields that cannot be honoured yet are warnings
//! naming them. Bad input never panics (the loader is fuzzed).

mod agent;
mod builtin;
mod connector;
mod diag;
mod discover;
mod document;
mod fields;
mod hooks;
mod plan;
mod schedule;
mod secret;
mod skill;
mod tool;
mod validate;
mod world;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sre_hooks::HookConfig;

pub use agent::{AGENT_FIELDS, AgentDef, AgentType, UNHONOURED_AGENT_FIELDS};
pub use builtin::{BUILTIN_TOOLS, COMMAND_TOOL_NAMES, WORKSPACE_TOOLS, aliases_of, builtin_tool};
pub use connector::{ConnectorDef, ConnectorShape};
pub use diag::{Diagnostic, HomeErrors, MAX_ERRORS, Severity, did_you_mean};
pub use document::KINDS;
pub use hooks::MAX_HOOK_FILE;
pub use plan::{Fit, PLAN_FIELDS, ResponsePlanDef, choose};
pub use schedule::{SCHEDULE_FIELDS, ScheduledTaskDef};
pub use secret::{names_a_credential, url_userinfo};
pub use skill::SkillDef;
pub use tool::{ParamDef, ParamType, PythonToolDef};
pub use world::{RepoSource, RepositoryDef, WorldDef};
pub use yaml::Pos;

use diag::{Sink, Source};

/// Largest YAML or `SKILL.md` file read.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Where something is defined: a file (relative to the home's root) and a position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file, relative to the home's root.
    pub file: PathBuf,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl Location {
    pub(crate) fn new(src: &Source, pos: Pos) -> Self {
        Location {
            file: src.rel.clone(),
            line: pos.line,
            column: pos.column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A tool an agent or skill lists, resolved.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ToolRef {
    /// A built-in tool, by our name ([`BUILTIN_TOOLS`]; `Bash` is `shell`).
    Builtin(String),
    /// A Python tool of the home.
    Python(String),
    /// One tool of a connector (`mcp__<connector>__<tool>`).
    Mcp {
        /// Connector name.
        connector: String,
        /// The server's tool name.
        tool: String,
    },
}

impl ToolRef {
    /// The name the model sees.
    pub fn name(&self) -> String {
        match self {
            ToolRef::Builtin(n) | ToolRef::Python(n) => n.clone(),
            ToolRef::Mcp { connector, tool } => format!("mcp__{connector}__{tool}"),
        }
    }
}

/// A document read but not used yet (`IncidentFilter`, `ScheduledTask`): kept for the
/// incidents feature.
#[derive(Clone, Debug, PartialEq)]
pub struct UnusedDocument {
    /// Its `kind`.
    pub kind: String,
    /// `metadata.name` or `spec.name`, if any.
    pub name: Option<String>,
    /// The whole document.
    pub value: serde_json::Value,
    /// Where it is.
    pub location: Location,
}

/// A loaded, checked agent home.
#[derive(Clone, Debug)]
pub struct AgentHome {
    /// The home's folder (absolute).
    pub root: PathBuf,
    /// Agents by name.
    pub agents: BTreeMap<String, AgentDef>,
    /// Skills by name (`SKILL.md` folders and `SkillConfiguration`s).
    pub skills: BTreeMap<String, SkillDef>,
    /// Python tools by name.
    pub python_tools: BTreeMap<String, PythonToolDef>,
    /// MCP connectors by name.
    pub connectors: BTreeMap<String, ConnectorDef>,
    /// Hooks of every agent (`HookConfiguration` documents, `settings.json`).
    pub global_hooks: HookConfig,
    /// The agents' world (`Workspace`).
    pub world: WorldDef,
    /// Response plans (`IncidentFilter`), in the order they are tried.
    pub plans: Vec<ResponsePlanDef>,
    /// Scheduled tasks (`ScheduledTask`).
    pub schedules: Vec<ScheduledTaskDef>,
    /// Documents kept for later features.
    pub unused_documents: Vec<UnusedDocument>,
    /// Warnings and notes (the home loads).
    pub warnings: Vec<Diagnostic>,
}

/// What the documents gave, before cross-checks.
#[derive(Default)]
pub(crate) struct Loaded {
    pub agents: Vec<agent::AgentDraft>,
    pub skills: Vec<skill::SkillDraft>,
    pub tools: Vec<tool::ToolDraft>,
    pub connectors: Vec<connector::ConnectorDraft>,
    pub global_hooks: HookConfig,
    pub world: WorldDef,
    pub plans: Vec<plan::PlanDraft>,
    pub schedules: Vec<schedule::ScheduleDraft>,
    pub unused: Vec<UnusedDocument>,
}

impl AgentHome {
    /// Load and check the home at `dir`. On failure, every error found.
    pub fn load(dir: impl AsRef<Path>) -> Result<AgentHome, HomeErrors> {
        let dir = dir.as_ref();
        let root = match std::fs::canonicalize(dir) {
            Ok(r) if r.is_dir() => r,
            Ok(_) => return Err(single(dir, "not a folder")),
            Err(e) => return Err(single(dir, &e.to_string())),
        };
        let found = discover::discover(&root);
        let mut out = Sink::default();
        let mut sources: Vec<Source> = Vec::new();
        let mut loaded = Loaded::default();
        let rel = |p: &Path| p.strip_prefix(&root).unwrap_or(p).to_path_buf();

        for (d, why) in &found.unreadable {
            out.push(Diagnostic::new(
                Severity::Error,
                rel(d),
                Pos::default(),
                "",
                format!("cannot read the folder: {why}"),
            ));
        }
        if found.truncated {
            out.push(Diagnostic::new(
                Severity::Warning,
                ".",
                Pos::default(),
                "",
                format!(
                    "the home is larger than the search limits ({} files, {} levels): some files were not read",
                    discover::MAX_FILES,
                    discover::MAX_DEPTH
                ),
            ));
        }
        for path in &found.yaml {
            let Some(src) = read_source(&root, path, &mut out) else {
                continue;
            };
            let (docs, errors) = yaml::parse(&src.text, 0);
            for e in errors {
                out.error(&src, e.pos, "", e.message);
            }
            let id = sources.len();
            for doc in &docs {
                document::load_document(doc, id, &src, &mut out, &mut loaded);
            }
            sources.push(src);
        }
        for dir in &found.skill_dirs {
            let Some(src) = read_source(&root, &dir.join("SKILL.md"), &mut out) else {
                continue;
            };
            let id = sources.len();
            if let Some(s) = skill::parse_skill_md(dir, id, &src, &mut out) {
                loaded.skills.push(s);
            }
            sources.push(src);
        }
        for stray in &found.stray_skill_md {
            out.push(Diagnostic::new(
                Severity::Warning,
                rel(stray),
                Pos::default(),
                "",
                "SKILL.md outside a `skills/` folder is not loaded",
            ))
            .help("move its folder under `skills/` (or `.agents/skills/`, `.claude/skills/`)");
        }
        for path in &found.settings {
            let Some(src) = read_source(&root, path, &mut out) else {
                continue;
            };
            let cfg = hooks::parse_settings(&src, &mut out);
            loaded.global_hooks.merge(cfg);
            sources.push(src);
        }

        let resolved = validate::resolve(
            loaded.agents,
            loaded.skills,
            loaded.tools,
            loaded.connectors,
            &sources,
            &mut out,
        );
        let plans = check_plans(loaded.plans, &resolved.agents, &sources, &mut out);
        let schedules = check_schedules(loaded.schedules, &resolved.agents, &sources, &mut out);
        out.mask_secrets();
        let by_place = |d: &Diagnostic| (d.file.clone(), d.line, d.column);
        out.errors.sort_by_key(by_place);
        out.warnings.sort_by_key(by_place);
        if out.overflowed() {
            out.warnings.push(Diagnostic::new(
                Severity::Warning,
                ".",
                Pos::default(),
                "",
                format!("more than {MAX_ERRORS} diagnostics: the last ones are not shown"),
            ));
        }
        if !out.errors.is_empty() {
            return Err(HomeErrors {
                root,
                errors: out.errors,
                warnings: out.warnings,
            });
        }
        Ok(AgentHome {
            root,
            agents: resolved.agents,
            skills: resolved.skills,
            python_tools: resolved.tools,
            connectors: resolved.connectors,
            global_hooks: loaded.global_hooks,
            world: loaded.world,
            plans,
            schedules,
            unused_documents: loaded.unused,
            warnings: out.warnings,
        })
    }

    /// The agent called `name`.
    pub fn agent(&self, name: &str) -> Option<&AgentDef> {
        self.agents.get(name)
    }

    /// Every hook that applies to agent `name`: the global ones, then its own.
    pub fn hooks_for(&self, name: &str) -> HookConfig {
        let mut cfg = HookConfig {
            global: self.global_hooks.global.clone(),
            ..HookConfig::default()
        };
        if let Some(a) = self.agents.get(name) {
            cfg.merge(a.hooks.clone());
        }
        cfg
    }
}

fn single(dir: &Path, message: &str) -> HomeErrors {
    HomeErrors {
        root: dir.to_path_buf(),
        errors: vec![Diagnostic::new(
            Severity::Error,
            dir,
            Pos::default(),
            "",
            format!("cannot load the agent home: {message}"),
        )],
        warnings: Vec::new(),
    }
}

/// Read a file of the home (size-capped, UTF-8).
fn read_source(root: &Path, path: &Path, out: &mut Sink) -> Option<Source> {
    let rel = path.strip_prefix(root).unwrap_or(path).to_path_buf();
    let fail = |out: &mut Sink, msg: String| {
        out.push(Diagnostic::new(
            Severity::Error,
            rel.clone(),
            Pos::default(),
            "",
            msg,
        ));
    };
    if let Err(message) = diag::inside_home(root, path) {
        fail(out, message);
        return None;
    }
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            fail(
                out,
                format!(
                    "{} bytes: files are read up to {MAX_FILE_BYTES} bytes",
                    m.len()
                ),
            );
            return None;
        }
        Ok(_) => {}
        Err(e) => {
            fail(out, format!("cannot read: {e}"));
            return None;
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(Source {
                rel,
                abs: path.to_path_buf(),
                text,
                home: root.to_path_buf(),
            }),
            Err(e) => {
                fail(out, format!("not UTF-8 text: {}", e.utf8_error()));
                None
            }
        },
        Err(e) => {
            fail(out, format!("cannot read: {e}"));
            None
        }
    }
}

/// Plans name an agent of the home, and no two share a name.
fn check_plans(
    drafts: Vec<plan::PlanDraft>,
    agents: &BTreeMap<String, AgentDef>,
    sources: &[Source],
    out: &mut Sink,
) -> Vec<ResponsePlanDef> {
    let mut plans: Vec<ResponsePlanDef> = Vec::new();
    for d in drafts {
        let src = &sources[d.file];
        if !d.def.agent.is_empty() {
            let agent = fields::Spanned {
                value: d.def.agent.clone(),
                pos: d.agent_pos,
                field: "spec.handling_agent".into(),
            };
            validate::named(&agent, "agent", agents.keys(), src, out);
        }
        if let Some(first) = plans.iter().find(|p| p.name == d.def.name) {
            out.error(
                src,
                d.doc_pos,
                "spec.name",
                format!("response plan `{}` is defined twice", d.def.name),
            )
            .help(format!(
                "first defined at {}:{}",
                first.location.file.display(),
                first.location.line
            ));
            continue;
        }
        plans.push(d.def);
    }
    plans
}

/// Scheduled tasks name an agent of the home, and no two share a name.
fn check_schedules(
    drafts: Vec<schedule::ScheduleDraft>,
    agents: &BTreeMap<String, AgentDef>,
    sources: &[Source],
    out: &mut Sink,
) -> Vec<ScheduledTaskDef> {
    let mut tasks: Vec<ScheduledTaskDef> = Vec::new();
    for d in drafts {
        let src = &sources[d.file];
        if !d.def.agent.is_empty() {
            let agent = fields::Spanned {
                value: d.def.agent.clone(),
                pos: d.agent_pos,
                field: "spec.agent".into(),
            };
            validate::named(&agent, "agent", agents.keys(), src, out);
        }
        // Thread ids are made from the name: two names that give the same id would share
        // threads.
        let id = crate::schedule::slug;
        if let Some(other) = tasks.iter().find(|t| id(&t.name) == id(&d.def.name)) {
            let message = if other.name == d.def.name {
                format!("scheduled task `{}` is defined twice", d.def.name)
            } else {
                format!(
                    "scheduled tasks `{}` and `{}` would share thread ids (`task-{}-N`)",
                    other.name,
                    d.def.name,
                    id(&d.def.name)
                )
            };
            out.error(src, d.doc_pos, "spec.name", message)
                .help("give it another name (letters, digits, `-`, `_`)");
            continue;
        }
        tasks.push(d.def);
    }
    tasks
}
