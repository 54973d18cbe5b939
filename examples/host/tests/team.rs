//! Teams assembled from files, through real loops: agent types (ReadOnly, Review), agents as
//! tools, one call at a time, and a thread resumed in the hop it was interrupted in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sre_core::{AgentEvent, Approver, EventKind, HookInput, Session, StopCause};
use sre_host::home::AgentHome;
use sre_host::team::{ModelSource, Team, TeamOptions};

/// Write `files` (path, text) under a new home, and the script beside it.
fn home(files: &[(&str, &str)], script: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    for (path, text) in files {
        let p = home.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let script_path = dir.path().join("script.yaml");
    std::fs::write(&script_path, script).unwrap();
    (dir, home, script_path)
}

fn agent(name: &str, extra: &str) -> String {
    format!(
        "api_version: azuresre.ai/v2\nkind: ExtendedAgent\nspec:\n  name: {name}\n  system_prompt: You are {name}.\n{extra}"
    )
}

async fn assemble(dir: &Path, home: &Path, script: &Path, approver: Arc<dyn Approver>) -> Team {
    assemble_with(dir, home, script, approver, |_| {}).await
}

async fn assemble_with(
    dir: &Path,
    home: &Path,
    script: &Path,
    approver: Arc<dyn Approver>,
    tweak: impl FnOnce(&mut TeamOptions),
) -> Team {
    let loaded = AgentHome::load(home).unwrap_or_else(|e| panic!("{e}"));
    let mut options = TeamOptions::new(dir.join("ws"), ModelSource::Script(script.to_path_buf()));
    options.approver = approver;
    options.cache_dir = Some(common::shared_cache());
    tweak(&mut options);
    Team::assemble(loaded, options).await.unwrap()
}

fn deny() -> Arc<dyn Approver> {
    Arc::new(sre_host::team::AutoApproval::Deny)
}

fn tool_names(team: &Team, agent: &str) -> Vec<String> {
    team.agent(agent)
        .unwrap()
        .tool_specs()
        .iter()
        .map(|s| s.name.clone())
        .collect()
}

#[tokio::test]
async fn a_read_only_agent_reads_but_cannot_change_the_workspace() {
    let (dir, home, script) = home(
        &[(
            "agents/reader.yaml",
            &agent("reader", "  agent_type: ReadOnly\n"),
        )],
        "agents:\n  reader:\n    - tool_calls:\n        - {tool: shell, args: {command: 'touch made.txt'}}\n        - {tool: shell, args: {command: 'ls -a'}}\n    - final: looked\n",
    );
    let team = assemble(dir.path(), &home, &script, deny()).await;
    let tools = tool_names(&team, "reader");
    for t in ["read_file", "grep", "find", "list", "shell"] {
        assert!(tools.contains(&t.to_string()), "{t} missing from {tools:?}");
    }
    for t in ["write_file", "edit_file"] {
        assert!(
            !tools.contains(&t.to_string()),
            "{t} offered to a ReadOnly agent"
        );
    }
    let events = Arc::new(Mutex::new(Vec::<AgentEvent>::new()));
    let sink = events.clone();
    let session =
        Session::new("ro").with_events(Arc::new(move |e: AgentEvent| sink.lock().unwrap().push(e)));
    let out = team.run("reader", &session, "look around").await.unwrap();
    assert_eq!(out.last().unwrap().answer.as_deref(), Some("looked"));
    assert!(!team.workspace().join("made.txt").exists(), "the write ran");
    let events = events.lock().unwrap();
    let refused: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolRefused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("ReadOnly"), "{refused:?}");
    let ran = events
        .iter()
        .filter(|e| {
            matches!(
                &e.kind,
                EventKind::ToolFinished {
                    is_error: false,
                    ..
                }
            )
        })
        .count();
    assert_eq!(ran, 1, "`ls -a` runs in a ReadOnly agent");
}

/// Approves writes to `ok.txt` only, and remembers what it was asked.
#[derive(Default)]
struct Recording(Mutex<Vec<String>>);

#[async_trait]
impl Approver for Recording {
    async fn approve(&self, input: &HookInput, _reason: &str) -> bool {
        let call = input.to_json();
        let asked = format!("{} {}", call["tool_name"], call["tool_input"]["path"]);
        self.0.lock().unwrap().push(asked);
        call["tool_input"]["path"] == "scratch/ok.txt"
    }
}

#[tokio::test]
async fn a_review_agent_asks_before_every_change_and_only_then() {
    let (dir, home, script) = home(
        &[(
            "agents/reviewer.yaml",
            &agent("reviewer", "  agent_type: Review\n  tools: [Write, Read]\n"),
        )],
        "agents:\n  reviewer:\n    - tool_calls:\n        - {tool: write_file, args: {path: scratch/ok.txt, content: yes}}\n        - {tool: write_file, args: {path: scratch/no.txt, content: no}}\n    - tool_calls:\n        - {tool: read_file, args: {path: scratch/ok.txt}}\n    - final: wrote one\n",
    );
    let approver = Arc::new(Recording::default());
    let team = assemble(dir.path(), &home, &script, approver.clone()).await;
    let out = team
        .run("reviewer", &Session::new("rv"), "write")
        .await
        .unwrap();
    assert_eq!(out.last().unwrap().answer.as_deref(), Some("wrote one"));
    let asked = approver.0.lock().unwrap().clone();
    assert_eq!(
        asked,
        [
            "\"write_file\" \"scratch/ok.txt\"",
            "\"write_file\" \"scratch/no.txt\""
        ],
        "asked for each write, never for the read"
    );
    assert!(team.workspace().join("scratch/ok.txt").exists());
    assert!(!team.workspace().join("scratch/no.txt").exists());
}

#[tokio::test]
async fn an_agent_used_as_a_tool_runs_as_a_child_with_its_usage_in_the_tree() {
    let (dir, home, script) = home(
        &[
            (
                "agents/lead.yaml",
                &agent("lead", "  agents_as_tools: [reader]\n  tools: []\n"),
            ),
            (
                "agents/reader.yaml",
                &agent("reader", "  agent_type: ReadOnly\n"),
            ),
        ],
        "agents:\n  lead:\n    - tool_calls:\n        - {tool: ask_reader, args: {task: 'what files are there?'}}\n    - expect: {last_message_contains: ['only notes.md']}\n      final: the reader says only notes.md\n  ask_reader:\n    - expect: {last_message_contains: ['what files are there?']}\n      final: only notes.md\n",
    );
    let team = assemble(dir.path(), &home, &script, deny()).await;
    assert!(tool_names(&team, "lead").contains(&"ask_reader".to_string()));
    let out = team
        .run("lead", &Session::new("lead-1"), "survey")
        .await
        .unwrap();
    assert_eq!(
        out.last().unwrap().answer.as_deref(),
        Some("the reader says only notes.md")
    );
    let agents: Vec<&String> = out.usage.agents.keys().collect();
    assert!(agents.iter().any(|a| a.as_str() == "lead"), "{agents:?}");
    assert!(agents.iter().any(|a| a.starts_with("lead/")), "{agents:?}");
}

#[tokio::test]
async fn parallel_calls_off_runs_one_call_at_a_time() {
    // Each call writes its start and end (ns) to its own file; with one at a time, the
    // second starts after the first ended.
    let call = |n: u8| {
        format!(
            "        - {{tool: shell, args: {{command: 'date +%s%N > scratch/s{n}; sleep 0.4; date +%s%N > scratch/e{n}'}}}}\n"
        )
    };
    let script = format!(
        "agents:\n  serial:\n    - tool_calls:\n{}{}    - final: done\n",
        call(1),
        call(2)
    );
    let (dir, home, script) = home(
        &[(
            "agents/serial.yaml",
            &agent(
                "serial",
                "  allow_parallel_tool_calls: false\n  tools: [Bash]\n",
            ),
        )],
        &script,
    );
    let team = assemble(dir.path(), &home, &script, deny()).await;
    team.run("serial", &Session::new("s"), "go").await.unwrap();
    let read = |f: &str| -> u128 {
        std::fs::read_to_string(team.workspace().join("scratch").join(f))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let (s1, e1, s2, e2) = (read("s1"), read("e1"), read("s2"), read("e2"));
    assert!(
        s2 >= e1 || s1 >= e2,
        "the calls overlapped: {s1}..{e1} and {s2}..{e2}"
    );
}

#[tokio::test]
async fn a_thread_resumes_in_the_hop_it_was_interrupted_in() {
    let (dir, home, script) = home(
        &[
            (
                "agents/lead.yaml",
                &agent("lead", "  handoffs: [worker]\n  tools: []\n"),
            ),
            (
                "agents/worker.yaml",
                &agent(
                    "worker",
                    "  handoff_description: does the work\n  tools: [Bash]\n",
                ),
            ),
        ],
        "agents:\n  lead:\n    - tool_calls:\n        - {tool: handoff, args: {to: worker, note: 'count to three'}}\n  worker:\n    - expect: {last_message_contains: ['count to three', 'the original task']}\n      tool_calls:\n        - {tool: shell, args: {command: 'echo run >> runs.txt; sleep 30'}}\n    - expect: {last_message_contains: ['Cancelled while `shell` was running', 'may or may not have taken effect']}\n      final: counted\n",
    );
    let team = assemble(dir.path(), &home, &script, deny()).await;
    let session = Session::new("th");
    let cancel = session.cancel.clone();
    let session = session.with_events(Arc::new(move |e: AgentEvent| {
        if matches!(e.kind, EventKind::ToolStarted { .. }) && e.agent == "worker" {
            cancel.cancel();
        }
    }));
    let first = team.run("lead", &session, "the original task").await;
    assert!(first.is_err(), "the thread was cancelled: {first:?}");

    let resumed = std::time::Instant::now();
    let out = team.resume("lead", &Session::new("th")).await.unwrap();
    // The interrupted call is not run again: the model is told it was cancelled and may or
    // may not have taken effect (the script's `expect`), and the resume does not wait for
    // another `sleep 30`.
    assert!(resumed.elapsed().as_secs() < 20, "the call ran again");
    let runs = std::fs::read_to_string(team.workspace().join("runs.txt")).unwrap_or_default();
    assert!(runs.lines().count() <= 1, "{runs}");
    let hops: Vec<(&str, &str)> = out
        .hops
        .iter()
        .map(|h| (h.agent.as_str(), h.session_id.as_str()))
        .collect();
    assert_eq!(hops, [("lead", "th"), ("worker", "th--handoff1-worker")]);
    assert!(matches!(&out.hops[0].outcome.cause, StopCause::Handoff { to, .. } if to == "worker"));
    assert_eq!(out.last().unwrap().answer.as_deref(), Some("counted"));
}

#[tokio::test]
async fn a_second_task_in_a_thread_gets_its_own_answer_through_every_hop() {
    let (dir, home, script) = home(
        &[
            (
                "agents/lead.yaml",
                &agent("lead", "  handoffs: [worker]\n  tools: []\n"),
            ),
            (
                "agents/worker.yaml",
                &agent(
                    "worker",
                    "  handoff_description: does the work\n  tools: []\n",
                ),
            ),
        ],
        "agents:\n  lead:\n    - expect: {last_message_contains: ['task one']}\n      tool_calls:\n        - {tool: handoff, args: {to: worker, note: 'do it'}}\n    - expect: {last_message_contains: ['task two']}\n      tool_calls:\n        - {tool: handoff, args: {to: worker, note: 'do it'}}\n  worker:\n    - expect: {last_message_contains: ['task one']}\n      final: answer one\n    - expect: {last_message_contains: ['task two']}\n      final: answer two\n",
    );
    let team = assemble(dir.path(), &home, &script, deny()).await;
    let first = team
        .run("lead", &Session::new("t"), "task one")
        .await
        .unwrap();
    assert_eq!(first.last().unwrap().answer.as_deref(), Some("answer one"));
    let second = team
        .run("lead", &Session::new("t"), "task two")
        .await
        .unwrap();
    let hops: Vec<&str> = second.hops.iter().map(|h| h.session_id.as_str()).collect();
    assert_eq!(hops, ["t", "t--handoff1-worker"]);
    assert_eq!(second.last().unwrap().answer.as_deref(), Some("answer two"));
}

#[tokio::test]
async fn an_on_demand_hook_follows_its_thread_into_agents_used_as_tools() {
    let (dir, home, script) = home(
        &[
            (
                "agents/lead.yaml",
                &agent("lead", "  agents_as_tools: [reader]\n  tools: [Bash]\n"),
            ),
            ("agents/reader.yaml", &agent("reader", "  tools: [Bash]\n")),
            (
                "hooks/log.yaml",
                "kind: HookConfiguration\nspec:\n  hooks:\n    - name: log\n      event: PostToolUse\n      type: command\n      matcher: '*'\n      activation: on-demand\n      command: '{ cat; echo; } >> ../audit/calls.log'\n",
            ),
        ],
        // The same steps twice: one run with the hook off, one with it on.
        &"agents:\n  lead:\n    - tool_calls:\n        - {tool: shell, args: {command: 'true'}}\n    - tool_calls:\n        - {tool: ask_reader, args: {task: look}}\n    - final: done\n  ask_reader:\n    - tool_calls:\n        - {tool: shell, args: {command: 'true'}}\n    - final: seen\n"
            .replace("    - final: done\n  ask_reader:\n", "    - final: done\n    - tool_calls:\n        - {tool: shell, args: {command: 'true'}}\n    - tool_calls:\n        - {tool: ask_reader, args: {task: look}}\n    - final: done\n  ask_reader:\n")
            .replace("    - final: seen\n", "    - final: seen\n    - tool_calls:\n        - {tool: shell, args: {command: 'true'}}\n    - final: seen\n"),
    );
    // The audit folder is the one place outside the workspace the (confined) hook may write.
    let audit = dir.path().join("audit");
    std::fs::create_dir(&audit).unwrap();
    let team = assemble_with(dir.path(), &home, &script, deny(), |o| {
        o.hooks.writable = vec![audit.clone()]
    })
    .await;
    assert_eq!(team.on_demand_hooks().collect::<Vec<_>>(), ["log"]);
    let err = team.enable_hook("t", "lgo").unwrap_err().to_string();
    assert!(err.contains("lgo") && err.contains("log"), "{err}");
    // Off in another thread: nothing is logged there.
    team.run("lead", &Session::new("quiet"), "go")
        .await
        .unwrap();
    let log = audit.join("calls.log");
    assert!(!log.exists(), "the hook ran while off");

    team.enable_hook("t", "log").unwrap();
    team.run("lead", &Session::new("t"), "go").await.unwrap();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sessions: Vec<&str> = lines
        .iter()
        .map(|l| l["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(sessions[0], "t");
    assert!(
        sessions[1].starts_with("t--"),
        "the child's call: {sessions:?}"
    );
    assert_eq!(lines[2]["tool_name"], "ask_reader");
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_get_the_network_the_agent_declares_and_never_the_agent_home() {
    // A host service on the loopback that greets whoever connects.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut &stream, b"hello from the host\n");
        }
    });
    let call = format!(
        "    - tool_calls:\n        - {{tool: shell, args: {{command: 'cat < /dev/tcp/127.0.0.1/{port}'}}}}\n"
    );
    let names = ["reader", "doer", "sealed", "open_reader"];
    let script = names.iter().fold("agents:\n".to_string(), |s, n| {
        format!("{s}  {n}:\n{call}    - final: {n}\n")
    });
    let (dir, home, script) = home(
        &[
            (
                "agents/reader.yaml",
                &agent("reader", "  agent_type: ReadOnly\n  tools: [Bash]\n"),
            ),
            ("agents/doer.yaml", &agent("doer", "  tools: [Bash]\n")),
            (
                "agents/sealed.yaml",
                &agent("sealed", "  network: off\n  tools: [Bash]\n"),
            ),
            (
                "agents/open_reader.yaml",
                &agent(
                    "open_reader",
                    "  agent_type: ReadOnly\n  network: on\n  tools: [Bash]\n",
                ),
            ),
        ],
        &script,
    );
    let team = assemble(dir.path(), &home, &script, deny()).await;
    let doer = tool_outputs(&team, "doer").await;
    assert!(doer.contains("sandbox: namespaces"), "{doer}");
    assert!(
        doer.contains("hello from the host") && doer.contains("network on"),
        "{doer}"
    );
    for agent in ["reader", "sealed"] {
        let out = tool_outputs(&team, agent).await;
        assert!(out.contains("network off"), "{agent}: {out}");
        assert!(!out.contains("hello from the host"), "{agent}: {out}");
    }
    let open = tool_outputs(&team, "open_reader").await;
    assert!(
        open.contains("hello from the host") && open.contains("network on"),
        "{open}"
    );
}

/// What the tools of `agent`'s run said (the run takes the task "go").
async fn tool_outputs(team: &Team, agent: &str) -> String {
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = seen.clone();
    // A new thread each time (a team may be assembled again on the same workspace).
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let session =
        Session::new(format!("{agent}-{n}")).with_events(Arc::new(move |e: AgentEvent| {
            if let EventKind::ToolFinished { output, .. } = &e.kind {
                sink.lock().unwrap().push_str(output);
            }
        }));
    team.run(agent, &session, "go").await.unwrap();
    seen.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_home_is_hidden_from_commands_wherever_the_workspace_is() {
    // The workspace next to the home, or inside it (`sre run`'s default).
    for (workspace, up) in [("ws", "../home"), ("home/.sre/workspace", "../..")] {
        let script = format!(
            "agents:\n  doer:\n    - tool_calls:\n        - {{tool: shell, args: {{command: 'echo home=$(cat {up}/agents/doer.yaml | wc -c)'}}}}\n    - final: d\n"
        );
        let (dir, home, script) = home(
            &[("agents/doer.yaml", &agent("doer", "  tools: [Bash]\n"))],
            &script,
        );
        let size = std::fs::metadata(home.join("agents/doer.yaml"))
            .unwrap()
            .len();
        let ws = dir.path().join(workspace);
        let hidden = assemble_with(dir.path(), &home, &script, deny(), |o| {
            o.workspace = ws.clone()
        })
        .await;
        let out = tool_outputs(&hidden, "doer").await;
        assert!(
            out.contains("home=0") && out.contains("No such file"),
            "{workspace}: {out}"
        );
        // The same path reaches the file when the namespaces are off (Landlock alone):
        // what the command tried is right, and only the namespaces hide it.
        let seen = assemble_with(dir.path(), &home, &script, deny(), |o| {
            o.workspace = ws.clone();
            o.namespaces = false;
        })
        .await;
        let out = tool_outputs(&seen, "doer").await;
        assert!(out.contains(&format!("home={size}")), "{workspace}: {out}");
    }
    // A workspace that holds the agent home is refused: the agents could read the home.
    let (dir, home, script) = home(
        &[("agents/doer.yaml", &agent("doer", "  tools: [Bash]\n"))],
        "agents: {}\n",
    );
    let mut options = TeamOptions::new(dir.path(), ModelSource::Script(script));
    options.cache_dir = Some(common::shared_cache());
    let err = Team::assemble(AgentHome::load(&home).unwrap(), options)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("holds the agent home"), "{err}");
}

#[test]
fn a_network_that_is_neither_on_nor_off_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("agents")).unwrap();
    std::fs::write(
        dir.path().join("agents/a.yaml"),
        agent("a", "  network: sometimes\n"),
    )
    .unwrap();
    let err = AgentHome::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("spec.network") && err.contains("expected `on` or `off`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn command_hooks_run_confined_unless_the_operator_says_otherwise() {
    // The hook reports what it can reach: a host variable (cargo sets CARGO_MANIFEST_DIR
    // for this test process, outside the allow-list), this process's environment through
    // /proc, and a write next to the workspace.
    let me = std::process::id();
    let hook = format!(
        "kind: HookConfiguration\nspec:\n  hooks:\n    - name: probe\n      event: PreToolUse\n      type: command\n      matcher: shell\n      command: 'echo env=${{CARGO_MANIFEST_DIR:-none}} > scratch/probe.txt; \
         echo environ=$(tr \"\\\\0\" \"\\\\n\" < /proc/{me}/environ 2>/dev/null | grep -c CARGO_MANIFEST_DIR) >> scratch/probe.txt; \
         touch ../by-hook 2>/dev/null; echo touch=$? >> scratch/probe.txt'\n"
    );
    let script = "agents:\n  doer:\n    - tool_calls:\n        - {tool: shell, args: {command: 'true'}}\n    - final: d\n";
    let probe = |tweak: fn(&mut TeamOptions)| {
        let hook = hook.clone();
        async move {
            let (dir, home, script) = home(
                &[
                    ("agents/doer.yaml", &agent("doer", "  tools: [Bash]\n")),
                    ("hooks/probe.yaml", &hook),
                ],
                script,
            );
            let team = assemble_with(dir.path(), &home, &script, deny(), tweak).await;
            team.run("doer", &Session::new("s"), "go").await.unwrap();
            let seen = std::fs::read_to_string(dir.path().join("ws/scratch/probe.txt")).unwrap();
            let outside = dir.path().join("by-hook").exists();
            (seen, outside)
        }
    };
    let (confined, outside) = probe(|_| {}).await;
    assert!(confined.contains("env=none"), "{confined}");
    assert!(!confined.contains("environ=1"), "{confined}");
    assert!(confined.contains("environ=0"), "{confined}");
    assert!(confined.contains("touch=1") && !outside, "{confined}");
    // A variable the operator passes on reaches it.
    let (passed, _) = probe(|o| o.hooks.pass_env = vec!["CARGO_MANIFEST_DIR".into()]).await;
    assert!(
        passed.contains(&format!("env={}", env!("CARGO_MANIFEST_DIR"))),
        "{passed}"
    );
    // Unconfined, as Claude Code runs hooks: the host's rights and environment.
    let (open, outside) = probe(|o| o.hooks.confine = false).await;
    assert!(
        open.contains(&format!("env={}", env!("CARGO_MANIFEST_DIR"))),
        "{open}"
    );
    assert!(open.contains("touch=0") && outside, "{open}");
    // The same /proc read sees this process's environment when nothing confines it.
    assert!(open.contains("environ=1"), "{open}");
}
