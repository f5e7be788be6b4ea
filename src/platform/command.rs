//! Spawning commands for `execute`, guards and providers.
//!
//! A command runs in its own process group so a timeout kills everything it started. Its
//! output is captured (and, when asked, streamed live) for error messages.

use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A command as Chef accepts it: a string for the shell, or an argv list run directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    Shell(String),
    Argv(Vec<String>),
}

impl CommandLine {
    /// The command as Chef prints it: the string, or the inspected argv list.
    pub fn display(&self) -> String {
        match self {
            CommandLine::Shell(s) => s.clone(),
            CommandLine::Argv(args) => {
                let quoted: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
                format!("[{}]", quoted.join(", "))
            }
        }
    }
}

/// How commands are spawned in this run.
#[derive(Debug, Clone, Default)]
pub struct CommandEnv {
    /// Copy the command's output to our stdout as it arrives.
    pub live_output: bool,
}

/// Everything needed to run one command.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub command: CommandLine,
    pub cwd: Option<PathBuf>,
    pub environment: Vec<(String, String)>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub umask: Option<u32>,
    pub timeout: Option<Duration>,
    pub input: Option<Vec<u8>>,
    /// Run the child (only) in this network namespace file, entered with setns.
    pub network_namespace: Option<PathBuf>,
}

impl CommandSpec {
    /// A shell command with no options.
    pub fn shell(command: impl Into<String>) -> Self {
        Self::new(CommandLine::Shell(command.into()))
    }

    /// A command with no options.
    pub fn new(command: CommandLine) -> Self {
        Self {
            command,
            cwd: None,
            environment: Vec::new(),
            user: None,
            group: None,
            umask: None,
            timeout: None,
            input: None,
            network_namespace: None,
        }
    }

    /// Runs the command to completion (or timeout) and returns its status and output.
    pub fn run(&self, env: &CommandEnv) -> Result<CommandOutput> {
        let mut cmd = match &self.command {
            CommandLine::Shell(s) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(s);
                c
            }
            CommandLine::Argv(args) => {
                let Some((program, rest)) = args.split_first() else {
                    return Err(Error::resource("ArgumentError", "command is an empty list"));
                };
                let mut c = Command::new(program);
                c.args(rest);
                c
            }
        };
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        for (k, v) in &self.environment {
            cmd.env(k, v);
        }
        if let Some(user) = &self.user {
            let (uid, gid, home) = resolve_user(user)?;
            cmd.uid(uid);
            if self.group.is_none() {
                cmd.gid(gid);
            }
            cmd.env("HOME", home);
            cmd.env("USER", user);
        }
        if let Some(group) = &self.group {
            cmd.gid(resolve_group(group)?);
        }
        if let Some(mask) = self.umask {
            let mode = nix::sys::stat::Mode::from_bits_truncate(mask as nix::libc::mode_t);
            // SAFETY: umask(2) is async-signal-safe and touches only this child's state.
            unsafe {
                cmd.pre_exec(move || {
                    nix::sys::stat::umask(mode);
                    Ok(())
                });
            }
        }
        if let Some(path) = &self.network_namespace {
            let netns = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            // SAFETY: setns(2) is async-signal-safe and changes only this child's namespace;
            // the file was opened before the fork.
            unsafe {
                cmd.pre_exec(move || {
                    nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(std::io::Error::from)
                });
            }
        }
        cmd.process_group(0);
        cmd.stdin(if self.input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped());
        cmd.stderr(Stdio::piped());

        let shown = self.command.display();
        let mut child = cmd.spawn().map_err(|e| {
            Error::resource("Errno::ENOENT", format!("could not start `{shown}`: {e}"))
        })?;
        if let (Some(input), Some(mut stdin)) = (self.input.clone(), child.stdin.take()) {
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let live = env.live_output;
        let out_reader = child.stdout.take().map(|s| spawn_reader(s, live));
        let err_reader = child.stderr.take().map(|s| spawn_reader(s, live));
        let pid = child.id();
        let _running = RunningChild::register(pid);

        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let (status, timed_out) = match self.timeout {
            Some(limit) => match rx.recv_timeout(limit) {
                Ok(status) => (status, false),
                Err(_) => {
                    kill_group(pid);
                    (
                        rx.recv()
                            .unwrap_or_else(|_| Err(std::io::Error::other("lost child"))),
                        true,
                    )
                }
            },
            None => (
                rx.recv()
                    .unwrap_or_else(|_| Err(std::io::Error::other("lost child"))),
                false,
            ),
        };
        let status = status
            .map_err(|e| Error::resource("Errno", format!("waiting for `{shown}` failed: {e}")))?;
        let stdout = out_reader.and_then(|h| h.join().ok()).unwrap_or_default();
        let stderr = err_reader.and_then(|h| h.join().ok()).unwrap_or_default();
        Ok(CommandOutput {
            status,
            stdout,
            stderr,
            timed_out,
        })
    }
}

/// What a finished command left behind.
#[derive(Debug)]
pub struct CommandOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
}

impl CommandOutput {
    /// Exit status 0 and no timeout.
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.success()
    }

    /// The exit code, or 128 + signal for a killed process.
    pub fn code(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        self.status
            .code()
            .unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }
}

fn spawn_reader<R: Read + Send + 'static>(
    mut source: R,
    live: bool,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut collected = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match source.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if live {
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(&buf[..n]);
                        let _ = out.flush();
                    }
                    collected.extend_from_slice(&buf[..n]);
                }
            }
        }
        collected
    })
}

/// The process group of the command running now, so a signal that stops the run can stop the
/// command too (commands run in their own group and would not get the terminal's signal).
static RUNNING_GROUP: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

struct RunningChild;

impl RunningChild {
    fn register(pid: u32) -> RunningChild {
        let pid = i32::try_from(pid).unwrap_or(0);
        RUNNING_GROUP.store(pid, std::sync::atomic::Ordering::SeqCst);
        RunningChild
    }
}

impl Drop for RunningChild {
    fn drop(&mut self) {
        RUNNING_GROUP.store(0, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Sends SIGTERM to the running command's process group, if any. Async-signal-safe.
pub fn terminate_running() {
    let pgid = RUNNING_GROUP.load(std::sync::atomic::Ordering::SeqCst);
    if pgid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe {
            nix::libc::kill(-pgid, nix::libc::SIGTERM);
        }
    }
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

fn resolve_user(user: &str) -> Result<(u32, u32, PathBuf)> {
    if let Ok(uid) = user.parse::<u32>() {
        let found = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten();
        return Ok(match found {
            Some(u) => (uid, u.gid.as_raw(), u.dir),
            None => (uid, uid, PathBuf::from("/")),
        });
    }
    match nix::unistd::User::from_name(user) {
        Ok(Some(u)) => Ok((u.uid.as_raw(), u.gid.as_raw(), u.dir)),
        _ => Err(Error::resource(
            "ArgumentError",
            format!("user `{user}` does not exist"),
        )),
    }
}

fn resolve_group(group: &str) -> Result<u32> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    match nix::unistd::Group::from_name(group) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        _ => Err(Error::resource(
            "ArgumentError",
            format!("group `{group}` does not exist"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_network_namespace_is_an_error_before_spawning() {
        let mut spec = CommandSpec::shell("true");
        spec.network_namespace = Some(PathBuf::from("/nonexistent/netns"));
        let err = spec.run(&CommandEnv::default()).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/netns"), "{err}");
    }

    #[test]
    fn the_child_alone_enters_the_network_namespace() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: setns needs root");
            return;
        }
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        // A process in a network namespace of its own provides the namespace file.
        let mut holder = std::process::Command::new("unshare")
            .args(["--net", "sleep", "30"])
            .spawn()
            .unwrap();
        let theirs_path = PathBuf::from(format!("/proc/{}/ns/net", holder.id()));
        let mut theirs = std::fs::read_link(&theirs_path).unwrap();
        for _ in 0..200 {
            if theirs != ours {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
            theirs = std::fs::read_link(&theirs_path).unwrap();
        }
        let mut spec = CommandSpec::shell("readlink /proc/self/ns/net");
        spec.network_namespace = Some(theirs_path);
        let out = spec.run(&CommandEnv::default());
        let _ = holder.kill();
        let _ = holder.wait();
        let out = out.unwrap();
        assert!(out.success(), "{out:?}");
        assert_ne!(theirs, ours);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            theirs.to_string_lossy()
        );
        assert_eq!(std::fs::read_link("/proc/self/ns/net").unwrap(), ours);
    }

    #[test]
    fn shell_command_status_and_output() {
        let out = CommandSpec::shell("echo hi; exit 3")
            .run(&CommandEnv::default())
            .expect("runs");
        assert_eq!(out.code(), 3);
        assert_eq!(out.stdout, b"hi\n");
    }

    #[test]
    fn timeout_kills_the_group() {
        let mut spec = CommandSpec::shell("sleep 5; echo late");
        spec.timeout = Some(Duration::from_millis(100));
        let out = spec.run(&CommandEnv::default()).expect("runs");
        assert!(out.timed_out);
        assert!(!out.success());
    }

    #[test]
    fn argv_is_not_shell_interpreted() {
        let spec = CommandSpec::new(CommandLine::Argv(vec!["/bin/echo".into(), "$HOME;".into()]));
        let out = spec.run(&CommandEnv::default()).expect("runs");
        assert_eq!(out.stdout, b"$HOME;\n");
    }

    #[test]
    fn input_reaches_stdin() {
        let mut spec = CommandSpec::shell("cat");
        spec.input = Some(b"fed".to_vec());
        let out = spec.run(&CommandEnv::default()).expect("runs");
        assert_eq!(out.stdout, b"fed");
    }
}
