//! The run lock and atomic writes, through the binary.

mod common;

use common::Repo;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn repo_with_file(content_len: usize) -> Repo {
    let repo = Repo::new();
    let content = "x".repeat(content_len);
    repo.cookbook("cb", "1.0.0").recipe(
        "cb",
        "default",
        &format!(
            "resources:\n  - type: file\n    name: \"{{root}}/big\"\n    content: \"{content}\"\n    backup: false\n"
        ),
    );
    repo
}

fn hold_lock(path: &std::path::Path) -> std::fs::File {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .expect("open lock");
    // SAFETY: flock on a valid descriptor we own.
    let rc = unsafe { nix::libc::flock(file.as_raw_fd(), nix::libc::LOCK_EX) };
    assert_eq!(rc, 0);
    file
}

#[test]
fn a_second_run_times_out_on_the_lock() {
    let repo = repo_with_file(10);
    let _held = hold_lock(&repo.path().join("cache/chef-client-running.pid"));
    let started = Instant::now();
    let run = repo.solo(&["-o", "cb", "--run-lock-timeout", "1"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("Unable to acquire lock");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(repo.read_host("big").is_none());
}

#[test]
fn a_second_run_waits_for_the_lock_then_runs() {
    let repo = repo_with_file(10);
    let held = hold_lock(&repo.path().join("cache/chef-client-running.pid"));
    let mut child = repo
        .command(&["solo", "-c", "solo.json", "-o", "cb", "--no-color"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Release the lock only once the run says it is waiting for it.
    let stderr = child.stderr.take().expect("stderr");
    let (waiting_tx, waiting_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if line.contains("will wait") {
                let _ = waiting_tx.send(());
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    let waited = waiting_rx.recv_timeout(Duration::from_secs(30)).is_ok();
    assert!(
        repo.read_host("big").is_none(),
        "ran while the lock was held"
    );
    drop(held);
    let out = child.wait_with_output().expect("wait");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        reader.join().expect("reader")
    );
    assert!(waited, "the run never said it was waiting:\n{text}");
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(repo.read_host("big").map(|s| s.len()), Some(10));
}

/// Killing a run at any moment leaves the old or the new content, never a mix.
#[test]
fn a_killed_run_never_leaves_a_partial_file() {
    let len = 8 * 1024 * 1024;
    let repo = repo_with_file(len);
    let old = "old content\n";
    std::fs::write(repo.root().join("big"), old).expect("seed");
    for delay_ms in [5u64, 20, 40, 60, 80, 120, 160, 250] {
        std::fs::write(repo.root().join("big"), old).expect("reset");
        let mut child = repo
            .command(&["solo", "-c", "solo.json", "-o", "cb", "--no-color"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read_to_string(repo.root().join("big")).expect("file still there");
        assert!(
            now == old || (now.len() == len && now.bytes().all(|b| b == b'x')),
            "partial file after a kill at {delay_ms} ms: {} bytes",
            now.len()
        );
    }
}

/// SIGTERM stops a run with Chef's exit code 3; SIGINT with 2.
#[test]
fn signals_stop_a_run_with_chefs_exit_codes() {
    for (signal, code) in [
        (nix::sys::signal::Signal::SIGTERM, 3),
        (nix::sys::signal::Signal::SIGINT, 2),
    ] {
        let repo = Repo::new();
        repo.cookbook("cb", "1.0.0").recipe(
            "cb",
            "default",
            "resources:\n  - type: execute\n    name: touch {root}/started; sleep 5\n",
        );
        let child = repo
            .command(&["solo", "-c", "solo.json", "-o", "cb", "--no-color"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        // Signal once the run is converging (its handlers are installed long before).
        let started = repo.root().join("started");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !started.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        nix::sys::signal::kill(pid, signal).expect("signal");
        let out = child.wait_with_output().expect("wait");
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("received, stopping"));
    }
}
