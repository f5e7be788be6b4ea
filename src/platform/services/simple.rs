//! Services driven by their own commands, and the process table as the last word on whether
//! one is running.
//!
//! Chef's simple provider greps `ps -ef` for the service's `pattern` when it has no status
//! command; reading `/proc/<pid>/cmdline` gives the same command lines without spawning `ps`.

use crate::error::{Error, Result};
use crate::platform::command::{CommandEnv, CommandLine, CommandSpec};
use regex::Regex;
use std::path::Path;

/// Runs a service command (through the shell for a string, as Chef's `shell_out!`); a
/// non-zero exit is Mixlib::ShellOut's error with the captured output.
pub fn run(command: &CommandLine, env: &CommandEnv) -> Result<()> {
    let spec = CommandSpec::new(command.clone());
    let out = spec.run(env)?;
    if out.success() {
        return Ok(());
    }
    let shown = command.display();
    Err(Error::resource(
        "Mixlib::ShellOut::ShellCommandFailed",
        format!(
            "Expected process to exit with [0], but received '{}'\n---- Begin output of {shown} ----\nSTDOUT: {}\nSTDERR: {}\n---- End output of {shown} ----\nRan {shown} returned {}",
            out.code(),
            String::from_utf8_lossy(&out.stdout).trim_end(),
            String::from_utf8_lossy(&out.stderr).trim_end(),
            out.code()
        ),
    ))
}

/// Runs a status command: exit 0 means running. A command that cannot start counts as
/// "not running", as Chef rescues it.
pub fn status(command: &CommandLine, env: &CommandEnv) -> bool {
    CommandSpec::new(command.clone())
        .run(env)
        .map(|out| out.success())
        .unwrap_or(false)
}

/// Whether any process other than this one has a command line matching `pattern`.
pub fn process_table_matches(proc_dir: &Path, pattern: &Regex) -> bool {
    let own = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir(proc_dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let Some(pid) = name.to_str() else {
            return false;
        };
        if pid == own || !pid.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        command_line(&entry.path()).is_some_and(|line| pattern.is_match(&line))
    })
}

/// A process's command line as `ps` prints it: arguments joined by spaces, or `[comm]` for a
/// kernel thread.
fn command_line(proc_entry: &Path) -> Option<String> {
    let raw = std::fs::read(proc_entry.join("cmdline")).ok()?;
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if !args.is_empty() {
        return Some(args.join(" "));
    }
    let comm = std::fs::read_to_string(proc_entry.join("comm")).ok()?;
    Some(format!("[{}]", comm.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_table_is_read_from_cmdline_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("42")).unwrap();
        std::fs::write(
            p.join("42/cmdline"),
            b"nginx: master process\0-g\0daemon off;\0",
        )
        .unwrap();
        std::fs::create_dir_all(p.join("7")).unwrap();
        std::fs::write(p.join("7/cmdline"), b"").unwrap();
        std::fs::write(p.join("7/comm"), "kworker/0:1\n").unwrap();
        std::fs::create_dir_all(p.join("self")).unwrap();
        assert!(process_table_matches(
            p,
            &Regex::new("nginx: master").unwrap()
        ));
        assert!(process_table_matches(
            p,
            &Regex::new(r"^\[kworker").unwrap()
        ));
        assert!(!process_table_matches(p, &Regex::new("apache2").unwrap()));
    }

    #[test]
    fn a_real_process_is_found() {
        let mut child = std::process::Command::new("sleep")
            .arg("30.4242")
            .spawn()
            .unwrap();
        // The child shows its own command line only once it has exec'd: look for a while.
        let pattern = Regex::new("sleep 30.4242").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut found = false;
        while !found && std::time::Instant::now() < deadline {
            found = process_table_matches(Path::new("/proc"), &pattern);
            if !found {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found);
    }

    #[test]
    fn failed_command_names_status_and_output() {
        let err = run(
            &CommandLine::Shell("echo oops >&2; exit 4".into()),
            &CommandEnv::default(),
        )
        .unwrap_err();
        assert_eq!(err.class(), "Mixlib::ShellOut::ShellCommandFailed");
        assert!(err.to_string().contains("received '4'"));
        assert!(err.to_string().contains("STDERR: oops"));
        assert!(status(
            &CommandLine::Shell("true".into()),
            &CommandEnv::default()
        ));
        assert!(!status(
            &CommandLine::Shell("false".into()),
            &CommandEnv::default()
        ));
    }
}
