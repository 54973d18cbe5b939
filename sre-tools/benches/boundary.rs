//! What the workspace boundary costs, side by side in one run:
//! - opening and reading a small file by path (what the file tools did) against relative to
//!   the root's handle with `openat2` (what they do) and component by component with
//!   `O_NOFOLLOW` (the fallback on kernels without `openat2`);
//! - running `true` as a command under Landlock alone against in namespaces (bubblewrap),
//!   with the default hidden paths and without any (what hiding the secrets costs).
//!
//! Run: `cargo bench -p sre-tools --bench boundary`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use sre_tools::beneath::Anchor;
use sre_tools::namespace::NamespaceConfig;
use sre_tools::{ExecConfig, ExecRequest, Executor, MountMode, Workspace};
use tokio_util::sync::CancellationToken;

fn main() {
    divan::main();
}

struct Env {
    root: PathBuf,
    anchor: Anchor,
    walking: Anchor,
    landlock: Executor,
    namespaces: Executor,
    /// Namespaces without hidden or exposed paths: what hiding the secrets costs.
    namespaces_bare: Executor,
    rt: tokio::runtime::Runtime,
    _tmp: tempfile::TempDir,
}

const REL: &str = "repos/api/src/handlers/payments.rs";

static ENV: LazyLock<Env> = LazyLock::new(|| {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    std::fs::create_dir_all(root.join("repos/api/src/handlers")).unwrap();
    std::fs::write(root.join(REL), "fn pay() {}\n".repeat(200)).unwrap();
    let ws = Workspace::builder(&root)
        .mount("repos", MountMode::ReadOnly)
        .mount("scratch", MountMode::Writable)
        .build()
        .unwrap();
    let namespaces = ExecConfig {
        namespaces: NamespaceConfig {
            enabled: true,
            ..NamespaceConfig::default()
        },
        ..ExecConfig::default()
    };
    let namespaces = Executor::new(ws.clone(), namespaces);
    eprintln!("namespaced executor: {}", namespaces.confinement());
    let namespaces_bare = Executor::new(
        ws.clone(),
        ExecConfig {
            namespaces: NamespaceConfig {
                hidden: Vec::new(),
                exposed: Vec::new(),
                ..NamespaceConfig::default()
            },
            ..ExecConfig::default()
        },
    );
    Env {
        anchor: Anchor::open(&root).unwrap(),
        walking: Anchor::walking(&root).unwrap(),
        landlock: Executor::new(
            ws,
            ExecConfig {
                namespaces: NamespaceConfig {
                    enabled: false,
                    ..NamespaceConfig::default()
                },
                ..ExecConfig::default()
            },
        ),
        namespaces,
        namespaces_bare,
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        root,
        _tmp: tmp,
    }
});

fn read_all(mut f: std::fs::File) -> usize {
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).unwrap();
    buf.len()
}

#[divan::bench]
fn open_read_by_path() -> usize {
    read_all(std::fs::File::open(ENV.root.join(REL)).unwrap())
}

#[divan::bench]
fn open_read_beneath_openat2() -> usize {
    read_all(ENV.anchor.read(Path::new(REL)).unwrap())
}

#[divan::bench]
fn open_read_beneath_component_walk() -> usize {
    read_all(ENV.walking.read(Path::new(REL)).unwrap())
}

fn run(exec: &Executor) -> bool {
    let req = ExecRequest::new("true", Vec::new(), ENV.root.clone());
    ENV.rt
        .block_on(exec.run(req, &CancellationToken::new()))
        .unwrap()
        .success()
}

#[divan::bench(sample_count = 30)]
fn command_true_landlock() -> bool {
    run(&ENV.landlock)
}

#[divan::bench(sample_count = 30)]
fn command_true_namespaces() -> bool {
    run(&ENV.namespaces)
}

#[divan::bench(sample_count = 30)]
fn command_true_namespaces_nothing_hidden() -> bool {
    run(&ENV.namespaces_bare)
}
