//! Skills with progressive disclosure, through a real `AgentLoop` and a `ScriptedModel`:
//! the catalog (whole descriptions, sorted, capped, deterministic), `activate_skill` (body
//! and files; unknown names), the 5-active limit with least-recently-activated unloading,
//! gated tools (refused before activation and after unloading), the active set restored
//! after a restart, and the cached prefix kept across activations (prefix report).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests may fail loudly

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use pretty_assertions::assert_eq;
use schemars::JsonSchema;
use serde::Deserialize;
use sre_context::{Skill, SkillLimits, Skills};
use sre_core::{
    Agent, AgentLoop, JsonlSessionStore, LayerContext, ModelRequest, ScriptedModel, Session,
    StopCause, ToolAnnotations, ToolContext, ToolError, ToolOutput, TypedTool, canonical_prompt,
    prefix_report, typed_tool,
};

const DB: &str = "db-pool-triage";
const DB_DESCRIPTION: &str = "Diagnose connection-pool exhaustion in a service.\n\
Use when: timeouts acquiring a connection, PoolTimeoutError, p99 latency jumps.\n\
Do not load for: disk-full alerts or DNS failures.";
const DB_BODY: &str = "1. Call query_pool.\n2. Compare in-use connections with max_size \
(references/pools.md explains the fields).";

#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

/// A skill's tool: counts the calls that reached it.
struct QueryPool(Arc<AtomicUsize>);

#[async_trait]
impl TypedTool for QueryPool {
    type Args = NoArgs;

    fn name(&self) -> &str {
        "query_pool"
    }

    fn description(&self) -> &str {
        "Connection-pool usage of the service."
    }

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations::read_only()
    }

    async fn run(&self, _args: NoArgs, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(ToolOutput::ok("pool: 10 of 10 connections in use"))
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// The folder of `db-pool-triage`: its SKILL.md, a reference, a script, a hidden file.
fn db_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "SKILL.md", "---\nname: db-pool-triage\n---\n");
    write(dir.path(), "references/pools.md", "max_size: ...\n");
    write(dir.path(), "scripts/check.sh", "#!/bin/sh\n");
    write(dir.path(), "assets/deep/er/diagram.txt", "x\n");
    write(dir.path(), ".cache/x", "hidden\n");
    dir
}

/// `db-pool-triage` (files, grants `query_pool`) and five fillers `s1`..`s5`.
fn skill_set(files: &Path) -> Skills {
    let mut all = vec![
        Skill::new(DB, DB_DESCRIPTION, DB_BODY)
            .files(files, "skills/db-pool-triage")
            .tools(["query_pool"]),
    ];
    for i in (1..=5).rev() {
        all.push(Skill::new(
            format!("s{i}"),
            format!("Filler skill {i}."),
            format!("Body of s{i}."),
        ));
    }
    Skills::new(all).unwrap()
}

/// A loop with the catalog, `activate_skill` and the gated `query_pool`.
fn agent(model: Arc<ScriptedModel>, skills: &Skills, calls: &Arc<AtomicUsize>) -> AgentLoop {
    agent_with_store(model, skills, calls, None)
}

fn agent_with_store(
    model: Arc<ScriptedModel>,
    skills: &Skills,
    calls: &Arc<AtomicUsize>,
    store: Option<&Path>,
) -> AgentLoop {
    let query = typed_tool(QueryPool(calls.clone())).unwrap();
    let mut builder = AgentLoop::builder(model)
        .system_prompt("You are an SRE agent.")
        .layer(skills.layer())
        .tool(skills.activation_tool().unwrap())
        .tools(skills.gate_granted([query]));
    if let Some(dir) = store {
        builder = builder.session_store(Arc::new(JsonlSessionStore::new(dir).unwrap()));
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn catalog_renders_whole_descriptions_sorted_and_capped() {
    let dir = db_folder();
    let skills = skill_set(dir.path());
    let expected = "Skills (call `activate_skill` with a skill's name to load its instructions \
before a task its description covers; at most 5 are active at once):\n\
- db-pool-triage (tools: query_pool)\n\
\x20 Diagnose connection-pool exhaustion in a service.\n\
\x20 Use when: timeouts acquiring a connection, PoolTimeoutError, p99 latency jumps.\n\
\x20 Do not load for: disk-full alerts or DNS failures.\n\
- s1\n  Filler skill 1.\n- s2\n  Filler skill 2.\n- s3\n  Filler skill 3.\n\
- s4\n  Filler skill 4.\n- s5\n  Filler skill 5.";
    assert_eq!(skills.catalog(), expected);
    // The layer renders it for any session, activated or not, byte for byte; a set built
    // from the same skills in another order renders the same bytes.
    let layer = skills.layer();
    assert!(!layer.is_dynamic());
    assert_eq!(
        layer.render(&LayerContext::DETACHED).await.unwrap(),
        expected
    );
    let tool = skills.activation_tool().unwrap();
    let ctx = ToolContext::detached("c1");
    tool.call(serde_json::json!({"name": "s3"}), &ctx)
        .await
        .unwrap();
    let other = LayerContext {
        session_id: "detached",
        agent: "a",
    };
    assert_eq!(layer.render(&other).await.unwrap(), expected);
    let mut reversed = skills.skills().to_vec();
    reversed.reverse();
    assert_eq!(Skills::new(reversed).unwrap().catalog(), expected);

    // Per-skill cap: a long description is cut on a char boundary, with a note.
    let long = format!("Ünïcode! {}", "é".repeat(200));
    let limits = SkillLimits {
        max_description_bytes: 100,
        ..SkillLimits::default()
    };
    let cut = Skills::with_limits(vec![Skill::new("long", long.clone(), "b")], limits).unwrap();
    let line = cut.catalog().lines().nth(2).unwrap();
    assert!(
        line.ends_with(&format!(
            " [description cut: 99 of {} bytes shown]",
            long.len()
        )),
        "{line}"
    );

    // Total cap: whole entries while they fit, then the names of the rest, then a count.
    let many: Vec<Skill> = (0..200)
        .map(|i| {
            Skill::new(
                format!("skill-{i:03}"),
                format!("Triage case {i}.\nSecond line of {i}."),
                "b",
            )
        })
        .collect();
    let limits = SkillLimits {
        max_catalog_bytes: 2000,
        ..SkillLimits::default()
    };
    let capped = Skills::with_limits(many, limits).unwrap();
    let text = capped.catalog();
    assert!(text.len() <= 2000, "{} bytes", text.len());
    let described = text.matches("\n- skill-").count();
    assert!(described > 10 && described < 200, "{described}");
    let note = text.lines().last().unwrap();
    println!("{note}");
    let head = format!(
        "[skills catalog capped at 2000 bytes: {described} of 200 skills described above; \
         these can be activated by name too: skill-{described:03}, skill-{:03},",
        described + 1
    );
    assert!(note.starts_with(&head), "{note}");
    assert!(note.ends_with(" more]"), "{note}");
    // The last described skill keeps its whole description.
    assert!(text.contains(&format!(
        "  Second line of {}.\n[skills catalog capped",
        described - 1
    )));
    // Names are checked when the set is built.
    let dup = Skills::new(vec![Skill::new("a", "x", ""), Skill::new("a", "y", "")]);
    assert!(
        dup.unwrap_err().to_string().contains("skills[1].name"),
        "duplicate names"
    );
    assert!(Skills::new(vec![Skill::new("a b", "x", "")]).is_err());
    assert!(Skills::new(vec![Skill::new("a", " \n", "")]).is_err());
}

#[tokio::test]
async fn activation_returns_the_body_and_the_files_and_unknown_names_are_errors() {
    let dir = db_folder();
    let skills = skill_set(dir.path());
    let calls = Arc::new(AtomicUsize::new(0));
    let model = Arc::new(
        ScriptedModel::from_yaml(
            r#"
turns:
  - tool_calls: [{tool: activate_skill, args: {name: db-pool-triag}}]
  - expect:
      last_message_contains:
        - "unknown skill `db-pool-triag`; did you mean `db-pool-triage`? Skills: db-pool-triage, s1, s2, s3, s4, s5"
    tool_calls: [{tool: activate_skill, args: {name: db-pool-triage}}]
  - expect:
      last_message_contains:
        - "Skill `db-pool-triage` is now active. Its tools can be called now: query_pool.\nActive skills (least recently activated first): db-pool-triage."
        - "<skill-instructions name=\"db-pool-triage\">\n1. Call query_pool.\n2. Compare in-use connections with max_size (references/pools.md explains the fields).\n</skill-instructions>"
        - "Files of this skill (read them with the file tools when the instructions refer to them):\n- skills/db-pool-triage/assets/deep/er/diagram.txt\n- skills/db-pool-triage/references/pools.md\n- skills/db-pool-triage/scripts/check.sh"
    tool_calls: [{tool: activate_skill, args: {name: db-pool-triage}}]
  - expect:
      last_message_contains:
        - "Skill `db-pool-triage` was already active; it is now the most recently activated."
        - "Active skills (least recently activated first): db-pool-triage."
        - "<skill-instructions name=\"db-pool-triage\">"
    final: done
"#,
        )
        .unwrap()
        .recording(),
    );
    let agent = agent(model.clone(), &skills, &calls);
    let out = agent
        .run(&Session::new("s"), "Checkout times out.")
        .await
        .unwrap();
    assert_eq!(out.answer.as_deref(), Some("done"), "{out:?}");
    assert_eq!(skills.active("s"), [DB]);
    // SKILL.md itself and hidden files are not listed.
    let last = model.requests().pop().unwrap();
    let text = String::from_utf8(canonical_prompt(&last)).unwrap();
    assert!(
        !text.contains("SKILL.md") && !text.contains(".cache"),
        "{text}"
    );

    // The listing is capped; the rest is counted. A folder that cannot be read is said so.
    let limits = SkillLimits {
        max_listed_files: 2,
        ..SkillLimits::default()
    };
    let capped = Skills::with_limits(
        vec![
            Skill::new(DB, DB_DESCRIPTION, DB_BODY).files(dir.path(), "skills/db-pool-triage/"),
            Skill::new("gone", "Its folder is missing.", "b")
                .files(dir.path().join("nope"), "skills/gone"),
        ],
        limits,
    )
    .unwrap();
    let tool = capped.activation_tool().unwrap();
    let ctx = ToolContext::detached("c");
    let out = tool
        .call(serde_json::json!({"name": DB}), &ctx)
        .await
        .unwrap()
        .content;
    assert!(
        out.ends_with(
            "\n- skills/db-pool-triage/assets/deep/er/diagram.txt\n\
             - skills/db-pool-triage/references/pools.md\n\
             - … and 1 more under skills/db-pool-triage"
        ),
        "{out}"
    );
    let out = tool
        .call(serde_json::json!({"name": "gone"}), &ctx)
        .await
        .unwrap()
        .content;
    assert!(
        out.contains("The files of this skill (`skills/gone`) could not be listed: "),
        "{out}"
    );
}

/// A scripted session: query_pool refused, activated, allowed, five more activations (one
/// a refresh) unload it, query_pool refused again, re-activated.
const GATED_SCRIPT: &str = r#"
turns:
  - tool_calls: [{tool: query_pool}]
  - expect:
      last_message_contains: ['`query_pool` belongs to skill `db-pool-triage`; call activate_skill {"name": "db-pool-triage"} first']
    tool_calls: [{tool: activate_skill, args: {name: db-pool-triage}}]
  - expect: {last_message_contains: ["Its tools can be called now: query_pool"]}
    tool_calls: [{tool: query_pool}]
  - expect: {last_message_contains: ["pool: 10 of 10 connections in use"]}
    tool_calls: [{tool: activate_skill, args: {name: s1}}]
  - tool_calls: [{tool: activate_skill, args: {name: s2}}]
  - tool_calls: [{tool: activate_skill, args: {name: s3}}]
  - tool_calls: [{tool: activate_skill, args: {name: s4}}]
  - expect: {last_message_contains: ["Active skills (least recently activated first): db-pool-triage, s1, s2, s3, s4."]}
    tool_calls: [{tool: activate_skill, args: {name: s1}}]
  - expect: {last_message_contains: ["`s1` was already active", "Active skills (least recently activated first): db-pool-triage, s2, s3, s4, s1."]}
    tool_calls: [{tool: activate_skill, args: {name: s5}}]
  - expect:
      last_message_contains:
        - "Skill `s5` is now active.\nUnloaded skill `db-pool-triage`: at most 5 skills are active at once and it was the least recently activated; its tools are refused until it is activated again.\nActive skills (least recently activated first): s2, s3, s4, s1, s5."
    tool_calls: [{tool: query_pool}]
  - expect:
      last_message_contains: ['`query_pool` belongs to skill `db-pool-triage`; call activate_skill {"name": "db-pool-triage"} first (`db-pool-triage` was unloaded: at most 5 skills are active at once and it was the least recently activated)']
    tool_calls: [{tool: activate_skill, args: {name: db-pool-triage}}]
  - expect: {last_message_contains: ["Unloaded skill `s2`", "Active skills (least recently activated first): s3, s4, s1, s5, db-pool-triage."]}
    tool_calls: [{tool: query_pool}]
  - expect: {last_message_contains: ["pool: 10 of 10 connections in use"]}
    final: "Pool exhausted."
"#;

#[tokio::test]
async fn gated_tools_follow_activation_and_the_five_skill_limit() {
    let dir = db_folder();
    let skills = skill_set(dir.path());
    let calls = Arc::new(AtomicUsize::new(0));
    let model = Arc::new(ScriptedModel::from_yaml(GATED_SCRIPT).unwrap());
    let agent = agent(model, &skills, &calls);
    let out = agent
        .run(&Session::new("s"), "Checkout times out.")
        .await
        .unwrap();
    assert_eq!(out.answer.as_deref(), Some("Pool exhausted."), "{out:?}");
    // Two calls reached the tool; the two refused calls did not.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(skills.active("s"), ["s3", "s4", "s1", "s5", DB]);
    // Another session has nothing active: the gate refuses there.
    assert!(skills.active("other").is_empty());

    // A tool granted by two skills runs while either is active; gate() by one skill.
    let two = Skills::new(vec![
        Skill::new("a", "A.", "").tools(["query_pool"]),
        Skill::new("b", "B.", "").tools(["query_pool"]),
    ])
    .unwrap();
    let counted = Arc::new(AtomicUsize::new(0));
    let gated = two.gate_granted([typed_tool(QueryPool(counted.clone())).unwrap()]);
    let ctx = ToolContext::detached("c");
    let refused = gated[0]
        .call(serde_json::json!({}), &ctx)
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "`query_pool` belongs to skills `a`, `b`; activate one of them first, e.g. call \
         activate_skill {\"name\": \"a\"}"
    );
    two.activation_tool()
        .unwrap()
        .call(serde_json::json!({"name": "b"}), &ctx)
        .await
        .unwrap();
    gated[0].call(serde_json::json!({}), &ctx).await.unwrap();
    assert_eq!(counted.load(Ordering::SeqCst), 1);
    // The gate keeps the tool's spec and annotations.
    let plain = typed_tool(QueryPool(counted.clone())).unwrap();
    let one = two.gate(plain.clone(), "a").unwrap();
    assert_eq!(one.spec(), plain.spec());
    assert_eq!(one.annotations(), plain.annotations());
    let e = two.gate(plain, "c").err().unwrap().to_string();
    assert!(e.contains("no such skill"), "{e}");
}

/// The gated session's requests: the tools array and the system blocks never change and
/// each request's canonical prompt is a byte prefix of the next.
#[tokio::test]
async fn the_cached_prefix_holds_while_skills_activate_and_unload() {
    let dir = db_folder();
    let skills = skill_set(dir.path());
    let calls = Arc::new(AtomicUsize::new(0));
    let model = Arc::new(ScriptedModel::from_yaml(GATED_SCRIPT).unwrap().recording());
    let agent = agent(model.clone(), &skills, &calls);
    agent
        .run(&Session::new("s"), "Checkout times out.")
        .await
        .unwrap();
    let requests = model.requests();
    assert_eq!(requests.len(), 13);
    let body = |r: &ModelRequest| {
        serde_json::to_vec(&serde_json::json!({
            "tools": r.tools, "system": r.system, "messages": r.messages
        }))
        .unwrap()
    };
    for (i, pair) in requests.windows(2).enumerate() {
        let (a, b) = (canonical_prompt(&pair[0]), canonical_prompt(&pair[1]));
        assert!(
            b.starts_with(&a),
            "request {} is not a prefix of request {}",
            i + 1,
            i + 2
        );
        let report = prefix_report(&body(&pair[0]), &body(&pair[1]));
        assert_eq!(
            report.first_difference,
            None,
            "requests {}-{}",
            i + 1,
            i + 2
        );
        assert_eq!(pair[0].tools, pair[1].tools);
        assert_eq!(pair[0].system, pair[1].system);
    }
    // Declared from the first request on: the skill's tool and the activation tool; the
    // catalog is in the system blocks.
    let names: Vec<&str> = requests[0].tools.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"query_pool") && names.contains(&"activate_skill"));
    let system = serde_json::to_string(&requests[0].system).unwrap();
    assert!(
        system.contains("Do not load for: disk-full alerts"),
        "{system}"
    );
}

#[tokio::test]
async fn active_skills_are_restored_when_a_new_process_resumes() {
    let store = tempfile::tempdir().unwrap();
    let dir = db_folder();
    // Process 1: activates s1..s5 and db-pool-triage (unloading s1), then the model fails.
    let first = r#"
turns:
  - tool_calls: [{tool: activate_skill, args: {name: s1}}]
  - tool_calls: [{tool: activate_skill, args: {name: s2}}]
  - tool_calls: [{tool: activate_skill, args: {name: s3}}]
  - tool_calls: [{tool: activate_skill, args: {name: s4}}]
  - tool_calls: [{tool: activate_skill, args: {name: s5}}]
  - tool_calls: [{tool: activate_skill, args: {name: db-pool-triage}}]
"#;
    // Process 2: the same steps, then the tool (allowed: restored) and one more activation
    // (unloads s2: the order was restored too).
    let rest = r#"
  - expect: {last_message_contains: ["Unloaded skill `s1`"]}
    tool_calls: [{tool: query_pool}]
  - expect: {last_message_contains: ["pool: 10 of 10 connections in use"]}
    tool_calls: [{tool: activate_skill, args: {name: s1}}]
  - expect: {last_message_contains: ["Unloaded skill `s2`", "Active skills (least recently activated first): s3, s4, s5, db-pool-triage, s1."]}
    final: "Resumed."
"#;
    let calls = Arc::new(AtomicUsize::new(0));
    let skills = skill_set(dir.path());
    let model = Arc::new(ScriptedModel::from_yaml(first).unwrap());
    let agent1 = agent_with_store(model, &skills, &calls, Some(store.path()));
    let crashed = agent1.run(&Session::new("s"), "Checkout times out.").await;
    assert!(crashed.is_err(), "{crashed:?}");
    assert_eq!(skills.active("s"), ["s2", "s3", "s4", "s5", DB]);
    drop(agent1);

    // Process 2: a new set and a new loop over the same store; nothing in memory.
    let skills = skill_set(dir.path());
    assert!(skills.active("s").is_empty());
    let model = Arc::new(ScriptedModel::from_yaml(&format!("{first}{rest}")).unwrap());
    let agent2 = agent_with_store(model, &skills, &calls, Some(store.path()));
    let out = agent2.resume(&Session::new("s")).await.unwrap();
    assert_eq!(out.cause, StopCause::Completed, "{out:?}");
    assert_eq!(out.answer.as_deref(), Some("Resumed."));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(skills.active("s"), ["s3", "s4", "s5", DB, "s1"]);

    // A third process replays the whole session, twice (load, then a new task): the same
    // set each time (replay over a restored state changes nothing).
    let skills = skill_set(dir.path());
    let model = Arc::new(
        ScriptedModel::from_yaml(
            "turns:\n  - when: {last_message_contains: [again]}\n    final: first\n  - final: second\n",
        )
        .unwrap(),
    );
    let agent3 = agent_with_store(model, &skills, &calls, Some(store.path()));
    for _ in 0..2 {
        agent3.run(&Session::new("s"), "again").await.unwrap();
        assert_eq!(skills.active("s"), ["s3", "s4", "s5", DB, "s1"]);
    }
}
