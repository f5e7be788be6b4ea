//! `skillet kitchen __enter`: runs a command inside a running host.
//!
//! The driver runs the skillet binary again in this hidden mode. It joins the host's IPC, UTS,
//! network, PID and mount namespaces, chroots to the host's root (as its PID 1 sees it), then
//! forks, because joining a PID namespace only takes effect for children. The child runs the
//! command (or, with `skillet`, this very binary, through its open file, so the binary needs
//! no copy inside the host); the parent waits and passes on the exit status, stopping the
//! command when the timeout runs out.
//!
//! Two variants: with `--tty` (a login from a terminal) the command gets a terminal of its own
//! from the host's devpts, so its shell has job control, and this process relays between it
//! and the user's terminal, passing on size changes; with `--lab-netns` the command runs on
//! the machine, joining only the lab's network namespace (a client's view of the hosts).

use crate::error::{Error, IoContext, Result};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, signal, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{chdir, chroot, fchdir, fork, ForkResult, Pid};
use std::ffi::CString;
use std::fs::File;
use std::time::{Duration, Instant};

/// The exit status of a command stopped by the timeout (as coreutils' `timeout`).
pub const TIMED_OUT: i32 = 124;

/// The search path of commands in a host, as on a Debian root login.
const HOST_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to run in which host.
#[derive(Debug, Clone)]
pub struct EnterSpec {
    /// The host's PID 1 as the machine sees it.
    pub pid: i32,
    /// Run the skillet binary itself with `argv` (argv[0] included).
    pub skillet: bool,
    /// Extra environment variables, on top of a clean PATH/HOME/TERM.
    pub env: Vec<(String, String)>,
    /// Stop the command after this long.
    pub timeout: Option<Duration>,
    /// The command and its arguments.
    pub argv: Vec<String>,
}

/// Runs the hidden mode and returns the command's exit status.
pub fn run(spec: &EnterSpec) -> i32 {
    match enter_and_run(spec) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// Runs the command on the machine in network namespace `netns` only (the lab's), with the
/// same clean environment and timeout as inside a host; returns its exit status.
pub fn run_in_lab(netns: &std::path::Path, spec: &EnterSpec) -> i32 {
    let run = || -> Result<i32> {
        let ns = File::open(netns).with_path(netns)?;
        let argv = c_strings(spec.argv.iter().map(String::as_str))?;
        let env = c_strings(environment(&spec.env).iter().map(String::as_str))?;
        setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| failed("setns(net)", e))?;
        // SAFETY: this process is single-threaded (freshly executed).
        match unsafe { fork() }.map_err(|e| failed("fork", e))? {
            ForkResult::Child => exec(spec, None, &argv, &env),
            ForkResult::Parent { child } => Ok(wait_for(child, spec.timeout)),
        }
    };
    run().unwrap_or_else(|e| {
        eprintln!("{e}");
        1
    })
}

/// Runs the command inside the host on a terminal of the host's own (when standard input is
/// a terminal; otherwise as [`run`]); returns its exit status.
pub fn run_with_terminal(spec: &EnterSpec) -> i32 {
    if !nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        return run(spec);
    }
    match enter(spec).and_then(|entered| super::terminal::run(spec, entered)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// A process that has joined a host (namespaces and root), ready to fork the command.
pub(super) struct Entered {
    /// The skillet binary, when the command is skillet itself.
    pub exe: Option<File>,
    /// The command line.
    pub argv: Vec<CString>,
    /// Its environment.
    pub env: Vec<CString>,
}

fn enter_and_run(spec: &EnterSpec) -> Result<i32> {
    let entered = enter(spec)?;
    // SAFETY: this process is single-threaded (freshly executed).
    match unsafe { fork() }.map_err(|e| failed("fork", e))? {
        ForkResult::Child => exec(spec, entered.exe, &entered.argv, &entered.env),
        ForkResult::Parent { child } => Ok(wait_for(child, spec.timeout)),
    }
}

/// Joins the host's namespaces and root.
fn enter(spec: &EnterSpec) -> Result<Entered> {
    let proc_dir = format!("/proc/{}", spec.pid);
    let open = |p: String| File::open(&p).with_path(std::path::Path::new(&p));
    // Everything is opened before the first setns: afterwards /proc may be another one.
    let namespaces = [
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("mnt", CloneFlags::CLONE_NEWNS),
    ]
    .into_iter()
    .map(|(name, flag)| Ok((open(format!("{proc_dir}/ns/{name}"))?, flag, name)))
    .collect::<Result<Vec<_>>>()?;
    let root = open(format!("{proc_dir}/root"))?;
    let exe = if spec.skillet {
        Some(open("/proc/self/exe".to_string())?)
    } else {
        None
    };
    let argv = c_strings(spec.argv.iter().map(String::as_str))?;
    let env = c_strings(environment(&spec.env).iter().map(String::as_str))?;
    for (file, flag, name) in &namespaces {
        setns(file, *flag).map_err(|e| failed(&format!("setns({name})"), e))?;
    }
    fchdir(&root).map_err(|e| failed("fchdir", e))?;
    chroot(".").map_err(|e| failed("chroot", e))?;
    chdir("/").map_err(|e| failed("chdir", e))?;
    Ok(Entered { exe, argv, env })
}

pub(super) fn exec(spec: &EnterSpec, exe: Option<File>, argv: &[CString], env: &[CString]) -> ! {
    if spec.timeout.is_some() {
        // Its own process group, so the timeout can stop everything it started.
        let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    }
    // execvpe searches this process's PATH, not the one given to the command: use the host's.
    std::env::set_var("PATH", HOST_PATH);
    let error = match (&exe, argv.first()) {
        (Some(exe), _) => nix::unistd::fexecve(exe, argv, env).err(),
        (None, Some(program)) => nix::unistd::execvpe(program, argv, env).err(),
        (None, None) => None,
    };
    let program = spec.argv.first().map(String::as_str).unwrap_or("");
    match error {
        Some(e) => eprintln!("cannot run `{program}` in the host: {}", e.desc()),
        None => eprintln!("nothing to run in the host"),
    }
    std::process::exit(127)
}

fn wait_for(child: Pid, timeout: Option<Duration>) -> i32 {
    // The terminal's Ctrl-C is the command's to handle; this process only reports its status.
    // SAFETY: ignoring a signal installs no handler code.
    unsafe {
        let _ = signal(Signal::SIGINT, SigHandler::SigIgn);
        let _ = signal(Signal::SIGQUIT, SigHandler::SigIgn);
    }
    let Some(limit) = timeout else {
        return loop {
            match waitpid(child, None) {
                Ok(status) => match exit_code(status) {
                    Some(code) => break code,
                    None => continue,
                },
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break 1,
            }
        };
    };
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::EINTR) => {}
            Ok(status) => {
                if let Some(code) = exit_code(status) {
                    return code;
                }
            }
            Err(_) => return 1,
        }
        if Instant::now() >= deadline {
            let _ = kill(Pid::from_raw(-child.as_raw()), Signal::SIGKILL);
            let _ = waitpid(child, None);
            eprintln!("stopped after the timeout of {}s", limit.as_secs());
            return TIMED_OUT;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

pub(super) fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, signal, _) => Some(128 + signal as i32),
        _ => None,
    }
}

/// A clean environment: what a login on a Debian host would have, plus the caller's extras.
fn environment(extra: &[(String, String)]) -> Vec<String> {
    let mut env = vec![
        format!("PATH={HOST_PATH}"),
        "HOME=/root".to_string(),
        "USER=root".to_string(),
        "LANG=C.UTF-8".to_string(),
    ];
    if let Ok(term) = std::env::var("TERM") {
        env.push(format!("TERM={term}"));
    }
    env.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
    env
}

fn c_strings<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<CString>> {
    items
        .map(|s| {
            CString::new(s).map_err(|_| {
                Error::input("Kitchen::UserError", format!("`{s}` contains a NUL byte"))
            })
        })
        .collect()
}

pub(super) fn failed(what: &str, errno: nix::errno::Errno) -> Error {
    Error::input(
        "Kitchen::ActionFailed",
        format!("{what} failed: {}", errno.desc()),
    )
}
