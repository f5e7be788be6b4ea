//! The ssh transport: the system `ssh` binary, one ControlMaster connection per target.
//!
//! The master is opened once (`ssh -M -f -N`) with the user's own ssh config, agent and
//! known_hosts, so jump hosts, keys and host key checking work as they do for any ssh command;
//! every remote command then rides on it (`ssh -S <socket>`), costing a channel, not a
//! handshake. Connection failures are read from the master's log and turned into one clear
//! sentence (refused, unknown or changed host key, authentication, timeout). This module knows
//! nothing about what is installed: it runs shell scripts on the target, optionally under sudo.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How to reach targets: the flags every ssh invocation gets.
#[derive(Debug, Clone, Default)]
pub struct SshOptions {
    /// `-p`: the port (else the user's ssh config or 22).
    pub port: Option<u16>,
    /// `-i`: an identity file.
    pub identity_file: Option<PathBuf>,
    /// `--ssh-option K=V`, passed as `-o K=V` in order.
    pub options: Vec<String>,
    /// `--connect-timeout`: seconds for the TCP connect and the handshake.
    pub connect_timeout: Option<u32>,
    /// Let ssh ask for passwords and passphrases on the terminal (no `BatchMode`).
    pub interactive: bool,
}

/// How commands gain root on the target.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Privilege {
    /// Run commands as the login user (root logins, or no `--sudo`).
    #[default]
    AsLoginUser,
    /// `sudo -n`: the login user may sudo without a password.
    Sudo,
    /// `sudo -S` with this password written to sudo's standard input.
    SudoWithPassword(String),
}

/// What went wrong talking to a target, in words an operator can act on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// The result of one remote command.
#[derive(Debug)]
pub struct RemoteOutput {
    /// The remote exit status (255 when ssh itself failed).
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl RemoteOutput {
    /// Standard output as text, trimmed.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim().to_string()
    }
}

/// Where a streamed command's output goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stream<'a> {
    /// Prefix each line with `[prefix] ` (several targets at once); else pass bytes through.
    pub prefix: Option<&'a str>,
    /// Send the remote standard output to our standard error (stdout carries a document).
    pub stdout_to_stderr: bool,
}

/// An open ControlMaster connection to one target; closed when dropped.
#[derive(Debug)]
pub struct Connection {
    destination: String,
    options: SshOptions,
    /// Holds the control socket and the master's log; removed on drop.
    scratch: tempfile::TempDir,
}

impl Connection {
    /// Opens the master connection to `destination` (`[user@]host` or an `ssh://` URI).
    pub fn open(destination: &str, options: &SshOptions) -> Result<Connection, TransportError> {
        let scratch = tempfile::Builder::new()
            .prefix("skillet-ssh.")
            .tempdir()
            .map_err(|e| TransportError(format!("cannot make a directory for ssh: {e}")))?;
        let connection = Connection {
            destination: destination.to_string(),
            options: options.clone(),
            scratch,
        };
        let log = connection.scratch.path().join("master.log");
        let log_file = File::create(&log)
            .map_err(|e| TransportError(format!("cannot write {}: {e}", log.display())))?;
        let mut cmd = Command::new("ssh");
        cmd.args(["-M", "-f", "-N", "-o", "ControlPersist=60"])
            .arg("-E")
            .arg(&log);
        connection.common_args(&mut cmd, options.interactive);
        if let Some(identity) = &options.identity_file {
            cmd.arg("-i").arg(identity);
        }
        if let Some(seconds) = options.connect_timeout {
            cmd.arg("-o").arg(format!("ConnectTimeout={seconds}"));
        }
        for option in &options.options {
            cmd.arg("-o").arg(option);
        }
        cmd.arg("--").arg(destination);
        // The backgrounded master keeps its standard error open: a pipe would never reach
        // end of file, so it goes to a file read after the foreground ssh exits.
        let stderr = log_file
            .try_clone()
            .map_err(|e| TransportError(format!("cannot write {}: {e}", log.display())))?;
        let status = cmd
            .stdin(if options.interactive {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::null())
            .stderr(stderr)
            .status()
            .map_err(|e| TransportError(format!("cannot run ssh: {e}")))?;
        if status.success() {
            return Ok(connection);
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        Err(TransportError(explain_connect_failure(
            destination,
            options.port,
            &text,
        )))
    }

    /// The target as given.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    fn control_path(&self) -> PathBuf {
        self.scratch.path().join("control")
    }

    fn common_args(&self, cmd: &mut Command, interactive: bool) {
        cmd.arg("-S").arg(self.control_path());
        if !interactive {
            cmd.args(["-o", "BatchMode=yes"]);
        }
        if let Some(port) = self.options.port {
            cmd.arg("-p").arg(port.to_string());
        }
    }

    /// The `ssh` command that runs `script` with `sh` on the target over the master.
    fn remote(&self, script: &str, privilege: &Privilege) -> Command {
        let mut cmd = Command::new("ssh");
        self.common_args(&mut cmd, false);
        cmd.arg("--")
            .arg(&self.destination)
            .arg(wrap(script, privilege));
        cmd
    }

    /// Runs `script` and collects its output; `input` is written to its standard input
    /// (after the sudo password, when there is one).
    pub fn run(
        &self,
        script: &str,
        privilege: &Privilege,
        input: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<RemoteOutput, TransportError> {
        let mut child = self
            .remote(script, privilege)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| TransportError(format!("cannot run ssh: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let (written, out, err) = std::thread::scope(|s| {
            let out = s.spawn(|| read_all(stdout));
            let err = s.spawn(|| read_all(stderr));
            let written = stdin.map(|mut stdin| {
                write_password(&mut stdin, privilege).and_then(|()| input(&mut stdin))
            });
            (
                written,
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default(),
            )
        });
        let status = child
            .wait()
            .map_err(|e| TransportError(format!("ssh to {}: {e}", self.destination)))?;
        let code = exit_code(status);
        let stderr = String::from_utf8_lossy(&err).into_owned();
        // A write that broke because the remote side stopped reading is explained by the
        // remote's own status and message; only report it when the remote claims success.
        if let Some(Err(e)) = written {
            if code == 0 {
                return Err(TransportError(format!(
                    "sending data to {} failed: {e}",
                    self.destination
                )));
            }
        }
        Ok(RemoteOutput {
            code,
            stdout: out,
            stderr,
        })
    }

    /// Runs `script` with its output streamed live; returns the remote exit status.
    pub fn run_streamed(
        &self,
        script: &str,
        privilege: &Privilege,
        stream: Stream<'_>,
    ) -> Result<i32, TransportError> {
        let mut cmd = self.remote(script, privilege);
        cmd.stdin(Stdio::piped());
        if stream.prefix.is_some() {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        } else if stream.stdout_to_stderr {
            let stderr = std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| TransportError(format!("cannot duplicate standard error: {e}")))?;
            cmd.stdout(Stdio::from(stderr));
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| TransportError(format!("cannot run ssh: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            // sudo reads the password; nothing else is sent, so the run sees end of input.
            let _ = write_password(&mut stdin, privilege);
        }
        if let Some(prefix) = stream.prefix {
            let stdout = child.stdout.take();
            let stderr = child.stderr.take();
            let out_to_stderr = stream.stdout_to_stderr;
            std::thread::scope(|s| {
                s.spawn(|| pump_lines(stdout, prefix, out_to_stderr));
                s.spawn(|| pump_lines(stderr, prefix, true));
            });
        }
        let status = child
            .wait()
            .map_err(|e| TransportError(format!("ssh to {}: {e}", self.destination)))?;
        Ok(exit_code(status))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut cmd = Command::new("ssh");
        self.common_args(&mut cmd, false);
        let _ = cmd
            .args(["-O", "exit", "--"])
            .arg(&self.destination)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `script` as one argument for the remote login shell: `sh -c`, under sudo when asked.
fn wrap(script: &str, privilege: &Privilege) -> String {
    let sh = format!("sh -c {}", shell_quote(script));
    match privilege {
        Privilege::AsLoginUser => sh,
        Privilege::Sudo => format!("sudo -n -- {sh}"),
        // `-k` makes sudo ask even with cached credentials, so the password line written
        // first is always the one it reads; `-p ''` keeps the prompt out of the output.
        Privilege::SudoWithPassword(_) => format!("sudo -S -k -p '' -- {sh}"),
    }
}

fn write_password(stdin: &mut dyn Write, privilege: &Privilege) -> std::io::Result<()> {
    if let Privilege::SudoWithPassword(password) = privilege {
        stdin.write_all(password.as_bytes())?;
        stdin.write_all(b"\n")?;
    }
    Ok(())
}

/// `text` in single quotes for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn read_all(source: Option<impl Read>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(mut source) = source {
        let _ = source.read_to_end(&mut bytes);
    }
    bytes
}

fn pump_lines(source: Option<impl Read>, prefix: &str, to_stderr: bool) {
    let Some(source) = source else {
        return;
    };
    for line in BufReader::new(source).lines().map_while(|l| l.ok()) {
        let text = format!("[{prefix}] {line}\n");
        // One write per line, under the lock, so lines of hosts running at once never mix.
        if to_stderr {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        } else {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| {
        128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
    })
}

/// One sentence for a master connection that failed, from ssh's log.
fn explain_connect_failure(destination: &str, port: Option<u16>, log: &str) -> String {
    let port = port.map(|p| format!(" port {p}")).unwrap_or_default();
    let has = |needle: &str| log.contains(needle);
    if has("REMOTE HOST IDENTIFICATION HAS CHANGED") || has("Host key for") && has("has changed") {
        return format!(
            "the host key of {destination} does not match the one in known_hosts: if the host \
             was rebuilt, remove the old key with `ssh-keygen -R HOST`; otherwise someone may be \
             in between"
        );
    }
    if has("Host key verification failed") || has("host key is known for") {
        return format!(
            "the host key of {destination} is not in known_hosts: add it (ssh-keyscan, or one \
             interactive ssh login), or pass --ssh-option StrictHostKeyChecking=accept-new"
        );
    }
    if has("Connection refused") {
        return format!(
            "ssh could not connect to {destination}{port}: connection refused (is sshd \
             running and listening there?)"
        );
    }
    if has("Permission denied") {
        let methods = log
            .lines()
            .find(|l| l.contains("Permission denied"))
            .and_then(|l| {
                l.rsplit_once('(')
                    .map(|(_, m)| m.trim_end_matches(['.', ')']))
            })
            .unwrap_or("");
        return format!(
            "authentication to {destination} failed (the server accepts: {methods}): check the \
             user, the key (-i) or the ssh agent"
        );
    }
    if has("timed out") {
        return format!("ssh could not connect to {destination}{port}: timed out");
    }
    if has("Could not resolve hostname") {
        return format!("ssh could not resolve the host name of {destination}");
    }
    if has("No route to host") || has("Network is unreachable") {
        return format!("ssh could not connect to {destination}{port}: no route to the host");
    }
    let last = log
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("ssh exited without a message");
    format!("ssh to {destination}{port} failed: {}", last.trim())
}

/// One sentence for a failed sudo, from its standard error.
pub fn explain_sudo_failure(destination: &str, stderr: &str) -> String {
    let has = |needle: &str| stderr.contains(needle);
    if has("incorrect password") || has("Sorry, try again") {
        return format!("sudo on {destination} refused the password");
    }
    if has("a password is required") {
        return format!(
            "sudo on {destination} needs a password: pass --sudo-password-stdin (or allow the \
             user NOPASSWD)"
        );
    }
    if has("not in the sudoers") || has("is not allowed") || has("may not run sudo") {
        return format!("the login user may not use sudo on {destination}");
    }
    if has("not found") {
        return format!("sudo is not installed on {destination}");
    }
    format!("sudo on {destination} failed: {}", stderr.trim())
}

/// Whether `path` names a file ssh can read (for a clear error before connecting).
pub fn check_identity_file(path: &Path) -> Result<(), TransportError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(TransportError(format!(
            "identity file {} is not a file",
            path.display()
        ))),
        Err(e) => Err(TransportError(format!(
            "identity file {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn scripts_are_wrapped_for_sudo() {
        assert_eq!(wrap("id -u", &Privilege::AsLoginUser), "sh -c 'id -u'");
        assert_eq!(wrap("id -u", &Privilege::Sudo), "sudo -n -- sh -c 'id -u'");
        assert_eq!(
            wrap("id -u", &Privilege::SudoWithPassword("x".into())),
            "sudo -S -k -p '' -- sh -c 'id -u'"
        );
    }

    #[test]
    fn connection_failures_read_as_one_sentence() {
        let refused = "ssh: connect to host 10.0.0.5 port 22: Connection refused\r\n";
        assert!(
            explain_connect_failure("root@10.0.0.5", None, refused).contains("connection refused")
        );
        let changed = "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n";
        assert!(explain_connect_failure("h", None, changed).contains("does not match"));
        let unknown = "No ED25519 host key is known for h and you have requested strict checking.\r\nHost key verification failed.\r\n";
        assert!(explain_connect_failure("h", None, unknown).contains("not in known_hosts"));
        let denied = "root@h: Permission denied (publickey,password).\r\n";
        assert!(explain_connect_failure("root@h", None, denied)
            .contains("the server accepts: publickey,password"));
    }

    #[test]
    fn sudo_failures_read_as_one_sentence() {
        let wrong = "Sorry, try again.\nsudo: no password was provided\nsudo: 1 incorrect password attempt\n";
        assert_eq!(
            explain_sudo_failure("h", wrong),
            "sudo on h refused the password"
        );
        assert!(explain_sudo_failure("h", "sudo: a password is required\n")
            .contains("--sudo-password-stdin"));
    }
}
