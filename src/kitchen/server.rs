//! A Chef server for an instance's hosts (`provisioner: {chef_server: goiardi}`): goiardi
//! started in the lab's network namespace on the instance's gateway address, the project's
//! repository uploaded to it before each converge, and stopped when the instance is destroyed.
//!
//! The server outlives the skillet process that started it, as the hosts do: the instance's
//! state names its PID and start time, so a later `converge`, `verify` or `destroy` finds it.
//! This is not for a Chef server the user runs elsewhere; hosts are isolated in the lab and
//! reach only the gateway.

use super::cache::listens_on;
use super::config::{ChefServer, Instance};
use super::lab::Lab;
use super::provision;
use super::state::{HostState, ServerState};
use super::stream::progress;
use crate::error::{Error, IoContext, Result};
use crate::platform::procfs;
use crate::repo::config::ServerSettings;
use crate::repo::{Config, Repository};
use crate::server::api::Api;
use crate::server::upload::{self, Outcome};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Debian package (and program) that provides the server.
pub const GOIARDI: &str = "goiardi";
/// The first instance's port (chef-zero's); instance N listens on this plus N, so the servers
/// of one-host instances, which share the lab's gateway address, never clash.
pub const PORT_BASE: u16 = 8889;
/// How long a server may take to answer after it is started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopped server may take to exit after SIGTERM before it gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The validator's key as goiardi writes it into its directory.
pub const VALIDATOR_KEY: &str = "chef-validator.pem";
/// The validator's client name.
pub const VALIDATOR: &str = "chef-validator";
/// The admin user's key, used to upload the repository.
const ADMIN_KEY: &str = "admin.pem";
/// The server's output, kept for errors.
const LOG: &str = "goiardi.log";
/// Lines of the log an error shows.
const LOG_TAIL: usize = 15;

/// Where the server of `instance` keeps its data: `.kitchen/<instance>/server`.
pub fn server_dir(state_dir: &Path, instance: &str) -> PathBuf {
    state_dir.join(instance).join("server")
}

/// The server's address: the gateway of the instance's hosts (`10.200.0.1`, or the
/// instance's own `10.201.N.1`).
pub fn address(hosts: &[HostState]) -> String {
    let first = hosts.first().map(|h| h.address.as_str()).unwrap_or("");
    Lab::gateway(first)
}

/// The server's port for the instance at `index`.
pub fn port(index: usize) -> u16 {
    u16::try_from(index)
        .ok()
        .and_then(|i| PORT_BASE.checked_add(i))
        .unwrap_or(PORT_BASE)
}

/// Whether the server's process is still the one the state names, and not a zombie.
pub fn is_running(server: &ServerState) -> bool {
    procfs::stat(server.pid)
        .is_some_and(|(state, started)| state != 'Z' && started == server.start_time)
}

/// Whether the server's network namespace is the lab's as it is now.
fn listens_in_lab(server: &ServerState) -> bool {
    use std::os::unix::fs::MetadataExt;
    let theirs = std::fs::metadata(format!("/proc/{}/ns/net", server.pid));
    let lab = std::fs::metadata(Path::new("/run/netns").join(&server.lab));
    match (theirs, lab) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The instance's server, running: the one the state names if it still runs, else a new one.
/// `record` is called with a new server's state as soon as it is started (before it answers),
/// so a crash in between still leaves it findable by `destroy`.
pub fn ensure(
    instance: &Instance,
    hosts: &[HostState],
    current: Option<&ServerState>,
    state_dir: &Path,
    record: &mut dyn FnMut(Option<&ServerState>) -> Result<()>,
) -> Result<ServerState> {
    if let Some(server) = current.filter(|s| is_running(s)) {
        if listens_in_lab(server) {
            return Ok(server.clone());
        }
        // Its lab went with its last host and a new lab was made: nothing can reach it there.
        terminate(server.pid, server.start_time)?;
    }
    let program = find_program(GOIARDI, std::env::var_os("PATH").as_deref()).ok_or_else(|| {
        failed(format!(
            "`chef_server: goiardi` needs goiardi, which is not installed: install the Debian package `{GOIARDI}` (apt-get install {GOIARDI})"
        ))
    })?;
    let Some(first) = hosts.first() else {
        return Err(failed(format!("{} has no host", instance.name)));
    };
    let kind = instance.chef_server().unwrap_or(ChefServer::Goiardi);
    let dir = server_dir(state_dir, &instance.name);
    let at = Listen {
        lab: first.lab.clone(),
        address: address(hosts),
        port: port(instance.index),
    };
    progress(&format!(
        "Starting the Chef server ({}) of <{}> at {}",
        name_of(kind),
        instance.name,
        at.url()
    ));
    let (server, child) = spawn(&program, &at, &dir)?;
    if let Err(e) = record(Some(&server)) {
        // No state names it: nothing could find it to stop it later.
        let _ = stop(&server);
        return Err(e);
    }
    match wait_ready(&server, child, &at) {
        Ok(()) => Ok(server),
        Err(e) => {
            let _ = stop(&server);
            record(None)?;
            Err(e)
        }
    }
}

fn name_of(kind: ChefServer) -> &'static str {
    match kind {
        ChefServer::Goiardi => GOIARDI,
    }
}

/// Where a server listens.
struct Listen {
    lab: String,
    address: String,
    port: u16,
}

impl Listen {
    fn url(&self) -> String {
        format!("http://{}:{}", self.address, self.port)
    }
}

/// Starts goiardi in the lab's network namespace (a child started from a thread that joined
/// it), in a process group of its own so a Ctrl-C at the terminal leaves it running.
fn spawn(program: &Path, at: &Listen, dir: &Path) -> Result<(ServerState, Child)> {
    let lfs = dir.join("lfs");
    std::fs::create_dir_all(&lfs).with_path(&lfs)?;
    let log_path = dir.join(LOG);
    let log = File::create(&log_path).with_path(&log_path)?;
    let log_err = log.try_clone().with_path(&log_path)?;
    let mut command = Command::new(program);
    command
        .args(["-I", &at.address, "-H", &at.address, "-A"])
        .arg("-P")
        .arg(at.port.to_string())
        .arg(format!("--conf-root={}", dir.display()))
        .arg("-D")
        .arg(dir.join("data.bin"))
        .arg("-i")
        .arg(dir.join("index.bin"))
        .arg(format!("--local-filestore-dir={}", lfs.display()))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0);
    let child = in_lab(&at.lab, move || {
        command
            .spawn()
            .map_err(|e| failed(format!("cannot start {}: {e}", program.display())))
    })??;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let server = ServerState {
        pid,
        start_time: procfs::stat(pid).map(|(_, t)| t).unwrap_or(0),
        url: at.url(),
        lab: at.lab.clone(),
        dir: dir.to_path_buf(),
    };
    Ok((server, child))
}

/// Waits until the server has written its keys and listens on its address. The socket must be
/// its own: another server on that port (a stale one, another instance's) answers too.
fn wait_ready(server: &ServerState, mut child: Child, at: &Listen) -> Result<()> {
    let started = Instant::now();
    let address: Ipv4Addr = at.address.parse().map_err(|_| {
        failed(format!(
            "the Chef server's address {} is not an IPv4 address",
            at.address
        ))
    })?;
    loop {
        // First: an exited server's port may be answered by someone else.
        if let Ok(Some(status)) = child.try_wait() {
            return Err(failed(format!(
                "the Chef server (goiardi) exited ({status}) before it answered at {}; the end of its log:\n{}",
                server.url,
                log_tail(&server.dir)
            )));
        }
        let keys = [ADMIN_KEY, VALIDATOR_KEY]
            .iter()
            .all(|k| server.dir.join(k).is_file());
        if keys && listens_on(server.pid, address, at.port) {
            return Ok(());
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(failed(format!(
                "the Chef server (goiardi) did not answer at {} within {}s; the end of its log:\n{}",
                server.url,
                READY_TIMEOUT.as_secs(),
                log_tail(&server.dir)
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last lines of the server's log, indented; says so when it is empty.
fn log_tail(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join(LOG)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "  (the log is empty)".to_string();
    }
    lines[lines.len().saturating_sub(LOG_TAIL)..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Stops the server (SIGTERM, then SIGKILL after a grace period), waits until it is gone, and
/// removes its directory (and the instance's directory once empty).
pub fn stop(server: &ServerState) -> Result<()> {
    terminate(server.pid, server.start_time)?;
    remove_dir(&server.dir)
}

/// SIGTERM, then SIGKILL, to the process `pid` that started at `start_time`; returns once it
/// is gone (or a zombie, reaped when it is a child of this process).
fn terminate(pid: i32, start_time: u64) -> Result<()> {
    let alive = || procfs::stat(pid).is_some_and(|(s, t)| s != 'Z' && t == start_time);
    for (signal, grace) in [(Signal::SIGTERM, STOP_GRACE), (Signal::SIGKILL, STOP_GRACE)] {
        if !alive() {
            break;
        }
        let _ = kill(Pid::from_raw(pid), signal);
        let deadline = Instant::now() + grace;
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // Started by this very process (`kitchen test`): reap it, so no zombie is left.
    let _ = nix::sys::wait::waitpid(
        Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
    if alive() {
        return Err(failed(format!(
            "the Chef server ({pid}) did not exit after SIGKILL: look at `ps -p {pid}`"
        )));
    }
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(dir, e)),
        _ => {}
    }
    // `.kitchen/<instance>/`, when the server was all it held.
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir(parent);
    }
    Ok(())
}

/// Stops servers of this project that no state names (left by a crash, or whose state file
/// was lost) and removes their directories; returns the directories swept.
pub fn sweep_orphans(state_dir: &Path, known: &[ServerState]) -> Vec<PathBuf> {
    let mut swept = Vec::new();
    for (pid, start_time, dir) in goiardi_processes(state_dir) {
        if known
            .iter()
            .any(|s| s.pid == pid && s.start_time == start_time)
        {
            continue;
        }
        if terminate(pid, start_time).is_ok() {
            let _ = remove_dir(&dir);
            swept.push(dir);
        }
    }
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return swept;
    };
    for entry in entries.flatten() {
        let dir = entry.path().join("server");
        if dir.is_dir() && !known.iter().any(|s| s.dir == dir) && !swept.contains(&dir) {
            let _ = remove_dir(&dir);
            swept.push(dir);
        }
    }
    swept
}

/// goiardi processes whose `--conf-root` is under `state_dir`: PID, start time, directory.
fn goiardi_processes(state_dir: &Path) -> Vec<(i32, u64, PathBuf)> {
    let prefix = format!("--conf-root={}/", state_dir.display());
    procfs::pids()
        .into_iter()
        .filter_map(|pid| {
            let mut args = procfs::args(pid)?.into_iter();
            let program = args.next()?;
            if !program.ends_with(GOIARDI) {
                return None;
            }
            let dir = args.find_map(|a| a.strip_prefix(&prefix).map(|d| state_dir.join(d)))?;
            let (state, started) = procfs::stat(pid)?;
            (state != 'Z').then_some((pid, started, dir))
        })
        .collect()
}

/// Uploads the project's cookbooks, roles, environments and data bags to the server (only
/// what changed since the last upload is sent).
pub fn upload_repository(server: &ServerState, project_dir: &Path) -> Result<Outcome> {
    let staged = server.dir.join("project-cookbook");
    let mut config = Config::load(None)?;
    config.cookbook_path = provision::cookbook_dirs(project_dir, &staged)?;
    config.role_path = project_dir.join("roles");
    config.environment_path = project_dir.join("environments");
    config.data_bag_path = project_dir.join("data_bags");
    config.node_path = server.dir.join("no-nodes");
    let repo = Repository::open(&config)?;
    let mut outcome = Outcome::default();
    with_admin(server, |api| {
        upload::cookbooks(api, &repo, &mut outcome)?;
        upload::named_objects(api, "roles", &config.role_path, &mut outcome)?;
        upload::named_objects(api, "environments", &config.environment_path, &mut outcome)?;
        upload::data_bags(api, &repo, &mut outcome)
    })?;
    Ok(outcome)
}

/// Deletes the client and node called `name` from the server, for a host that has no client
/// key yet (a new host taking the name of one destroyed while the server ran): it registers
/// again and starts with a node of its own, as a fresh machine does.
pub fn forget_client(server: &ServerState, name: &str) -> Result<()> {
    with_admin(server, |api| {
        for kind in ["clients", "nodes"] {
            let path = format!("/{kind}/{name}");
            let response = api.http.send_json("DELETE", &path, None)?;
            if response.status != 404 {
                api.http.check("DELETE", &path, response)?;
            }
        }
        Ok(())
    })
}

/// Runs `f` with the admin user's connection, from inside the lab's network namespace.
fn with_admin<T: Send>(
    server: &ServerState,
    f: impl FnOnce(&Api) -> Result<T> + Send,
) -> Result<T> {
    let key = server.dir.join(ADMIN_KEY);
    let api = crate::server::connect(&server.url, "admin", &key, &ServerSettings::default())?;
    // ureq connects from the calling thread, so a thread in the lab reaches the gateway.
    in_lab(&server.lab, || f(&api))?
}

/// Runs `f` on a short-lived thread that joined the lab's network namespace; this process
/// stays where it is. Children spawned by `f` start in the lab too.
pub fn in_lab<T: Send>(lab: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    let path = Path::new("/run/netns").join(lab);
    let ns = File::open(&path).map_err(|e| {
        failed(format!(
            "the lab's network namespace {} is gone ({e}): run `skillet kitchen create`",
            path.display()
        ))
    })?;
    std::thread::scope(|s| {
        s.spawn(|| -> Result<T> {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| failed(format!("setns({}) failed: {}", path.display(), e.desc())))?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| {
            Err(failed(
                "a thread in the lab's network namespace panicked".into(),
            ))
        })
    })
}

/// The first `name` in the directories of `path` (a `PATH` value) that is an executable file.
pub fn find_program(name: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

fn failed(message: String) -> Error {
    Error::input("Kitchen::ActionFailed", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_the_instance_index() {
        assert_eq!(port(0), 8889);
        assert_eq!(port(3), 8892);
        assert_eq!(port(usize::MAX), PORT_BASE);
    }

    #[test]
    fn the_server_listens_on_its_hosts_gateway() {
        let host = |address: &str| HostState {
            name: "a".into(),
            pid: 1,
            start_time: 0,
            netns: "n".into(),
            veth: "v".into(),
            lab: "l".into(),
            address: address.into(),
            bridge: "b".into(),
            hostname: "a".into(),
            scratch: "/x".into(),
        };
        assert_eq!(address(&[host("10.201.3.11")]), "10.201.3.1");
        assert_eq!(address(&[host("10.200.0.12")]), "10.200.0.1");
    }

    #[test]
    fn find_program_looks_through_path_for_an_executable() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("plain"), "").unwrap();
        std::fs::write(bin.join("tool"), "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([dir.path().join("none"), bin.clone()]).unwrap();
        assert_eq!(find_program("tool", Some(&path)), Some(bin.join("tool")));
        assert_eq!(find_program("plain", Some(&path)), None);
        assert_eq!(find_program("tool", None), None);
    }

    #[test]
    fn the_log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(log_tail(dir.path()), "  (the log is empty)");
        let text: String = (1..=30).map(|n| format!("line {n}\n")).collect();
        std::fs::write(dir.path().join(LOG), text).unwrap();
        let tail = log_tail(dir.path());
        assert!(tail.starts_with("  line 16\n"), "{tail}");
        assert!(tail.ends_with("  line 30"), "{tail}");
    }

    #[test]
    // `terminate` reaps it: that is what is tested.
    #[allow(clippy::zombie_processes)]
    fn a_stopped_process_is_gone_and_reaped() {
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id() as i32;
        let (_, started) = procfs::stat(pid).unwrap();
        terminate(pid, started).unwrap();
        assert!(procfs::stat(pid).is_none(), "still there");
    }
}
