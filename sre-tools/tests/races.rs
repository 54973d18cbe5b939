//! The file tools against a process that keeps swapping a workspace directory for a symlink
//! to an outside one (what a background job the agent left running can do): no call may
//! write, read or list outside the workspace, however the race falls.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::Fixture;
use sre_tools::files::{EditFile, EditFileArgs, ReadFile, ReadFileArgs, WriteFile, WriteFileArgs};
use sre_tools::list::{List, ListArgs};

/// How many calls each tool makes against the swapping loop: at the 2-3% a path-based open
/// loses, a few hundred calls lose several times.
const CALLS: usize = 1500;

/// Swap `dir` (a real directory) with a symlink to `target` and back until stopped,
/// counting the swaps in `swaps`. Each swap is one atomic exchange (`RENAME_EXCHANGE`), so
/// `dir` never goes missing (a write creating it meanwhile would jam a rename-based swap).
fn swapper(
    dir: &Path,
    target: &Path,
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    let dir = dir.to_path_buf();
    let link = dir.with_extension("link");
    std::os::unix::fs::symlink(target, &link).unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            // `dir` becomes the symlink, then the directory again.
            for _ in 0..2 {
                renameat_with(CWD, &dir, CWD, &link, RenameFlags::EXCHANGE).unwrap();
                std::thread::yield_now();
            }
            swaps.fetch_add(1, Ordering::Relaxed);
        }
    })
}

fn outside_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn writes_reads_edits_and_listings_never_follow_a_swapped_in_symlink() {
    let f = Fixture::new();
    let outside = f.outside.path();
    std::fs::write(outside.join("bait.txt"), "OUTSIDE SECRET\n").unwrap();
    std::fs::write(outside.join("outside-only.txt"), "").unwrap();
    let before = outside_entries(outside);
    let dir = f.root.path().join("scratch/d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bait.txt"), "inside\n").unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapping = swapper(&dir, outside, stop.clone(), swaps.clone());
    let (write, read) = (WriteFile::new(f.ws.clone()), ReadFile::new(f.ws.clone()));
    let (edit, list) = (EditFile::new(f.ws.clone()), List::new(f.ws.clone()));
    let mut leaked = Vec::new();
    let mut refused_changed = 0;
    // At least CALLS rounds, and on a loaded machine more, until the swapper has met the
    // tools often enough (bounded in time).
    let started = std::time::Instant::now();
    let mut i = 0;
    while i < CALLS
        || ((swaps.load(Ordering::Relaxed) < 1000 || refused_changed == 0)
            && started.elapsed().as_secs() < 60)
    {
        i += 1;
        let path = format!("scratch/d/f{i}.txt");
        if let Err(e) = write.write(&WriteFileArgs {
            path,
            content: "x".into(),
        }) {
            refused_changed += usize::from(e.to_string().contains("changed while"));
        }
        let args = ReadFileArgs {
            path: "scratch/d/bait.txt".into(),
            offset: None,
            limit: None,
        };
        if let Ok(text) = read.read(&args)
            && text.contains("OUTSIDE")
        {
            leaked.push(format!("read_file: {text}"));
        }
        let _ = edit.edit(&EditFileArgs {
            path: "scratch/d/bait.txt".into(),
            old_string: "SECRET".into(),
            new_string: "CHANGED".into(),
            replace_all: false,
        });
        let listing = list.list(&ListArgs {
            path: Some("scratch/d".into()),
            depth: None,
            max_entries: None,
        });
        if let Ok(text) = listing
            && text.contains("outside-only")
        {
            leaked.push(format!("list: {text}"));
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapping.join().unwrap();
    let swaps = swaps.load(Ordering::Relaxed);
    assert!(
        swaps >= 1000,
        "the race barely ran ({swaps} swaps in {i} rounds)"
    );
    assert_eq!(
        outside_entries(outside),
        before,
        "files were created outside the workspace"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("bait.txt")).unwrap(),
        "OUTSIDE SECRET\n",
        "an outside file was edited"
    );
    assert!(leaked.is_empty(), "{}", leaked.join("\n---\n"));
    // The race was lost by the swapper, visibly: some calls were refused as changed.
    assert!(refused_changed > 0, "no call met the swapped-in symlink");
}

#[test]
fn fifos_and_sockets_are_refused_instead_of_hanging() {
    let f = Fixture::new();
    let scratch = f.root.path().join("scratch");
    let status = std::process::Command::new("mkfifo")
        .arg(scratch.join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let _socket = std::os::unix::net::UnixListener::bind(scratch.join("sock")).unwrap();
    let read = ReadFile::new(f.ws.clone());
    for (name, kind) in [("pipe", "FIFO"), ("sock", "socket")] {
        let started = std::time::Instant::now();
        let err = read
            .read(&ReadFileArgs {
                path: format!("scratch/{name}"),
                offset: None,
                limit: None,
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(kind) && err.contains("not a regular file"),
            "{err}"
        );
        assert!(started.elapsed().as_secs() < 2);
    }
    let edit = EditFile::new(f.ws.clone());
    let err = edit
        .edit(&EditFileArgs {
            path: "scratch/pipe".into(),
            old_string: "a".into(),
            new_string: "b".into(),
            replace_all: false,
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("FIFO"), "{err}");
}

#[test]
fn the_same_holds_for_an_unprivileged_user() {
    common::rerun_as_nobody(&[
        "writes_reads_edits_and_listings_never_follow_a_swapped_in_symlink",
        "fifos_and_sockets_are_refused_instead_of_hanging",
    ]);
}
