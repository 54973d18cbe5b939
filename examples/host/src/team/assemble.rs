//! Turning an `AgentHome` into a `Team`: the world on disk, the tools, the connectors, the
//! skills, then one `AgentLoop` per agent (agents used as tools first).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use sre_context::{
    BudgetConfig, Connector, ConnectorsLayer, KnowledgeMapLayer, PinnedState, RepositoriesLayer,
    Repository, TokenBudget, TopologyLayer,
};
use sre_core::{
    AgentLoop, ContextLayer, HandoffTarget, JsonlSessionStore, SessionStore, Tool, typed_tool,
};
use sre_hooks::{Activation, BuildContext, default_tool_aliases};
use sre_memory::{MarkdownMemory, RememberTool};
use sre_tools::namespace::{NamespaceConfig, Network};
use sre_tools::{ExecConfig, MountMode, OffloadConfig, OffloadStore, ToolSet, Workspace};

use super::models::Models;
use super::{Team, TeamOptions, modes};
use crate::error::HostError;
use crate::home::{AgentDef, AgentHome, AgentType, ToolRef, WORKSPACE_TOOLS};
use crate::world;

/// What every agent of the team shares.
struct Shared {
    home: AgentHome,
    workspace: Workspace,
    root: std::path::PathBuf,
    models: Models,
    builtin: BTreeMap<String, Arc<dyn Tool>>,
    /// The same, with commands cut off from the network (agents with `network: off`,
    /// ReadOnly ones by default).
    builtin_offline: BTreeMap<String, Arc<dyn Tool>>,
    python: BTreeMap<String, Arc<dyn Tool>>,
    /// The Python tools without the network.
    python_offline: BTreeMap<String, Arc<dyn Tool>>,
    mcp: BTreeMap<String, Arc<dyn Tool>>,
    connector_notes: BTreeMap<String, String>,
    /// Connectors that did not connect, with the reason.
    connector_failed: BTreeMap<String, String>,
    memory: MarkdownMemory,
    pinned: PinnedState,
    store: Arc<dyn SessionStore>,
    activation: Activation,
    approver: Arc<dyn sre_core::Approver>,
    skills_mount: Option<String>,
    /// Confines command hooks: like the agents' commands, with the network (a hook may
    /// call an approval service) and the agent home readable (hook scripts live there).
    hook_confine: Option<Arc<dyn sre_core::process::Confine>>,
    /// Tools every agent gets besides its own.
    extra_tools: Vec<Arc<dyn Tool>>,
}

/// Refuse what would silently weaken the confinement the home declares: namespaces asked
/// for but unavailable (agents without the network would have it, the agent home would be
/// readable), or a workspace that holds the agent home (its files, which may hold tokens,
/// would be the agent's to read).
fn check_confinement(
    home: &AgentHome,
    root: &Path,
    options: &TeamOptions,
) -> Result<(), HostError> {
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (ws, home_dir) = (real(root), real(&home.root));
    if home_dir.starts_with(&ws) {
        return Err(HostError::Assembly(format!(
            "the workspace {} holds the agent home {}: the agents could read its files (tokens              in connector headers, hook scripts); use a workspace outside it (the default is              <home>/.sre/workspace)",
            ws.display(),
            home_dir.display()
        )));
    }
    if options.namespaces
        && let Err(why) = sre_tools::namespace::available(&NamespaceConfig::default().bwrap)
    {
        return Err(HostError::Assembly(format!(
            "commands cannot run in namespaces here ({why}): without them agents declared              without the network keep it and the agent home is readable; install bubblewrap              (Debian: `apt-get install bubblewrap`), or accept Landlock alone with              --no-namespaces (TeamOptions::namespaces = false)"
        )));
    }
    Ok(())
}

/// How the team's commands are confined: namespaces when `namespaces` and the host allows
/// them, with `network`; Landlock otherwise. Besides the default hidden secrets, the agent
/// home is hidden from commands: its files may hold tokens (connector headers, URLs).
fn exec_config(namespaces: bool, network: Network, home: &Path) -> ExecConfig {
    let mut ns = NamespaceConfig {
        enabled: namespaces,
        network,
        ..NamespaceConfig::default()
    };
    ns.hidden.push(home.to_path_buf());
    ExecConfig {
        namespaces: ns,
        ..ExecConfig::default()
    }
}

impl Shared {
    /// The built-in tools for agent `def`: without the network when it has none.
    fn builtin_of(&self, def: &AgentDef) -> &BTreeMap<String, Arc<dyn Tool>> {
        if def.network_on() {
            &self.builtin
        } else {
            &self.builtin_offline
        }
    }

    /// The Python tools for agent `def`: without the network when it has none.
    fn python_of(&self, def: &AgentDef) -> &BTreeMap<String, Arc<dyn Tool>> {
        if def.network_on() {
            &self.python
        } else {
            &self.python_offline
        }
    }
}

pub(super) async fn assemble(mut home: AgentHome, options: TeamOptions) -> Result<Team, HostError> {
    if let Some(mode) = options.agent_type {
        for def in home.agents.values_mut() {
            def.agent_type = def.agent_type.stricter(mode);
        }
    }
    // Absolute: hooks and commands run with it as their working directory, in a sandbox
    // whose own working directory is elsewhere.
    let root = std::path::absolute(&options.workspace)
        .map_err(|e| HostError::io(&options.workspace, e))?;
    std::fs::create_dir_all(&root).map_err(|e| HostError::io(&root, e))?;
    check_confinement(&home, &root, &options)?;
    let mut warnings: Vec<String> = Vec::new();
    let wanted = reachable(&home, options.only.as_deref())?;

    // The world: repositories, skills' folders, memory and knowledge.
    for repo in &home.world.repositories {
        world::sync_repository(&root, repo).await?;
    }
    let skills_mount = copy_skill_folders(&home, &root)?;
    let memory = MarkdownMemory::open(root.join("memory"))?;
    if let Some(dir) = &home.world.knowledge {
        for (name, text) in world::knowledge_files(dir)? {
            memory.ingest(&name, &text).await?;
        }
    }
    let mut builder = Workspace::builder(&root)
        .mount("scratch", MountMode::Writable)
        .mount("memory", MountMode::ReadOnly)
        .create_writable_mounts(true);
    for repo in &home.world.repositories {
        builder = builder.mount(repo.mount.display().to_string(), MountMode::ReadOnly);
    }
    if let Some(m) = &skills_mount {
        builder = builder.mount(m.clone(), MountMode::ReadOnly);
    }
    if let Some(q) = options.quota {
        builder = builder.quota(q);
    }
    let workspace = builder.build()?;

    let models = Models::resolve(options.models.clone(), options.wrap.clone())?;
    let pinned = PinnedState::new();
    // The built-in tools twice: with the network, and without it (ReadOnly agents).
    let remember = typed_tool(RememberTool::new(memory.clone()))?;
    let pinned_tool = pinned.tool()?;
    let builtin_for = |network: Network| -> Result<BTreeMap<String, Arc<dyn Tool>>, HostError> {
        let mut tools: BTreeMap<String, Arc<dyn Tool>> = ToolSet::new(workspace.clone())
            .exec_config(exec_config(options.namespaces, network, &home.root))
            .prefix_report(true)
            .build()?
            .into_iter()
            .map(|t| (t.spec().name.clone(), t))
            .collect();
        tools.insert("remember".into(), remember.clone());
        tools.insert("update_investigation_state".into(), pinned_tool.clone());
        Ok(tools)
    };
    let builtin = builtin_for(Network::On)?;
    // Only worth a second set when namespaces are on here and a wanted agent has no network.
    let offline_needed = options.namespaces
        && wanted
            .iter()
            .filter_map(|name| home.agents.get(name))
            .any(|a| !a.network_on())
        && sre_tools::namespace::available(&NamespaceConfig::default().bwrap).is_ok();
    let builtin_offline = if offline_needed {
        builtin_for(Network::Off)?
    } else {
        builtin.clone()
    };

    let cache = options
        .cache_dir
        .clone()
        .unwrap_or_else(|| root.join(".sre/cache"));
    let python_for = |network: Network| -> Result<BTreeMap<String, Arc<dyn Tool>>, HostError> {
        let mut tools = BTreeMap::new();
        for (name, def) in &home.python_tools {
            let config = exec_config(options.namespaces, network, &home.root);
            tools.insert(
                name.clone(),
                crate::python_tools::build(def, &workspace, &cache, config)?,
            );
        }
        Ok(tools)
    };
    let python = python_for(Network::On)?;
    let python_offline = if offline_needed {
        python_for(Network::Off)?
    } else {
        python.clone()
    };

    let (connectors, mcp, connector_notes, connector_failed) =
        connect(&home, &wanted, &mut warnings).await;

    let store: Arc<dyn SessionStore> = match &options.store {
        Some(s) => s.clone(),
        None => Arc::new(JsonlSessionStore::new(root.join(".sre/sessions"))?),
    };
    let hook_confine = options.hooks.confine.then(|| {
        let mut config = ExecConfig {
            namespaces: NamespaceConfig {
                enabled: options.namespaces,
                ..NamespaceConfig::default()
            },
            extra_writable: options.hooks.writable.clone(),
            ..ExecConfig::default()
        };
        config
            .pass_env
            .extend(options.hooks.pass_env.iter().cloned());
        Arc::new(sre_tools::Executor::new(workspace.clone(), config))
            as Arc<dyn sre_core::process::Confine>
    });
    let shared = Shared {
        hook_confine,
        home,
        workspace,
        root: root.clone(),
        models,
        builtin,
        builtin_offline,
        python,
        python_offline,
        mcp,
        connector_notes,
        connector_failed,
        memory,
        pinned,
        store: store.clone(),
        activation: Activation::new(),
        approver: options.approver.clone(),
        skills_mount,
        extra_tools: options.extra_tools.clone(),
    };
    let mut agents = BTreeMap::new();
    let mut agent_notes = BTreeMap::new();
    for name in build_order(&shared.home)? {
        if !wanted.contains(&name) {
            continue;
        }
        let Some(def) = shared.home.agents.get(&name) else {
            continue;
        };
        let mut notes = Vec::new();
        let agent = build_agent(&shared, def, &agents, &mut notes)?;
        warnings.extend(notes.iter().map(|n| format!("agent `{name}`: {n}")));
        agent_notes.insert(name.clone(), notes);
        agents.insert(name, agent);
    }
    Ok(Team {
        agents,
        store,
        activation: shared.activation.clone(),
        agent_notes,
        on_demand_hooks: on_demand_hooks(&shared.home),
        warnings,
        scripted: shared.models.scripted(),
        workspace: root,
        connectors,
        memory: shared.memory.clone(),
        scribe: shared.models.default_model(),
    })
}

/// The agents to assemble: `only` and every agent they reach through handoffs and agents
/// as tools; all agents without `only`.
fn reachable(home: &AgentHome, only: Option<&[String]>) -> Result<BTreeSet<String>, HostError> {
    let Some(only) = only else {
        return Ok(home.agents.keys().cloned().collect());
    };
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = only.to_vec();
    while let Some(name) = todo.pop() {
        let def = home
            .agents
            .get(&name)
            .ok_or_else(|| HostError::Assembly(format!("no agent `{name}` in the home")))?;
        if seen.insert(name.clone()) {
            todo.extend(def.handoffs.iter().cloned());
            todo.extend(def.agents_as_tools.iter().cloned());
        }
    }
    Ok(seen)
}

/// Agents in an order where every agent used as a tool is built before its users; a cycle
/// is an error naming it.
fn build_order(home: &AgentHome) -> Result<Vec<String>, HostError> {
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    let mut visiting = Vec::new();
    fn visit(
        name: &str,
        home: &AgentHome,
        done: &mut BTreeSet<String>,
        visiting: &mut Vec<String>,
        order: &mut Vec<String>,
    ) -> Result<(), HostError> {
        if done.contains(name) {
            return Ok(());
        }
        if visiting.iter().any(|v| v == name) {
            visiting.push(name.to_string());
            return Err(HostError::Assembly(format!(
                "agents use each other as tools in a cycle: {}",
                visiting.join(" -> ")
            )));
        }
        visiting.push(name.to_string());
        if let Some(def) = home.agents.get(name) {
            for dep in &def.agents_as_tools {
                visit(dep, home, done, visiting, order)?;
            }
        }
        visiting.pop();
        done.insert(name.to_string());
        order.push(name.to_string());
        Ok(())
    }
    for name in home.agents.keys() {
        visit(name, home, &mut done, &mut visiting, &mut order)?;
    }
    Ok(order)
}

/// Copy the folder skills into `<root>/skills/<name>` (read-only for the agent); returns
/// the mount, if any skill has a folder.
fn copy_skill_folders(home: &AgentHome, root: &Path) -> Result<Option<String>, HostError> {
    let mut any = false;
    for skill in home.skills.values() {
        if let Some(dir) = &skill.dir {
            world::copy_dir(dir, &root.join("skills").join(&skill.name))?;
            any = true;
        }
    }
    Ok(any.then(|| "skills".to_string()))
}

/// Connect the connectors some agent uses; a connector that fails leaves the team running
/// with the error in the warnings and in the connectors layer.
async fn connect(
    home: &AgentHome,
    wanted: &BTreeSet<String>,
    warnings: &mut Vec<String>,
) -> (
    Option<sre_mcp::McpConnectors>,
    BTreeMap<String, Arc<dyn Tool>>,
    BTreeMap<String, String>,
    BTreeMap<String, String>,
) {
    let used: BTreeSet<String> = home
        .agents
        .values()
        .filter(|a| wanted.contains(&a.name))
        .flat_map(|a| connectors_of(home, a))
        .collect();
    let configs: Vec<sre_mcp::ConnectorConfig> = home
        .connectors
        .iter()
        .filter(|(n, _)| used.contains(n.as_str()))
        .map(|(_, c)| c.config.clone())
        .collect();
    if configs.is_empty() {
        return (None, BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    }
    let connectors = match sre_mcp::McpConnectors::new(sre_mcp::McpConfig {
        connectors: configs,
    }) {
        Ok(c) => c,
        Err(e) => {
            warnings.push(format!("MCP connectors: {e}"));
            let failed = used.iter().map(|n| (n.clone(), e.to_string())).collect();
            return (None, BTreeMap::new(), BTreeMap::new(), failed);
        }
    };
    let report = connectors.connect_available().await;
    let mut notes = BTreeMap::new();
    let mut failed = BTreeMap::new();
    for e in &report.failed {
        warnings.push(format!("MCP connector: {e}"));
    }
    for (name, status) in connectors.statuses() {
        if !matches!(status, sre_mcp::ConnectorStatus::Connected { .. }) {
            let why = report
                .failed
                .iter()
                .map(ToString::to_string)
                .find(|e| e.contains(&format!("`{name}`")) || e.contains(&name))
                .unwrap_or_else(|| status.to_string());
            failed.insert(name.clone(), why);
        }
        notes.insert(name, format!("{status}"));
    }
    let tools = report
        .tools
        .into_iter()
        .map(|t| (t.spec().name.clone(), t))
        .collect();
    (Some(connectors), tools, notes, failed)
}

/// The skills an agent may activate: its `skills`, or every skill with `enable_skills`.
fn skills_of(home: &AgentHome, def: &AgentDef) -> Vec<String> {
    match &def.skills {
        Some(list) => list.clone(),
        None if def.enable_skills => home.skills.keys().cloned().collect(),
        None => Vec::new(),
    }
}

/// The connectors an agent uses: its own, then its skills' (in order, once each).
fn connectors_of(home: &AgentHome, def: &AgentDef) -> Vec<String> {
    let mut out: Vec<String> = def.connectors.clone();
    for skill in skills_of(home, def) {
        for c in home
            .skills
            .get(&skill)
            .map(|s| s.connectors.clone())
            .unwrap_or_default()
        {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// The names of the on-demand hooks of a home (global and per agent).
pub fn on_demand_hooks(home: &AgentHome) -> BTreeSet<String> {
    let on_demand = |h: &&sre_hooks::HookSpec| h.activation == sre_hooks::ActivationMode::OnDemand;
    home.global_hooks
        .global
        .iter()
        .chain(home.agents.values().flat_map(|a| {
            a.hooks
                .global
                .iter()
                .chain(a.hooks.agents.values().flatten())
        }))
        .filter(on_demand)
        .map(|h| h.name.clone())
        .collect()
}

/// One agent; what it had to leave out (a tool of a connector that did not connect, a tool a
/// ReadOnly agent cannot have) goes to `notes`.
fn build_agent(
    shared: &Shared,
    def: &AgentDef,
    built: &BTreeMap<String, AgentLoop>,
    notes: &mut Vec<String>,
) -> Result<AgentLoop, HostError> {
    let home = &shared.home;
    let model = shared.models.for_agent(def.llm_model_name.as_deref())?;
    let mut tools: BTreeMap<String, Arc<dyn Tool>> = BTreeMap::new();
    fn add_to(tools: &mut BTreeMap<String, Arc<dyn Tool>>, t: Arc<dyn Tool>) {
        tools.entry(t.spec().name.clone()).or_insert(t);
    }
    macro_rules! add {
        ($t:expr) => {
            add_to(&mut tools, $t)
        };
    }
    match &def.tools {
        None => {
            for name in WORKSPACE_TOOLS {
                if let Some(t) = shared.builtin_of(def).get(*name) {
                    add!(t.clone());
                }
            }
        }
        Some(list) => {
            for r in list {
                match resolve(shared, def, r) {
                    Ok(t) => add!(t),
                    Err(e) => notes.push(e),
                }
            }
        }
    }
    for t in &shared.extra_tools {
        add!(t.clone());
    }
    for (connector, why) in connectors_of(home, def)
        .iter()
        .filter_map(|c| shared.connector_failed.get(c).map(|w| (c, w)))
    {
        notes.push(format!(
            "connector `{connector}` is not connected, its tools are missing: {why}"
        ));
    }
    for connector in &def.connectors {
        let prefix = format!("mcp__{}__", sanitize(connector));
        let globs: Vec<&str> = def
            .mcp_tools
            .iter()
            .filter_map(|g| g.strip_prefix(&format!("{connector}/")))
            .collect();
        for (name, t) in &shared.mcp {
            let Some(remote) = name.strip_prefix(&prefix) else {
                continue;
            };
            if globs.is_empty() || globs.iter().any(|g| glob_match(g, remote)) {
                add!(t.clone());
            }
        }
    }
    // Skills: the catalog, the activation tool, and their tools gated until active.
    let skill_names = skills_of(home, def);
    let mut layers: Vec<Arc<dyn ContextLayer>> = Vec::new();
    if !connectors_of(home, def).is_empty() {
        layers.push(Arc::new(connectors_layer(shared, def)));
    }
    if !home.world.repositories.is_empty() {
        layers.push(Arc::new(RepositoriesLayer::new(
            home.world.repositories.iter().map(|r| {
                Repository::new(&r.name, shared.root.join(&r.mount))
                    .mount(r.mount.display().to_string())
            }),
        )));
    }
    layers.push(Arc::new(KnowledgeMapLayer::new(Arc::new(
        shared.memory.clone(),
    ))));
    if let Some(topology) = &home.world.topology {
        layers.push(Arc::new(TopologyLayer::from_file(topology)?));
    }
    if !skill_names.is_empty() {
        let skills = crate::skills::for_agent(home, &skill_names, shared.skills_mount.as_deref())?;
        layers.push(skills.layer());
        add!(skills.activation_tool()?);
        // The tools only a skill grants are offered from the start (the tools array never
        // changes) and refused until one of their skills is active.
        let mut granted: Vec<Arc<dyn Tool>> = Vec::new();
        let mut grant = |t: Arc<dyn Tool>, tools: &BTreeMap<String, Arc<dyn Tool>>| {
            let name = &t.spec().name;
            if !tools.contains_key(name) && !granted.iter().any(|g| &g.spec().name == name) {
                granted.push(t);
            }
        };
        for skill in &skill_names {
            let Some(s) = home.skills.get(skill) else {
                continue;
            };
            for r in &s.tools {
                match resolve(shared, def, r) {
                    Ok(t) => grant(t, &tools),
                    Err(e) => notes.push(format!("skill `{skill}`: {e}")),
                }
            }
            // A skill's connectors: their tools are the skill's too.
            for connector in &s.connectors {
                let prefix = format!("mcp__{}__", sanitize(connector));
                for (name, t) in &shared.mcp {
                    if name.starts_with(&prefix) {
                        grant(t.clone(), &tools);
                    }
                }
            }
        }
        for t in skills.gate_granted(granted) {
            add!(t);
        }
    }
    layers.push(shared.pinned.layer());
    for target in &def.agents_as_tools {
        let agent = built.get(target).ok_or_else(|| {
            HostError::Assembly(format!("agent `{target}` used as a tool was not built"))
        })?;
        let description = home
            .agents
            .get(target)
            .and_then(|a| a.handoff_description.clone().or(a.description.clone()))
            .unwrap_or_else(|| format!("Ask agent `{target}`."));
        add!(agent.as_tool(format!("ask_{}", sanitize(target)), description));
    }
    // ReadOnly agents are not offered tools that can never be read-only (the shell can:
    // a line of readers is; the guard judges each call).
    if def.agent_type == AgentType::ReadOnly {
        tools.retain(|name, t| {
            let keep = t.annotations().read_only || name == "shell";
            if !keep {
                notes.push(format!(
                    "tool `{name}` is left out: the agent is ReadOnly and the tool is not read-only"
                ));
            }
            keep
        });
    }
    let registry = home.hooks_for(&def.name).build(&BuildContext {
        model: Some(shared.models.default_model()),
        cwd: Some(shared.root.clone()),
        activation: shared.activation.clone(),
        tool_aliases: default_tool_aliases(),
        confine: shared.hook_confine.clone(),
    })?;
    let budget = TokenBudget::new(BudgetConfig::default())?.with_pinned(shared.pinned.clone());
    let mut builder = AgentLoop::builder(model)
        .name(&def.name)
        .system_prompt(&def.system_prompt)
        .layers(layers)
        .tools(tools.into_values().map(|t| shared.models.wrap_tool(t)))
        .hooks(registry.hooks_for(&def.name))
        .hooks(modes::guards(def.agent_type))
        .memory(Arc::new(shared.memory.clone()))
        .budget(Arc::new(budget))
        .offload(Arc::new(OffloadStore::new(
            shared.workspace.clone(),
            OffloadConfig::default(),
        )?))
        .session_store(shared.store.clone())
        .approver(shared.approver.clone())
        .cwd(shared.root.display().to_string());
    if !def.allow_parallel_tool_calls {
        builder = builder.tool_concurrency(1);
    }
    if let Some(t) = def.temperature {
        builder = builder.temperature(t);
    }
    if !def.handoffs.is_empty() {
        builder = builder.handoffs(def.handoffs.iter().map(|t| {
            HandoffTarget {
                name: t.clone(),
                description: home
                    .agents
                    .get(t)
                    .and_then(|a| a.handoff_description.clone().or(a.display_name.clone()))
                    .unwrap_or_default(),
            }
        }));
    }
    Ok(builder.build()?)
}

/// The tool `r` names; why not, when it is missing (the loader checked every name, so only
/// a tool of a connector that did not connect can be).
fn resolve(shared: &Shared, def: &AgentDef, r: &ToolRef) -> Result<Arc<dyn Tool>, String> {
    let found = match r {
        ToolRef::Builtin(n) => shared.builtin_of(def).get(n),
        ToolRef::Python(n) => shared.python_of(def).get(n),
        ToolRef::Mcp { .. } => shared.mcp.get(&r.name()),
    };
    found.cloned().ok_or_else(|| match r {
        ToolRef::Mcp { connector, .. } => format!(
            "tool `{}` is missing: connector `{connector}` did not connect or does not offer it",
            r.name()
        ),
        _ => format!("tool `{}` is not available", r.name()),
    })
}

fn connectors_layer(shared: &Shared, def: &AgentDef) -> ConnectorsLayer {
    ConnectorsLayer::new(connectors_of(&shared.home, def).into_iter().map(|name| {
        let tools = shared
            .mcp
            .keys()
            .filter(|t| t.starts_with(&format!("mcp__{}__", sanitize(&name))))
            .count();
        let transport = shared
            .home
            .connectors
            .get(&name)
            .map(|c| c.config.transport.kind())
            .unwrap_or("unknown");
        let mut c = Connector::new(&name, transport, tools);
        if let Some(status) = shared.connector_notes.get(&name) {
            c = c.note("status", status);
        }
        c
    }))
}

/// Tool names use `[A-Za-z0-9_-]` (sre-mcp sanitises connector names the same way).
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_match(glob: &str, text: &str) -> bool {
    match glob.split_once('*') {
        None => glob == text,
        Some((head, rest)) => {
            let Some(after) = text.strip_prefix(head) else {
                return false;
            };
            if rest.is_empty() {
                return true;
            }
            (0..=after.len()).any(|i| after.is_char_boundary(i) && glob_match(rest, &after[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*", "query_metrics"));
        assert!(glob_match("query_*", "query_metrics"));
        assert!(glob_match("*_logs", "search_logs"));
        assert!(!glob_match("query_*", "search_logs"));
        assert!(glob_match("get_incident", "get_incident"));
    }
}
