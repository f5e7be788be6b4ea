//! The run lock: one run per host at a time (Chef's `RunLock`).
//!
//! An exclusive `flock` on the lock file (`<file_cache_path>/chef-client-running.pid` by
//! default), taken at the very start of a run, with the holder's PID written into it. The lock
//! is released when the [`RunLock`] is dropped; the file stays. A second run waits for the first,
//! at most `--run-lock-timeout` seconds when one is given (0 = do not wait).

use crate::error::{Error, IoContext, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Chef's exception class for a lock that was not released in time.
pub const RUN_LOCK_TIMEOUT: &str = "Chef::Exceptions::RunLockTimeout";

/// How often a waiting run with a timeout looks at the lock again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A held run lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    // Closing the file releases the flock.
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock at `path`, creating its directory and the file when missing.
    ///
    /// When another run holds it, `on_wait` is called with that run's PID (if readable) and
    /// this call blocks: forever without a timeout, at most `timeout` with one; a zero timeout
    /// fails at once without calling `on_wait`, as Chef does. Running out of time is a
    /// `Chef::Exceptions::RunLockTimeout` error.
    pub fn acquire(
        path: &Path,
        timeout: Option<Duration>,
        on_wait: impl FnOnce(Option<u32>),
    ) -> Result<RunLock> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_path(dir)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_path(path)?;
        if !try_lock(&file, path)? {
            let holder = read_pid(&mut file);
            match timeout {
                Some(limit) if limit.is_zero() => return Err(timeout_error(limit, holder)),
                Some(limit) => {
                    on_wait(holder);
                    wait_with_timeout(&file, path, limit, holder)?;
                }
                None => {
                    on_wait(holder);
                    file.lock().with_path(path)?;
                }
            }
        }
        write_pid(&mut file, path)?;
        Ok(RunLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The warning printed while waiting, Chef's wording with our name.
pub fn wait_message(holder: Option<u32>) -> String {
    let pid = holder.map(|p| p.to_string()).unwrap_or_default();
    format!("Skillet run {pid} is running, will wait for it to finish and then run.")
}

/// True when the lock was taken, false when another open file description holds it.
fn try_lock(file: &File, path: &Path) -> Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

fn wait_with_timeout(file: &File, path: &Path, limit: Duration, holder: Option<u32>) -> Result<()> {
    let Some(deadline) = Instant::now().checked_add(limit) else {
        // Longer than the clock can count: the same as waiting without a limit.
        return file.lock().with_path(path);
    };
    loop {
        if try_lock(file, path)? {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(timeout_error(limit, holder));
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

fn timeout_error(limit: Duration, holder: Option<u32>) -> Error {
    let pid = holder.map(|p| p.to_string()).unwrap_or_default();
    Error::input(
        RUN_LOCK_TIMEOUT,
        format!(
            "Unable to acquire lock. Waited {} seconds for {pid} to release.",
            limit.as_secs()
        ),
    )
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn write_pid(file: &mut File, path: &Path) -> Result<()> {
    file.set_len(0).with_path(path)?;
    file.seek(SeekFrom::Start(0)).with_path(path)?;
    write!(file, "{}", std::process::id()).with_path(path)?;
    file.flush().with_path(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    // flock locks belong to open file descriptions, so a second `acquire` in the same process
    // contends with the first exactly as a second process would.

    #[test]
    fn lock_file_holds_our_pid_and_survives_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/chef-client-running.pid");
        let lock = RunLock::acquire(&path, None, |_| panic!("nobody holds it")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            std::process::id().to_string()
        );
        drop(lock);
        assert!(path.exists(), "Chef keeps the lock file after release");
        // Not a zero timeout: a process another test forks at this moment holds a copy of the
        // descriptor (and so the lock) until it executes its program.
        RunLock::acquire(&path, Some(Duration::from_secs(10)), |_| {}).unwrap();
    }

    #[test]
    fn zero_timeout_fails_at_once_with_run_lock_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.pid");
        let _held = RunLock::acquire(&path, None, |_| {}).unwrap();
        let waited = Cell::new(false);
        let err = RunLock::acquire(&path, Some(Duration::ZERO), |_| waited.set(true)).unwrap_err();
        assert_eq!(err.class(), RUN_LOCK_TIMEOUT);
        assert_eq!(
            err.to_string(),
            format!(
                "Unable to acquire lock. Waited 0 seconds for {} to release.",
                std::process::id()
            )
        );
        assert!(!waited.get(), "Chef does not warn when it will not wait");
    }

    #[test]
    fn timeout_waits_then_fails_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.pid");
        let _held = RunLock::acquire(&path, None, |_| {}).unwrap();
        let mut told = None;
        let start = Instant::now();
        let err = RunLock::acquire(&path, Some(Duration::from_millis(300)), |pid| told = pid)
            .unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert_eq!(told, Some(std::process::id()));
        assert_eq!(err.class(), RUN_LOCK_TIMEOUT);
    }

    #[test]
    fn second_run_waits_until_the_first_releases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.pid");
        let held = RunLock::acquire(&path, None, |_| {}).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(held);
        });
        let mut waited = false;
        let start = Instant::now();
        let lock = RunLock::acquire(&path, None, |_| waited = true).unwrap();
        assert!(waited);
        assert!(start.elapsed() >= Duration::from_millis(150));
        assert_eq!(lock.path(), path);
        releaser.join().unwrap();
    }

    /// Run by `another_process_holding_the_lock_blocks_us` in a child process: holds the
    /// lock named by `SKILLET_TEST_LOCK` until the parent removes the `.release` file.
    #[test]
    #[ignore = "helper run in a child process"]
    fn hold_lock_in_child_process() {
        let Some(path) = std::env::var_os("SKILLET_TEST_LOCK") else {
            return;
        };
        let path = PathBuf::from(path);
        let _lock = RunLock::acquire(&path, None, |_| {}).unwrap();
        let release = path.with_extension("release");
        std::fs::write(&release, "").unwrap();
        while release.exists() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn another_process_holding_the_lock_blocks_us() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chef-client-running.pid");
        let release = path.with_extension("release");
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "converge::lock::tests::hold_lock_in_child_process",
                "--ignored",
                "--quiet",
            ])
            .env("SKILLET_TEST_LOCK", &path)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !release.exists() {
            assert!(Instant::now() < deadline, "child never took the lock");
            std::thread::sleep(Duration::from_millis(20));
        }
        let err = RunLock::acquire(&path, Some(Duration::ZERO), |_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Unable to acquire lock. Waited 0 seconds for {} to release.",
                child.id()
            )
        );
        std::fs::remove_file(&release).unwrap();
        let mut holder = None;
        let lock = RunLock::acquire(&path, Some(Duration::from_secs(20)), |pid| holder = pid);
        assert!(lock.is_ok(), "lock not released when the child exited");
        assert!(child.wait().unwrap().success());
        assert!(holder.is_none() || holder == Some(child.id()));
    }

    #[test]
    fn wait_message_names_the_running_pid() {
        assert_eq!(
            wait_message(Some(42)),
            "Skillet run 42 is running, will wait for it to finish and then run."
        );
    }
}
