//! Commands in namespaces (bubblewrap): what Landlock alone let through, each checked
//! against the outside: metadata changes, other processes' `/proc`, signals, survivors,
//! the network when off; and the fallback to Landlock, said in the header.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use common::Fixture;
use sre_tools::namespace::{NamespaceConfig, Network};
use sre_tools::{Confinement, ExecConfig, ExecRequest, Executor};
use tokio_util::sync::CancellationToken;

fn executor(f: &Fixture, network: Network) -> Executor {
    Executor::new(
        f.ws.clone(),
        ExecConfig {
            namespaces: NamespaceConfig {
                enabled: true,
                network,
                ..NamespaceConfig::default()
            },
            ..ExecConfig::default()
        },
    )
}

/// Whether bwrap works here; tests say so and stop when it does not (scripts/test.sh
/// installs it, so on CI it does).
fn namespaces_here(exec: &Executor) -> bool {
    match exec.confinement() {
        Confinement::Namespaces { .. } => true,
        other => {
            assert!(
                std::env::var_os("SRE_REQUIRE_NAMESPACES").is_none(),
                "namespaces are required here (SRE_REQUIRE_NAMESPACES): {other}"
            );
            eprintln!("skipped: no namespaces here: {other}");
            false
        }
    }
}

async fn bash(exec: &Executor, f: &Fixture, script: &str) -> String {
    let req = ExecRequest::new(
        "bash",
        vec!["-c".into(), script.into()],
        f.ws.root().to_path_buf(),
    );
    exec.run(req, &CancellationToken::new())
        .await
        .unwrap()
        .render()
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_outside_the_writable_mounts_cannot_change() {
    let f = Fixture::new();
    let exec = executor(&f, Network::On);
    if !namespaces_here(&exec) {
        return;
    }
    let target = f.outside.path().join("victim.txt");
    std::fs::write(&target, "v").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = std::fs::metadata(&target).unwrap();
    let t = target.display();
    let o = f.outside.path().display();
    let out = bash(
        &exec,
        &f,
        &format!(
            "chmod 777 {t}; echo chmod=$?; chown 65534 {t}; echo chown=$?; touch -d 2001-01-01 {t}; echo touch=$?; \
             python3 -c 'import os; os.setxattr(\"{t}\", \"user.x\", b\"1\")'; echo xattr=$?; \
             mount -o remount,rw / 2>/dev/null; echo remount=$?; touch {o}/made 2>/dev/null; echo made=$?; \
             echo inside > scratch/ok.txt; echo write=$?"
        ),
    )
    .await;
    assert!(
        out.contains("namespaces: read-only outside writable mounts"),
        "{out}"
    );
    // Root inside has no capabilities: it cannot remount `/` read-write either.
    for op in ["chmod", "chown", "touch", "xattr", "remount", "made"] {
        assert!(!out.contains(&format!("{op}=0")), "{op} succeeded: {out}");
    }
    assert!(out.contains("write=0"), "{out}");
    assert!(!f.outside.path().join("made").exists());
    let after = std::fs::metadata(&target).unwrap();
    assert_eq!(
        (before.mode(), before.uid(), before.mtime()),
        (after.mode(), after.uid(), after.mtime())
    );
    assert_eq!(
        std::fs::read_to_string(f.root.path().join("scratch/ok.txt")).unwrap(),
        "inside\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn other_processes_are_invisible_and_unsignalable() {
    let f = Fixture::new();
    let exec = executor(&f, Network::On);
    if !namespaces_here(&exec) {
        return;
    }
    let mut outside = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let host = std::process::id();
    let out = bash(
        &exec,
        &f,
        &format!(
            "ls /proc | grep -c '^[0-9]'; cat /proc/{host}/environ >/dev/null 2>&1; echo environ=$?; \
             kill -TERM {} 2>/dev/null; echo kill=$?",
            outside.id()
        ),
    )
    .await;
    // bwrap's init, bash, and the command substitutions: a handful, not the host's hundreds.
    let visible: usize = out
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(usize::MAX);
    assert!(visible < 10, "{visible} processes visible:\n{out}");
    assert!(out.contains("environ=1") && out.contains("kill=1"), "{out}");
    assert!(
        outside.try_wait().unwrap().is_none(),
        "the outside process was killed"
    );
    outside.kill().unwrap();
    let _ = outside.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_that_calls_setsid_dies_with_the_call() {
    let f = Fixture::new();
    let exec = executor(&f, Network::On);
    if !namespaces_here(&exec) {
        return;
    }
    let marker = f.root.path().join("scratch/alive");
    let out = bash(
        &exec,
        &f,
        "setsid bash -c 'while true; do date +%s%N > scratch/alive; sleep 0.05; done' & sleep 0.3; echo started",
    )
    .await;
    assert!(out.contains("started"), "{out}");
    assert!(marker.exists(), "the survivor never ran");
    // Once the call is over nothing rewrites the marker.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = std::fs::read_to_string(&marker).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        first,
        "a process outlived the call"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_network_follows_the_policy() {
    let f = Fixture::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let probe = format!(
        "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=2); print(\"connected\")'"
    );
    let on = executor(&f, Network::On);
    if !namespaces_here(&on) {
        return;
    }
    assert!(bash(&on, &f, &probe).await.contains("connected"));
    let off = executor(&f, Network::Off);
    let out = bash(&off, &f, &probe).await;
    assert!(out.contains("network off"), "{out}");
    assert!(!out.contains("connected\n"), "{out}");
    // Nor a host UNIX socket at a path (a container engine's, a database's).
    let socket = f.outside.path().join("host.sock");
    let _host = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let unix = format!(
        "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"{}\"); print(\"connected\")'",
        socket.display()
    );
    assert!(bash(&on, &f, &unix).await.contains("connected\n"));
    let out = bash(&off, &f, &unix).await;
    assert!(!out.contains("connected\n"), "{out}");
    // The workspace is still there with the network off.
    assert!(bash(&off, &f, "ls repos/app/src").await.contains("main.rs"));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_bwrap_landlock_applies_and_the_header_says_why() {
    let f = Fixture::new();
    let exec = Executor::new(
        f.ws.clone(),
        ExecConfig {
            namespaces: NamespaceConfig {
                enabled: true,
                bwrap: "/nonexistent/bwrap".into(),
                ..NamespaceConfig::default()
            },
            ..ExecConfig::default()
        },
    );
    let confinement = exec.confinement();
    assert!(
        matches!(confinement, Confinement::Landlock { .. }),
        "{confinement}"
    );
    assert!(
        confinement
            .to_string()
            .contains("/nonexistent/bwrap not found"),
        "{confinement}"
    );
    let out = bash(&exec, &f, "true").await;
    assert!(out.contains("no namespaces"), "{out}");
}

fn executor_with(f: &Fixture, config: NamespaceConfig) -> Executor {
    Executor::new(
        f.ws.clone(),
        ExecConfig {
            namespaces: config,
            ..ExecConfig::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_files_are_hidden_from_commands() {
    let f = Fixture::new();
    // A home of the host user's: credentials (one reached through a symbolic link), a
    // toolchain folder that must stay usable, and its own credential file.
    let home = f.outside.path().join("home");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::create_dir_all(home.join(".tool/bin")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        "aws_secret_access_key = AKIAHIDDEN\n",
    )
    .unwrap();
    std::fs::write(
        f.outside.path().join("real-netrc"),
        "machine x password NETRCHIDDEN\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(f.outside.path().join("real-netrc"), home.join(".netrc")).unwrap();
    std::fs::write(home.join("notes.txt"), "HOMENOTE\n").unwrap();
    std::fs::write(home.join(".tool/bin/run"), "echo toolchain works\n").unwrap();
    std::fs::write(home.join(".tool/credentials"), "TOOLTOKEN\n").unwrap();
    let mut config = NamespaceConfig::default();
    config.hidden.extend([
        home.clone(),
        home.join(".netrc"),
        home.join(".tool/credentials"),
        home.join(".no-such-file"),
    ]);
    config.exposed.push(home.join(".tool"));
    let exec = executor_with(&f, config);
    if !namespaces_here(&exec) {
        return;
    }
    let h = home.display();
    let real = f.outside.path().join("real-netrc");
    let out = bash(
        &exec,
        &f,
        &format!(
            "cat {h}/.aws/credentials {h}/notes.txt {h}/.netrc {} {h}/.tool/credentials; \
             bash {h}/.tool/bin/run; ls -A {h} | tr '\\n' ' '; echo; touch {h}/x; echo touch=$?",
            real.display()
        ),
    )
    .await;
    for secret in ["AKIAHIDDEN", "NETRCHIDDEN", "HOMENOTE", "TOOLTOKEN"] {
        assert!(!out.contains(secret), "{secret} leaked: {out}");
    }
    // The exposed toolchain runs; the rest of the home is an empty read-only folder.
    assert!(out.contains("toolchain works"), "{out}");
    assert!(
        out.contains("\n.tool \n"),
        "only the exposed folder is seen: {out}"
    );
    assert!(out.contains("touch=1"), "{out}");
    // A hidden file (here the target of the `.netrc` link) reads as an unreadable device.
    assert!(out.contains("real-netrc: Permission denied"), "{out}");
    assert_eq!(
        std::fs::read_to_string(home.join(".aws/credentials")).unwrap(),
        "aws_secret_access_key = AKIAHIDDEN\n",
        "untouched outside"
    );
    if rustix::process::geteuid().is_root() {
        // Readable by root without hiding (root owns it): hidden by default.
        let out = bash(&exec, &f, "cat /etc/shadow; echo shadow=$?").await;
        assert!(out.contains("shadow=1") && !out.contains("root:"), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hidden_paths_and_the_workspace_overlap_safely() {
    let f = Fixture::new();
    std::fs::write(f.path("scratch/.netrc"), "SCRATCHTOKEN\n").unwrap();
    // The workspace inside a hidden folder (an agent home holding its workspace), a hidden
    // folder inside the workspace, a hidden file inside a writable mount.
    let mut config = NamespaceConfig::default();
    config.hidden.extend([
        f.base.path().to_path_buf(),
        f.path("repos/app/src"),
        f.path("scratch/.netrc"),
    ]);
    let exec = executor_with(&f, config);
    if !namespaces_here(&exec) {
        return;
    }
    let out = bash(
        &exec,
        &f,
        &format!(
            "cat logs/app.log; cat repos/app/src/main.rs; cat scratch/.netrc; \
             echo in > scratch/in.txt; echo w=$?; ls {}; echo ls=$?",
            f.outside.path().display()
        ),
    )
    .await;
    assert!(out.contains("ERROR boom") && out.contains("w=0"), "{out}");
    assert!(
        !out.contains("println!") && !out.contains("SCRATCHTOKEN"),
        "{out}"
    );
    assert!(out.contains("ls=2"), "the sibling folder is hidden: {out}");
    assert_eq!(
        std::fs::read_to_string(f.path("scratch/in.txt")).unwrap(),
        "in\n"
    );
    // Hiding the workspace itself, or a writable mount, is refused, not silently undone.
    for clash in [f.ws.root().to_path_buf(), f.path("scratch")] {
        let mut config = NamespaceConfig::default();
        config.hidden.push(clash.clone());
        let req = ExecRequest::new("true", vec![], f.ws.root().to_path_buf());
        let err = executor_with(&f, config)
            .run(req, &CancellationToken::new())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("both hidden from commands"),
            "{}: {err}",
            clash.display()
        );
    }
    // By default: the users' homes, system secrets and the sockets that grant the host's rights.
    let defaults = sre_tools::namespace::default_hidden();
    for p in [
        "/root",
        "/home",
        "/etc/shadow",
        "/run/secrets",
        "/run/docker.sock",
        "/run/user",
    ] {
        assert!(
            defaults.contains(&std::path::PathBuf::from(p)),
            "{p}: {defaults:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_has_a_session_of_its_own() {
    // No controlling terminal shared with the host: nothing to type into with TIOCSTI.
    let f = Fixture::new();
    let exec = executor(&f, Network::On);
    if !namespaces_here(&exec) {
        return;
    }
    // The session leader is inside the sandbox: the command itself (Landlock: setsid in the
    // child), or bwrap's first process in the PID namespace (`--new-session`); a session
    // led from outside the namespace shows as 0.
    let script = "sid=$(cut -d' ' -f6 /proc/$$/stat); \
                  { [ \"$sid\" = \"$$\" ] || [ \"$sid\" = 1 ]; } && echo own-session || echo sid=$sid";
    let out = bash(&exec, &f, script).await;
    assert!(out.contains("own-session"), "{out}");
    let landlock = Executor::new(f.ws.clone(), common::landlock_only());
    let out = bash(&landlock, &f, script).await;
    assert!(out.contains("own-session"), "under Landlock too: {out}");
}

#[test]
fn the_same_holds_for_an_unprivileged_user() {
    common::rerun_as_nobody(&[
        "metadata_outside_the_writable_mounts_cannot_change",
        "other_processes_are_invisible_and_unsignalable",
        "a_process_that_calls_setsid_dies_with_the_call",
        "the_network_follows_the_policy",
        "secret_files_are_hidden_from_commands",
        "hidden_paths_and_the_workspace_overlap_safely",
        "a_command_has_a_session_of_its_own",
    ]);
}
