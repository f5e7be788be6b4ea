//! The package cache of `apt_network: cache`: Debian's apt-cacher-ng on the machine, reachable
//! from the lab on every gateway at port 3142, so hosts install packages while staying
//! isolated, and a package downloaded once is served from the machine's disk afterwards.
//!
//! Two processes per lab. apt-cacher-ng runs in the machine's network namespace, listening on
//! 127.0.0.1 only, with its own configuration, socket and logs under `/run/skillet/<lab>/` and
//! its cache in [`CACHE_DIR`], which outlives labs so it stays warm across runs and projects. A
//! system apt-cacher-ng, if any, is neither used nor touched. The forwarder (`skillet kitchen
//! __forward`) is the skillet binary run again: it makes its listening socket inside the lab's
//! network namespace (0.0.0.0:3142 there, so every bridge's gateway answers) and then returns
//! to the machine's, where it connects each accepted client to apt-cacher-ng; a socket keeps
//! the namespace it was made in.
//!
//! Both start with the first host that asks for the cache (under the lab's lock) and stop when
//! the lab is removed. Their pids and start times are recorded beside the configuration, so a
//! later skillet invocation finds them and never mistakes a recycled pid for them.
//!
//! What it is not: a general proxy. apt-cacher-ng only serves what looks like repository files
//! and lets https through as an opaque tunnel (CONNECT to port 443).

use crate::error::{Error, IoContext, Result};
use crate::kitchen::driver::namespace::proc_stat;
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The port the cache answers on at every gateway of the lab (apt-cacher-ng's usual one).
pub const PROXY_PORT: u16 = 3142;
/// Where downloaded packages are kept, shared by every lab and kept between runs.
pub const CACHE_DIR: &str = "/var/cache/skillet/apt-cacher-ng";
/// The Debian package that provides the cache.
const PACKAGE: &str = "apt-cacher-ng";
/// Where each lab's cache keeps its configuration, socket, logs and process records.
const RUN_DIR: &str = "/run/skillet";
/// How long apt-cacher-ng may take to answer on its port.
const READY_WITHIN: Duration = Duration::from_secs(10);
/// apt-cacher-ng 3.7 prints ports above 32767 as negative numbers and then cannot bind them or
/// reach servers on them, so its own port comes from below.
const PORTS: std::ops::Range<u16> = 20000..32768;
/// The apt configuration file a host with the cache gets.
pub const APT_PROXY_CONF: &str = "/etc/apt/apt.conf.d/00skillet-proxy";

/// The package cache of one lab.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageCache {
    /// The lab's name.
    lab: String,
    /// `/run/skillet/<lab>/apt-cacher-ng`.
    dir: PathBuf,
}

/// One of the cache's processes, as recorded: its pid and its start time, so a pid reused by
/// another process is not taken for it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Recorded {
    pid: i32,
    start_time: u64,
}

/// The two processes of a cache.
const DAEMON: &str = "daemon.pid";
const FORWARDER: &str = "forwarder.pid";

impl PackageCache {
    /// The cache of the lab called `lab`.
    pub fn of_lab(lab: &str) -> PackageCache {
        PackageCache {
            lab: lab.to_string(),
            dir: Path::new(RUN_DIR).join(lab).join(PACKAGE),
        }
    }

    /// The directory holding the cache's configuration, logs and process records.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts the cache unless both its processes run. Meant to be called under the lab's
    /// lock, with the lab's network namespace at `lab_netns`; on failure nothing of it is
    /// left running.
    pub fn ensure(&self, lab_netns: &Path) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        // One of the two died (or a crash left a half): start both afresh.
        self.stop();
        self.start(lab_netns).inspect_err(|_| self.stop())
    }

    /// Whether both the daemon and the forwarder recorded for this lab are alive.
    pub fn is_running(&self) -> bool {
        [DAEMON, FORWARDER]
            .iter()
            .all(|name| self.recorded(name).is_some_and(alive))
    }

    /// Stops the cache's processes (TERM, then KILL) and removes its run directory; the cache
    /// on disk stays. Missing pieces are not an error.
    pub fn stop(&self) {
        for name in [FORWARDER, DAEMON] {
            if let Some(process) = self.recorded(name) {
                terminate(process);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(lab_dir) = self.dir.parent() {
            // Only when empty: other things of the lab may live there.
            let _ = std::fs::remove_dir(lab_dir);
        }
    }

    fn start(&self, lab_netns: &Path) -> Result<()> {
        let program = find_program(PACKAGE).ok_or_else(|| {
            failed(format!(
                "`apt_network: cache` needs {PACKAGE}, which is not installed on this machine: run `apt-get install {PACKAGE}`"
            ))
        })?;
        let logs = self.dir.join("log");
        for dir in [Path::new(CACHE_DIR), &logs] {
            std::fs::create_dir_all(dir).with_path(dir)?;
        }
        let port = free_port(&self.lab)?;
        write_atomically(&self.dir.join("acng.conf"), &self.config(port))?;
        let daemon = self.start_daemon(&program, port)?;
        self.record_or_stop(DAEMON, daemon)?;
        let forwarder = self.start_forwarder(lab_netns, port)?;
        self.record_or_stop(FORWARDER, forwarder)
    }

    /// Records a started process; one that cannot be recorded could not be stopped later, so
    /// it is stopped now.
    fn record_or_stop(&self, name: &str, process: Recorded) -> Result<()> {
        self.record(name, process)
            .inspect_err(|_| terminate(process))
    }

    /// apt-cacher-ng's configuration: everything it reads is ours, nothing from /etc.
    fn config(&self, port: u16) -> String {
        let dir = self.dir.display();
        format!(
            "# Written by skillet kitchen for lab {lab}; removed with the lab.\n\
             CacheDir: {CACHE_DIR}\n\
             LogDir: {dir}/log\n\
             SupportDir: /usr/lib/apt-cacher-ng\n\
             Port: {port}\n\
             BindAddress: 127.0.0.1\n\
             SocketPath: {dir}/socket\n\
             ForeGround: 1\n\
             UnbufferLogs: 1\n\
             # Repositories on any port, as a host's sources name them.\n\
             AllowUserPorts: 0\n\
             # https sources go through as tunnels, uncached.\n\
             PassThroughPattern: .*:443$\n",
            lab = self.lab,
        )
    }

    fn start_daemon(&self, program: &Path, port: u16) -> Result<Recorded> {
        let out = self.dir.join("log/daemon.out");
        let log = File::create(&out).with_path(&out)?;
        let log2 = log.try_clone().with_path(&out)?;
        let mut child = Command::new(program)
            .arg("-c")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            // Its own process group: a Ctrl-C on the command that started it must not stop it.
            .process_group(0)
            .spawn()
            .with_path(program)?;
        let pid = child.id() as i32;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(failed(format!(
                    "{PACKAGE} stopped at start ({status}):\n{}",
                    self.log_tail()
                )));
            }
            // Its own socket, not merely an answer: another program may have taken the port
            // since it was found free, and apt-cacher-ng keeps running without TCP then.
            if listens_on(pid, port) {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!(
                    "{PACKAGE} did not answer on {address} within {}s:\n{}",
                    READY_WITHIN.as_secs(),
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        started(pid)
    }

    fn start_forwarder(&self, lab_netns: &Path, port: u16) -> Result<Recorded> {
        let exe = std::env::current_exe().map_err(|e| Error::io("/proc/self/exe", e))?;
        let log_path = self.dir.join("log/forwarder.log");
        let log = File::create(&log_path).with_path(&log_path)?;
        let mut child = Command::new(exe)
            .args(["kitchen", "__forward", "--lab-netns"])
            .arg(lab_netns)
            .arg("--to")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| Error::io("skillet kitchen __forward", e))?;
        // The forwarder says "ready" (or why not) and then lets go of its standard output.
        let mut answer = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut answer);
        }
        if answer.trim() == "ready" {
            return started(child.id() as i32);
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(failed(format!(
            "the package cache's forwarder could not listen on port {PROXY_PORT} in the lab: {}",
            answer.trim()
        )))
    }

    fn record(&self, name: &str, process: Recorded) -> Result<()> {
        write_atomically(
            &self.dir.join(name),
            &format!("{} {}\n", process.pid, process.start_time),
        )
    }

    fn recorded(&self, name: &str) -> Option<Recorded> {
        let text = std::fs::read_to_string(self.dir.join(name)).ok()?;
        let mut fields = text.split_whitespace();
        Some(Recorded {
            pid: fields.next()?.parse().ok()?,
            start_time: fields.next()?.parse().ok()?,
        })
    }

    /// The last lines apt-cacher-ng wrote on its output and in its error log.
    fn log_tail(&self) -> String {
        let mut lines = Vec::new();
        for name in ["daemon.out", "apt-cacher.err"] {
            let path = self.dir.join("log").join(name);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            lines.extend(last_lines(&text, 10).into_iter().map(|l| format!("  {l}")));
        }
        if lines.is_empty() {
            return format!("  (nothing in {}/log)", self.dir.display());
        }
        lines.join("\n")
    }
}

/// What an apt configuration file in a host says to reach the cache at `gateway`.
pub fn apt_proxy_config(proxy: &str) -> String {
    format!(
        "// The lab's package cache (skillet kitchen, apt_network: cache).\n\
         Acquire::http::Proxy \"{proxy}\";\n\
         Acquire::https::Proxy \"{proxy}\";\n"
    )
}

/// The URL of the cache as hosts behind `gateway` reach it.
pub fn proxy_url(gateway: &str) -> String {
    format!("http://{gateway}:{PROXY_PORT}")
}

fn alive(process: Recorded) -> bool {
    proc_stat(process.pid).is_some_and(|(state, start)| state != 'Z' && start == process.start_time)
}

fn started(pid: i32) -> Result<Recorded> {
    match proc_stat(pid) {
        Some((_, start_time)) => Ok(Recorded { pid, start_time }),
        None => Err(failed(format!(
            "the package cache's process {pid} stopped right after it started"
        ))),
    }
}

/// TERM, a moment to close its logs, then KILL; reaped when it is this process's child.
fn terminate(process: Recorded) {
    let pid = Pid::from_raw(process.pid);
    for (signal, grace) in [
        (Signal::SIGTERM, Duration::from_secs(3)),
        (Signal::SIGKILL, Duration::from_secs(2)),
    ] {
        if !alive(process) {
            break;
        }
        let _ = kill(pid, signal);
        let deadline = Instant::now() + grace;
        while alive(process) && Instant::now() < deadline {
            let _ = waitpid(pid, Some(WaitPidFlag::WNOHANG));
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = waitpid(pid, Some(WaitPidFlag::WNOHANG));
}

/// Whether process `pid` holds a socket listening on 127.0.0.1:`port` (from the TCP table of
/// its network namespace and the socket inodes among its descriptors).
fn listens_on(pid: i32, port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")) else {
        return false;
    };
    // "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode"
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.get(1) == Some(&local.as_str()) && f.get(3) == Some(&"0A"))
        .filter_map(|f| f.get(9).map(|i| format!("socket:[{i}]")))
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
}

/// A port on 127.0.0.1 nobody listens on, first trying one derived from the lab's name so a
/// lab tends to keep its port.
fn free_port(lab: &str) -> Result<u16> {
    let span = PORTS.end - PORTS.start;
    let digest = crate::platform::fs::sha256_hex(lab.as_bytes());
    let seed = u16::from_str_radix(&digest[..4], 16).unwrap_or(0) % span;
    (0..span)
        .map(|n| PORTS.start + (seed + n) % span)
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .ok_or_else(|| {
            failed(format!(
                "no free port on 127.0.0.1 between {} and {} for {PACKAGE}",
                PORTS.start,
                PORTS.end - 1
            ))
        })
}

/// `program` in the directories of `PATH`.
fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Writes `text` to `path` through a temporary file beside it, synced, then renamed.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).with_path(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_path(dir)?;
    tmp.write_all(text.as_bytes()).with_path(tmp.path())?;
    tmp.as_file().sync_all().with_path(tmp.path())?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

fn last_lines(text: &str, n: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

fn failed(message: String) -> Error {
    Error::input("Kitchen::ActionFailed", message)
}

/// `skillet kitchen __forward`: listens on port [`PROXY_PORT`] of every address of the lab's
/// network namespace and connects each client to `to` in the machine's; returns only on error.
pub fn run_forwarder(lab_netns: &Path, to: SocketAddr) -> i32 {
    let listener = match listen_in_lab(lab_netns) {
        Ok(l) => l,
        Err(e) => {
            println!("{e}");
            return 1;
        }
    };
    println!("ready");
    let _ = std::io::stdout().flush();
    // The starter reads until end of file: it must see one now.
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
    }
    for client in listener.incoming() {
        match client {
            Ok(client) => {
                std::thread::spawn(move || relay(client, to));
            }
            Err(e) => {
                // Out of descriptors, say: let connections finish rather than spin.
                eprintln!("accept: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    1
}

/// The listening socket, made inside the lab's network namespace; this thread then goes back
/// to the machine's, where the connections to apt-cacher-ng are made.
fn listen_in_lab(lab_netns: &Path) -> Result<TcpListener> {
    let own = Path::new("/proc/self/ns/net");
    let machine = File::open(own).with_path(own)?;
    let lab = File::open(lab_netns).with_path(lab_netns)?;
    setns(&lab, CloneFlags::CLONE_NEWNET).map_err(|e| {
        failed(format!(
            "setns({}) failed: {}",
            lab_netns.display(),
            e.desc()
        ))
    })?;
    let listener = TcpListener::bind(("0.0.0.0", PROXY_PORT));
    setns(&machine, CloneFlags::CLONE_NEWNET).map_err(|e| {
        failed(format!(
            "returning to the machine's network failed: {}",
            e.desc()
        ))
    })?;
    listener.map_err(|e| failed(format!("binding 0.0.0.0:{PROXY_PORT} in the lab: {e}")))
}

/// Pipes one client to apt-cacher-ng and back until both sides are done.
fn relay(client: TcpStream, to: SocketAddr) {
    let Ok(upstream) = TcpStream::connect(to) else {
        eprintln!("cannot reach {PACKAGE} at {to}");
        return;
    };
    let (Ok(client2), Ok(upstream2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let back = std::thread::spawn(move || {
        pipe(&upstream2, &client2);
        // apt-cacher-ng is done with this client (it also closes idle ones, which is how a
        // connection of a destroyed host, which never says goodbye, ends here too).
        let _ = client2.shutdown(Shutdown::Both);
    });
    pipe(&client, &upstream);
    // The client has sent everything; the answer may still be coming.
    let _ = upstream.shutdown(Shutdown::Write);
    let _ = back.join();
}

/// Copies `from` to `to` until `from` ends or either fails.
fn pipe(mut from: &TcpStream, mut to: &TcpStream) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_told_to_use_the_proxy_for_http_and_https() {
        let text = apt_proxy_config(&proxy_url("10.200.0.1"));
        assert!(text.contains("Acquire::http::Proxy \"http://10.200.0.1:3142\";"));
        assert!(text.contains("Acquire::https::Proxy \"http://10.200.0.1:3142\";"));
    }

    #[test]
    fn the_configuration_keeps_everything_of_apt_cacher_ng_apart_from_a_system_instance() {
        let cache = PackageCache::of_lab("sk12345678");
        let text = cache.config(23142);
        assert!(text.contains("CacheDir: /var/cache/skillet/apt-cacher-ng\n"));
        assert!(text.contains("LogDir: /run/skillet/sk12345678/apt-cacher-ng/log\n"));
        assert!(text.contains("SocketPath: /run/skillet/sk12345678/apt-cacher-ng/socket\n"));
        assert!(text.contains("Port: 23142\n"));
        assert!(text.contains("BindAddress: 127.0.0.1\n"));
        assert!(text.contains("ForeGround: 1\n"));
    }

    #[test]
    fn ports_stay_below_what_apt_cacher_ng_can_read() {
        for lab in ["a", "sk00000000", "skffffffff"] {
            let port = free_port(lab).unwrap();
            assert!(PORTS.contains(&port), "{port}");
        }
    }

    #[test]
    fn a_missing_record_or_a_recycled_pid_is_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PackageCache {
            lab: "x".into(),
            dir: dir.path().to_path_buf(),
        };
        assert!(!cache.is_running());
        let me = started(std::process::id() as i32).unwrap();
        cache.record(DAEMON, me).unwrap();
        cache.record(FORWARDER, me).unwrap();
        assert!(cache.is_running());
        let recycled = Recorded {
            start_time: me.start_time + 1,
            ..me
        };
        cache.record(FORWARDER, recycled).unwrap();
        assert!(!cache.is_running());
    }

    #[test]
    fn a_listening_socket_is_found_among_its_owners_descriptors_only() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = std::process::id() as i32;
        assert!(listens_on(me, port));
        // Another process in the same network does not hold it.
        assert!(!listens_on(1, port));
        drop(listener);
        assert!(!listens_on(me, port));
    }

    #[test]
    fn the_log_tail_keeps_the_last_lines() {
        assert_eq!(last_lines("a\nb\n\nc\n", 2), ["b", "c"]);
        assert_eq!(last_lines("", 3), Vec::<&str>::new());
    }
}
