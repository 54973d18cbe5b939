//! Context layers: repository tree caps and determinism, AGENTS.md discovery, connectors,
//! knowledge map, topology and skills (including their errors).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests may fail loudly

mod common;

use std::fs;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use pretty_assertions::assert_eq;
use sre_context::layers::{discover_instructions, render_tree};
use sre_context::{
    Connector, ConnectorsLayer, ContextError, InstructionLimits, KnowledgeMapLayer,
    RepositoriesLayer, Repository, Skill, Skills, Topology, TopologyLayer, TreeLimits, load_skills,
};
use sre_core::{ContextLayer, LayerContext, MemoryHit, MemoryStore};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(r, ".gitignore", "target/\n*.log\n");
    write(r, "AGENTS.md", "Root rules: run make test.\n");
    write(r, "Cargo.toml", "[package]\n");
    write(r, "app.log", "ignored\n");
    write(r, "target/debug/big", "ignored\n");
    write(r, ".git/HEAD", "ref: refs/heads/main\n");
    write(
        r,
        "services/CLAUDE.md",
        "Services rules: no direct DB writes.\n",
    );
    write(r, "services/api/Copilot.md", "API rules: nearest wins.\n");
    write(r, "services/api/src/main.rs", "fn main() {}\n");
    write(r, "services/api/src/deep/deeper/x.rs", "\n");
    write(r, "services/worker/main.go", "package main\n");
    for i in 0..30 {
        write(r, &format!("docs/page{i:02}.md"), "doc\n");
    }
    dir
}

#[test]
fn tree_is_sorted_respects_gitignore_and_caps_depth() {
    let dir = repo();
    let limits = TreeLimits {
        max_depth: 2,
        max_entries: 1000,
        max_bytes: 100_000,
    };
    let tree = render_tree(dir.path(), limits).unwrap();
    assert!(!tree.contains("app.log"), "{tree}");
    assert!(!tree.contains("target"), "{tree}");
    assert!(!tree.contains("HEAD"), "{tree}");
    assert!(tree.contains(".gitignore\n"));
    assert!(
        tree.contains("services/\n  CLAUDE.md\n  api/\n  worker/\n"),
        "{tree}"
    );
    assert!(
        !tree.contains("main.rs"),
        "depth 2 must not show depth 3: {tree}"
    );
    // Byte-identical across renders.
    assert_eq!(tree, render_tree(dir.path(), limits).unwrap());
    let deeper = render_tree(
        dir.path(),
        TreeLimits {
            max_depth: 5,
            ..limits
        },
    )
    .unwrap();
    assert!(
        deeper.contains("    src/\n      deep/\n        deeper/\n"),
        "{deeper}"
    );
}

#[test]
fn tree_entry_and_byte_caps_say_what_they_cut() {
    let dir = repo();
    let tree = render_tree(
        dir.path(),
        TreeLimits {
            max_depth: 3,
            max_entries: 10,
            max_bytes: 100_000,
        },
    )
    .unwrap();
    assert_eq!(tree.lines().count(), 11, "{tree}");
    assert!(
        tree.contains("truncated by the entries cap: 10 entries shown"),
        "{tree}"
    );
    let tree = render_tree(
        dir.path(),
        TreeLimits {
            max_depth: 3,
            max_entries: 1000,
            max_bytes: 120,
        },
    )
    .unwrap();
    let body: String = tree
        .lines()
        .take_while(|l| !l.starts_with('['))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(body.len() <= 120, "{tree}");
    assert!(tree.contains("truncated by the bytes cap"), "{tree}");
}

#[test]
fn instruction_files_root_to_leaf_nearest_last() {
    let dir = repo();
    let (files, note) = discover_instructions(
        dir.path(),
        Path::new("services/api"),
        &InstructionLimits::default(),
    )
    .unwrap();
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["AGENTS.md", "services/CLAUDE.md", "services/api/Copilot.md"]
    );
    assert!(files[2].1.contains("nearest wins"));
    assert!(note.is_none());
    // AGENTS.md wins over alternatives in the same directory.
    write(dir.path(), "services/AGENTS.md", "Preferred.\n");
    let (files, _) = discover_instructions(
        dir.path(),
        Path::new("services"),
        &InstructionLimits::default(),
    )
    .unwrap();
    assert_eq!(files[1].0, "services/AGENTS.md");
    // `..` is refused.
    assert!(
        discover_instructions(dir.path(), Path::new("../x"), &InstructionLimits::default())
            .is_err()
    );
}

#[test]
fn instruction_size_cap_keeps_the_nearest() {
    let dir = repo();
    write(dir.path(), "AGENTS.md", &"root line\n".repeat(500));
    write(
        dir.path(),
        "services/api/Copilot.md",
        &"leaf line\n".repeat(30),
    );
    let limits = InstructionLimits {
        max_file_bytes: 1000,
        max_total_bytes: 1400,
        ..InstructionLimits::default()
    };
    let (files, note) =
        discover_instructions(dir.path(), Path::new("services/api"), &limits).unwrap();
    let total: usize = files.iter().map(|(_, t)| t.len()).sum();
    assert!(total <= 1400 + 200, "total {total}");
    let leaf = files.last().unwrap();
    assert_eq!(leaf.0, "services/api/Copilot.md");
    assert_eq!(
        leaf.1,
        "leaf line\n".repeat(30),
        "the nearest file is kept whole"
    );
    // The root file is either truncated with a marker or named as left out.
    let root_cut = files
        .iter()
        .any(|(p, t)| p == "AGENTS.md" && t.contains("truncated"));
    let root_named = note.as_deref().is_some_and(|n| n.contains("AGENTS.md"));
    assert!(root_cut || root_named, "{files:?} {note:?}");
}

#[tokio::test]
async fn repositories_layer_renders_tree_and_instructions_deterministically() {
    let dir = repo();
    let layer = RepositoriesLayer::new([Repository::new("checkout", dir.path())
        .mount("repos/checkout")
        .working_dir("services/api")])
    .tree_limits(TreeLimits {
        max_depth: 2,
        max_entries: 12,
        max_bytes: 4096,
    });
    let a = layer.render(&LayerContext::DETACHED).await.unwrap();
    let b = layer.render(&LayerContext::DETACHED).await.unwrap();
    assert_eq!(a, b);
    assert!(a.starts_with(
        "Repository checkout at `repos/checkout` (working directory: services/api)\nTree (depth 2; .gitignore respected):\n"
    ));
    let root = a.find("--- AGENTS.md ---").unwrap();
    let mid = a.find("--- services/CLAUDE.md ---").unwrap();
    let leaf = a.find("--- services/api/Copilot.md ---").unwrap();
    assert!(root < mid && mid < leaf);
    assert!(!layer.is_dynamic());
}

#[tokio::test]
async fn connectors_render_sorted_with_notes() {
    let layer = ConnectorsLayer::new([
        Connector::new("github", "http", 12).describe("source code and pull requests"),
        Connector::new("aws-prod", "stdio", 42)
            .note("toolsets", "logs,metrics")
            .note("region", "eu-west-1"),
    ]);
    assert_eq!(
        layer.render(&LayerContext::DETACHED).await.unwrap(),
        "Connectors (what you can access):\n\
         - aws-prod (stdio, 42 tools): region=eu-west-1; toolsets=logs,metrics\n\
         - github (http, 12 tools) — source code and pull requests"
    );
    assert_eq!(
        ConnectorsLayer::new([])
            .render(&LayerContext::DETACHED)
            .await
            .unwrap(),
        ""
    );
}

struct Memory(String);

#[async_trait]
impl MemoryStore for Memory {
    async fn index(&self) -> sre_core::Result<String> {
        Ok(self.0.clone())
    }
    async fn remember(&self, _: &str, _: Option<&str>, _: &str) -> sre_core::Result<String> {
        Ok("m-1".into())
    }
    async fn forget(&self, _: &str, _: &str) -> sre_core::Result<Vec<String>> {
        Ok(vec![])
    }
    async fn retrieve(&self, _: &str, _: usize) -> sre_core::Result<Vec<MemoryHit>> {
        Ok(vec![])
    }
}

#[tokio::test]
async fn knowledge_map_shows_the_index_capped() {
    let layer = KnowledgeMapLayer::new(Arc::new(Memory(
        "- runbooks/checkout.md: pool sizing\n".into(),
    )));
    assert_eq!(
        layer.render(&LayerContext::DETACHED).await.unwrap(),
        "Knowledge map (memory index; read the files it names for details):\n- runbooks/checkout.md: pool sizing"
    );
    let big = KnowledgeMapLayer::new(Arc::new(Memory("- entry line\n".repeat(1000))))
        .max_bytes(500)
        .dynamic(true);
    let text = big.render(&LayerContext::DETACHED).await.unwrap();
    assert!(
        text.len() <= 560 && text.contains("truncated"),
        "{}",
        text.len()
    );
    assert!(big.is_dynamic());
}

const TOPOLOGY: &str = "\
accounts:
  - name: prod
    provider: aws
    id: '123456789012'
    regions: [eu-west-1, us-east-1]
    groups:
      - name: payments
        region: eu-west-1
        services:
          - {name: checkout, kind: ecs, depends_on: [payments-db, redis]}
          - {name: payments-db, kind: rds-postgres, notes: 'primary in eu-west-1a'}
          - {name: redis, kind: elasticache}
  - name: shared
    provider: azure
    groups:
      - name: observability
        services:
          - {name: grafana}
";

#[tokio::test]
async fn topology_renders_compactly_from_yaml_and_json() {
    let t = Topology::from_yaml(TOPOLOGY, "topology.yaml").unwrap();
    let expected = "\
Topology (where things live):
account prod (aws 123456789012; regions eu-west-1, us-east-1)
  group payments [eu-west-1]
    checkout (ecs) -> payments-db, redis
    payments-db (rds-postgres) — primary in eu-west-1a
    redis (elasticache)
account shared (azure)
  group observability
    grafana";
    assert_eq!(
        TopologyLayer::new(t.clone())
            .render(&LayerContext::DETACHED)
            .await
            .unwrap(),
        expected
    );
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(Topology::from_json(&json, "t.json").unwrap(), t);
}

#[test]
fn topology_errors_name_file_and_location() {
    // A typo'd field: line and column.
    let bad = TOPOLOGY.replace("depends_on: [payments-db, redis]", "depend_on: [redis]");
    let e = Topology::from_yaml(&bad, "topo.yaml").unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("topo.yaml:10:"), "{msg}");
    assert!(msg.contains("depend_on"), "{msg}");
    // A wrong type in JSON.
    let e = Topology::from_json("{\"accounts\": [{\"name\": 3}]}", "t.json").unwrap_err();
    assert!(
        matches!(e, ContextError::Parse { line: Some(1), .. }),
        "{e}"
    );
    assert!(e.to_string().starts_with("t.json:1:"), "{e}");
    // A relation to an unknown service: the path inside the document.
    let bad = TOPOLOGY.replace("[payments-db, redis]", "[payments-db, memcached]");
    let e = Topology::from_yaml(&bad, "topo.yaml").unwrap_err();
    assert_eq!(
        e.to_string(),
        "topo.yaml: accounts[0].groups[0].services[0].depends_on[1]: `checkout` depends on unknown service `memcached`"
    );
    // Through the core error type the location survives.
    let core: sre_core::Error = Topology::from_yaml("accounts: 3", "x.yaml")
        .unwrap_err()
        .into();
    assert!(
        matches!(core, sre_core::Error::Parse { ref location, .. } if location.starts_with("x.yaml:1:")),
        "{core}"
    );
    // Files: missing file is an I/O error naming it.
    let e = Topology::from_file("/nonexistent/topology.yaml").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/topology.yaml"));
}

fn skills_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "db-pool/SKILL.md",
        "---\nname: db-pool-triage\ndescription: |\n  Diagnose connection-pool exhaustion.\n  Second line is shown too.\nallowed-tools: [query_logs]\n---\n# Body\nlong text\n",
    );
    write(
        dir.path(),
        "alerts/SKILL.md",
        "---\nname: alert-routing\ndescription: Find who gets paged for an alert.\nallowed-tools: page_lookup  Bash(git:*)\n---\n",
    );
    write(dir.path(), "not-a-skill/README.md", "x");
    dir
}

#[test]
fn skill_folders_load_whole_descriptions_bodies_tools_and_files() {
    let dir = skills_dir();
    write(dir.path(), "alerts/references/routing.md", "x");
    let skills = load_skills(dir.path(), "skills/").unwrap();
    assert_eq!(
        skills,
        vec![
            Skill::new("alert-routing", "Find who gets paged for an alert.", "")
                .files(dir.path().join("alerts"), "skills/alerts")
                .tools(["page_lookup", "Bash(git:*)"]),
            Skill::new(
                "db-pool-triage",
                "Diagnose connection-pool exhaustion.\nSecond line is shown too.",
                "# Body\nlong text"
            )
            .files(dir.path().join("db-pool"), "skills/db-pool")
            .tools(["query_logs"]),
        ]
    );
    let set = Skills::new(skills).unwrap();
    assert_eq!(
        set.catalog().lines().skip(1).collect::<Vec<_>>(),
        [
            "- alert-routing (tools: page_lookup, Bash(git:*))",
            "  Find who gets paged for an alert.",
            "- db-pool-triage (tools: query_logs)",
            "  Diagnose connection-pool exhaustion.",
            "  Second line is shown too.",
        ]
    );
}

#[test]
fn bad_skill_files_are_errors_naming_the_file() {
    let dir = skills_dir();
    write(
        dir.path(),
        "broken/SKILL.md",
        "---\nname: broken\ndescription: [unclosed\n---\n",
    );
    let msg = load_skills(dir.path(), "skills").unwrap_err().to_string();
    assert!(msg.contains("broken/SKILL.md:3:"), "{msg}");
    fs::write(dir.path().join("broken/SKILL.md"), "no front matter\n").unwrap();
    let msg = load_skills(dir.path(), "skills").unwrap_err().to_string();
    assert!(msg.contains("broken/SKILL.md:1"), "{msg}");
    assert!(msg.contains("front matter"), "{msg}");
    fs::write(dir.path().join("broken/SKILL.md"), "---\nname: x\n---\n").unwrap();
    let msg = load_skills(dir.path(), "skills").unwrap_err().to_string();
    assert!(
        msg.contains("broken/SKILL.md") && msg.contains("description"),
        "{msg}"
    );
    fs::write(
        dir.path().join("broken/SKILL.md"),
        "---\nname: alert-routing\ndescription: dup\n---\n",
    )
    .unwrap();
    let msg = load_skills(dir.path(), "skills").unwrap_err().to_string();
    assert!(msg.contains("also defined"), "{msg}");
    let msg = load_skills(&dir.path().join("missing"), "skills")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("missing"), "{msg}");
}

/// Deterministic pseudo-random generator (no extra dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_input_never_panics() {
    let alphabet: Vec<char> =
        "abc:-_ \n\t[]{}\"',#&*!|>%@`0123456789é---name description accounts groups services"
            .chars()
            .collect();
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let seeds = [
        TOPOLOGY.to_string(),
        "---\nname: a\ndescription: b\n---\n".to_string(),
    ];
    for i in 0..3000 {
        let text: String = if i % 2 == 0 {
            let len = (rng.next() % 300) as usize;
            (0..len)
                .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
                .collect()
        } else {
            // Mutate a valid document: flip, insert or delete characters.
            let mut chars: Vec<char> = seeds[(i / 2) % 2].chars().collect();
            for _ in 0..(1 + rng.next() % 5) {
                let at = (rng.next() % chars.len().max(1) as u64) as usize;
                match rng.next() % 3 {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ => chars.insert(at, alphabet[(rng.next() % alphabet.len() as u64) as usize]),
                }
            }
            chars.into_iter().collect()
        };
        let _ = Topology::from_yaml(&text, "fuzz.yaml");
        let _ = Topology::from_json(&text, "fuzz.json");
        let _ = sre_context::parse_skill(&text, "fuzz/SKILL.md");
        let _ = sre_context::Heuristic::default();
        let _ = sre_context::Estimator::tokenizer().text(&text);
        let _ = sre_context::Estimator::heuristic().text(&text);
    }
}

/// The repositories layer reads the disk on the blocking pool: a ticker on the same
/// current-thread runtime keeps its pace while a repository with 300 `.gitignore`s is
/// walked. (The skills catalog is rendered in memory when the set is built.)
#[test]
fn file_reading_layers_do_not_stall_the_runtime_thread() {
    let repo = tempfile::tempdir().unwrap();
    // Walk cost comes from files and from `.gitignore` matchers built per directory.
    let ignore: String = (0..80).map(|i| format!("*.gen{i}\nbuild{i}/\n")).collect();
    for d in 0..60 {
        for m in 0..5 {
            write(
                repo.path(),
                &format!("pkg{d:02}/mod{m}/.gitignore"),
                &ignore,
            );
            for f in 0..5 {
                write(repo.path(), &format!("pkg{d:02}/mod{m}/file{f}.rs"), "\n");
            }
        }
    }
    write(repo.path(), "AGENTS.md", "Run make test.\n");
    let repositories = RepositoriesLayer::new([Repository::new("big", repo.path())]);
    let rt = common::current_thread();
    let (text, took, worst) = rt.block_on(common::lateness_during(
        repositories.render(&LayerContext::DETACHED),
    ));
    let text = text.unwrap();
    assert!(text.len() > 1000, "{text}");
    println!("repositories layer rendered in {took:?}; worst ticker lateness {worst:?}");
    assert!(
        worst * 4 < took,
        "repositories: the runtime thread stalled: ticker {worst:?} late during a {took:?} render"
    );
}
