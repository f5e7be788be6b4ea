//! `skillet bootstrap`: take a bare host over ssh to a converged one.
//!
//! One target goes through fixed steps: open the ssh master ([`transport`]), probe the kernel,
//! architecture and login uid (and sudo, before anything is written), upload one tar stream
//! (the running binary and the repo subset from [`bundle`], or in server mode the client's
//! config and the validator's key from [`server`]) to a private directory, install it with
//! the scripts of [`install`], run `skillet solo` (or `skillet client`) there with its output
//! streamed back, then read the run's JSON report and remove the upload. [`fleet`] runs many
//! targets on threads and prints the summary.

pub mod bundle;
pub mod fleet;
pub mod install;
pub mod server;
pub mod transport;

use bundle::{Bundle, Layout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use transport::{Connection, Privilege, SshOptions, Stream, TransportError};

/// How every target is bootstrapped.
#[derive(Debug, Clone)]
pub struct Plan {
    pub ssh: SshOptions,
    /// `--sudo`: gain root with sudo when the login user is not root.
    pub sudo: bool,
    /// The sudo password (`--sudo-password-stdin`).
    pub sudo_password: Option<String>,
    pub layout: Layout,
    /// `--why-run`: show what would change; install nothing.
    pub why_run: bool,
    /// Ask the remote run for colour.
    pub color: bool,
    /// Stream the runs' output to standard error (standard output carries JSON).
    pub stdout_to_stderr: bool,
}

/// The running binary, which is what gets installed.
#[derive(Debug)]
pub struct Binary {
    pub path: PathBuf,
    pub size: u64,
    /// Its SHA-256, computed the first time a target has a binary of the same size.
    digest: OnceLock<Option<String>>,
}

impl Binary {
    /// The binary at `path` (`std::env::current_exe()`).
    pub fn at(path: &Path) -> crate::Result<Binary> {
        let size = std::fs::metadata(path)
            .map_err(|e| crate::Error::io(path, e))?
            .len();
        Ok(Binary {
            path: path.to_path_buf(),
            size,
            digest: OnceLock::new(),
        })
    }

    /// Whether `installed` (a target's SHA-256 of its binary) is this binary.
    fn is(&self, installed: Option<&str>) -> bool {
        let Some(installed) = installed else {
            return false;
        };
        let ours = self.digest.get_or_init(|| file_sha256(&self.path));
        ours.as_deref() == Some(installed)
    }
}

fn file_sha256(path: &Path) -> Option<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
    Some(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// How one target ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub target: String,
    /// 0 when converged; the remote run's exit code; 1 when bootstrap failed before the run.
    pub exit_code: i32,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Resources updated (or, in why-run, that would be), from the run's report.
    pub updated: Option<u64>,
    /// Resources in the run.
    pub total: Option<u64>,
    pub elapsed: Duration,
}

impl Outcome {
    /// Whether the target converged.
    pub fn succeeded(&self) -> bool {
        self.exit_code == 0 && self.error.is_none()
    }
}

/// A failure of one step, with the exit code it means.
#[derive(Debug)]
struct StepError {
    message: String,
    exit_code: i32,
}

impl From<TransportError> for StepError {
    fn from(e: TransportError) -> Self {
        StepError {
            message: e.0,
            exit_code: crate::converge::exit_code::GENERIC_FAILURE,
        }
    }
}

fn failed(message: impl Into<String>) -> StepError {
    StepError {
        message: message.into(),
        exit_code: crate::converge::exit_code::GENERIC_FAILURE,
    }
}

/// Bootstraps one target; `prefix` lines of its output with the target's name.
pub fn bootstrap(
    target: &str,
    plan: &Plan,
    bundle: &Bundle,
    binary: &Binary,
    prefixed: bool,
) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome {
        target: target.to_string(),
        exit_code: 0,
        error: None,
        updated: None,
        total: None,
        elapsed: Duration::ZERO,
    };
    match steps(target, plan, bundle, binary, prefixed) {
        Ok(report) => {
            outcome.exit_code = report.exit_code;
            outcome.updated = report.updated;
            outcome.total = report.total;
            if report.exit_code != 0 {
                outcome.error = Some(format!("the run exited {}", report.exit_code));
            }
        }
        Err(e) => {
            outcome.exit_code = e.exit_code;
            outcome.error = Some(e.message);
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}

/// What the remote run reported.
struct RunReport {
    exit_code: i32,
    updated: Option<u64>,
    total: Option<u64>,
}

fn steps(
    target: &str,
    plan: &Plan,
    bundle: &Bundle,
    binary: &Binary,
    prefixed: bool,
) -> Result<RunReport, StepError> {
    let connection = Connection::open(target, &plan.ssh)?;
    let as_user = Privilege::AsLoginUser;
    let probe_script = install::probe_script(&plan.layout, binary.size);
    let probe = connection.run(&probe_script, &as_user, &mut |_| Ok(()))?;
    let Some(facts) = install::parse_probe(&String::from_utf8_lossy(&probe.stdout)) else {
        return Err(failed(format!(
            "{target} did not answer the probe (`uname`, `id`): {}",
            probe.stderr.trim()
        )));
    };
    if facts.kernel != "Linux" {
        return Err(failed(format!(
            "{target} runs {}, and this skillet is built for Linux",
            facts.kernel
        )));
    }
    let arch = std::env::consts::ARCH;
    if !install::arch_matches(&facts.machine, arch) {
        return Err(failed(format!(
            "{target} is {} and this skillet is built for {arch}: run bootstrap from a skillet \
             built for {}",
            facts.machine, facts.machine
        )));
    }
    let root = privilege(plan, facts.uid);
    if root != Privilege::AsLoginUser {
        let check = connection.run("true", &root, &mut |_| Ok(()))?;
        if check.code != 0 {
            return Err(failed(transport::explain_sudo_failure(
                target,
                &check.stderr,
            )));
        }
    } else if facts.uid != 0 {
        return Err(failed(format!(
            "the login user on {target} is not root: log in as root or pass --sudo"
        )));
    }

    // A target that already has this very build is sent only the repo.
    let send_binary = !binary.is(facts.installed_digest.as_deref());
    let binary_path = send_binary.then_some(binary.path.as_path());
    check_space(target, plan, &facts, bundle, binary, send_binary)?;
    let cargo = if bundle.is_server_mode() {
        "the client's config".to_string()
    } else {
        format!("{} cookbook(s)", bundle.cookbooks.len())
    };
    progress(
        target,
        &if send_binary {
            format!(
                "uploading skillet ({:.1} MB) and {cargo}",
                binary.size as f64 / 1e6
            )
        } else {
            format!("skillet is current there; uploading {cargo}")
        },
    );
    let mut bundle_error = None;
    let upload = connection.run(install::upload_script(), &as_user, &mut |stdin| {
        let mut sink = SendTracker {
            inner: stdin,
            failed: false,
        };
        let written = bundle.write_tar(binary_path, &plan.layout, &mut sink);
        match written {
            // A failed send is the target's doing (it stopped reading): its message says why.
            Err(e) if !sink.failed => {
                let message = e.to_string();
                bundle_error = Some(message.clone());
                Err(std::io::Error::other(message))
            }
            _ => Ok(()),
        }
    })?;
    if let Some(message) = bundle_error {
        return Err(failed(format!("packing the upload failed: {message}")));
    }
    let stage = upload.text();
    if upload.code != 0 || !stage.starts_with('/') {
        return Err(failed(format!(
            "uploading to {target} failed: {}",
            last_line(&upload.stderr)
        )));
    }
    if !plan.why_run {
        progress(
            target,
            &format!("installing into {}", plan.layout.install_dir),
        );
    }
    let result = install_and_run(&connection, plan, &root, &stage, prefixed);
    // The upload directory goes whatever happened; the report is read on the way.
    let collected = connection.run(&install::collect_script(&stage), &root, &mut |_| Ok(()));
    let exit_code = result?;
    let report: Option<Value> = collected
        .ok()
        .and_then(|out| serde_json::from_slice(&out.stdout).ok());
    let count = |key: &str| report.as_ref().and_then(|r| r["run"][key].as_u64());
    Ok(RunReport {
        exit_code,
        updated: count("updated"),
        total: count("total"),
    })
}

fn install_and_run(
    connection: &Connection,
    plan: &Plan,
    root: &Privilege,
    stage: &str,
    prefixed: bool,
) -> Result<i32, StepError> {
    let target = connection.destination();
    if !plan.why_run {
        let script = install::install_script(stage, &plan.layout);
        let installed = connection.run(&script, root, &mut |_| Ok(()))?;
        if installed.code == install::NO_SPACE || installed.code == install::NOT_RUNNABLE {
            return Err(failed(format!(
                "{target}: {}; nothing was installed",
                last_line(&installed.stderr)
            )));
        }
        if installed.code != 0 {
            return Err(failed(format!(
                "installing on {target} failed, nothing was changed: {}",
                last_line(&installed.stderr)
            )));
        }
    }
    let script = install::run_script(stage, &plan.layout, plan.why_run, plan.color);
    let stream = Stream {
        prefix: prefixed.then_some(target),
        stdout_to_stderr: plan.stdout_to_stderr,
    };
    let code = connection.run_streamed(&script, root, stream)?;
    if code == 255 {
        return Err(failed(format!(
            "the connection to {target} broke during the run"
        )));
    }
    Ok(code)
}

/// Refuses a target without room for the upload or the installation, before sending
/// anything. The install script checks again, against what actually arrived.
fn check_space(
    target: &str,
    plan: &Plan,
    facts: &install::Probe,
    bundle: &Bundle,
    binary: &Binary,
    send_binary: bool,
) -> Result<(), StepError> {
    let kib = |bytes: u64| bytes.div_ceil(1024);
    let sent = bundle.repo_bytes + if send_binary { binary.size } else { 0 };
    let upload = kib(sent) + 64;
    let install = kib(sent) + 1024;
    let dir = &plan.layout.install_dir;
    if facts.upload_free_kib < upload {
        return Err(failed(format!(
            "not enough space on {target} for the upload: {upload} KiB needed in the \
             temporary directory, {} KiB free; nothing was installed",
            facts.upload_free_kib
        )));
    }
    if !plan.why_run && facts.install_free_kib < install {
        return Err(failed(format!(
            "not enough space for {dir} on {target}: {install} KiB needed, {} KiB free; \
             nothing was installed",
            facts.install_free_kib
        )));
    }
    Ok(())
}

fn privilege(plan: &Plan, uid: u32) -> Privilege {
    if uid == 0 || !plan.sudo {
        return Privilege::AsLoginUser;
    }
    match &plan.sudo_password {
        Some(password) => Privilege::SudoWithPassword(password.clone()),
        None => Privilege::Sudo,
    }
}

/// Remembers whether a write to the target failed, to tell a target that stopped reading
/// from a local file that could not be read.
struct SendTracker<'a> {
    inner: &'a mut dyn std::io::Write,
    failed: bool,
}

impl std::io::Write for SendTracker<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).inspect_err(|_| self.failed = true)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().inspect_err(|_| self.failed = true)
    }
}

/// A step of one target, on standard error (standard output may carry a document).
fn progress(target: &str, text: &str) {
    use std::io::Write;
    let line = format!("-----> {target}: {text}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
        .to_string()
}
