//! The package cache of `apt_network: cache`: Debian's apt-cacher-ng on the machine, reachable
//! from the lab on every gateway at port 3142, so hosts install packages while staying
//! isolated, and a package downloaded once is served from the machine's disk afterwards.
//!
//! Two processes per lab. apt-cacher-ng runs in the machine's network namespace, listening on
//! 127.0.0.1 only, with its own configuration, socket and logs under `/run/skillet/<lab>/` and
//! its cache in `<CACHE_DIR>/<lab>/`, which outlives the lab so a project's cache stays warm
//! across runs; each lab has its own because two apt-cacher-ng writing one pool file at once
//! can corrupt it. A system apt-cacher-ng, if any, is neither used nor touched. The forwarder
//! (`skillet kitchen __forward`) is the skillet binary run again: it makes its listening socket
//! inside the lab's network namespace (0.0.0.0:3142 there, so every bridge's gateway answers)
//! and then returns to the machine's, where it connects each accepted client to apt-cacher-ng;
//! a socket keeps the namespace it was made in.
//!
//! Both start with the first host that asks for the cache (under the lab's lock) and stop when
//! the lab is removed. Their pids and start times are recorded beside the configuration as soon
//! as they are spawned, so a later skillet invocation finds them and never mistakes a recycled
//! pid for them; a process that an interrupted skillet started but never recorded is found by
//! its command line.
//!
//! What it is not: a general proxy. apt-cacher-ng fetches, on the hosts' behalf, what looks
//! like repository files on any server and port, and lets through as an opaque tunnel (CONNECT)
//! only the https servers the machine's apt sources name. It has no report or maintenance
//! page.

use crate::error::{Error, IoContext, Result};
use crate::platform::procfs;
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The port the cache answers on at every gateway of the lab (apt-cacher-ng's usual one).
pub const PROXY_PORT: u16 = 3142;
/// Where downloaded packages are kept between runs, in one directory per lab.
pub const CACHE_DIR: &str = "/var/cache/skillet/apt-cacher-ng";
/// The machine's apt configuration, whose sources name the https servers hosts may tunnel to.
const APT_DIR: &str = "/etc/apt";
/// Where lab network namespaces are, as the forwarder is told.
const NETNS_DIR: &str = "/run/netns";
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

    /// Where this lab's apt-cacher-ng keeps what it downloaded: `<CACHE_DIR>/<lab>`.
    pub fn cache_dir(&self) -> PathBuf {
        Path::new(CACHE_DIR).join(&self.lab)
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

    /// Stops the cache's processes (TERM, then KILL), the recorded ones and any this lab's
    /// command lines name, and removes its run directory; the cache on disk stays. Missing
    /// pieces are not an error.
    pub fn stop(&self) {
        let mut processes: Vec<Recorded> = [FORWARDER, DAEMON]
            .iter()
            .filter_map(|name| self.recorded(name))
            .collect();
        for found in self.unrecorded() {
            if !processes.contains(&found) {
                processes.push(found);
            }
        }
        for process in processes {
            terminate(process);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(lab_dir) = self.dir.parent() {
            // Only when empty: other things of the lab may live there.
            let _ = std::fs::remove_dir(lab_dir);
        }
    }

    /// Live processes of this lab's cache that no record names (a skillet interrupted between
    /// spawning and recording them), found by their command lines. Both are spawned as leaders
    /// of their own process groups, so a process that merely mentions the lab is not one.
    fn unrecorded(&self) -> Vec<Recorded> {
        let netns = Path::new(NETNS_DIR).join(&self.lab);
        procfs::pids()
            .into_iter()
            .filter_map(|pid| {
                let args = procfs::args(pid)?;
                if !is_cache_command(&args, &self.dir, &netns) {
                    return None;
                }
                let leader = nix::unistd::getpgid(Some(Pid::from_raw(pid))).ok()?;
                let (state, start_time) = procfs::stat(pid)?;
                (leader.as_raw() == pid && state != 'Z').then_some(Recorded { pid, start_time })
            })
            .collect()
    }

    fn start(&self, lab_netns: &Path) -> Result<()> {
        let program = find_program(PACKAGE).ok_or_else(|| {
            failed(format!(
                "`apt_network: cache` needs {PACKAGE}, which is not installed on this machine: run `apt-get install {PACKAGE}`"
            ))
        })?;
        let logs = self.dir.join("log");
        for dir in [&self.cache_dir(), &logs] {
            std::fs::create_dir_all(dir).with_path(dir)?;
        }
        let port = free_port(&self.lab)?;
        let tunnels = https_servers(Path::new(APT_DIR));
        write_atomically(&self.dir.join("acng.conf"), &self.config(port, &tunnels))?;
        self.start_daemon(&program, port)?;
        self.start_forwarder(lab_netns, port)
    }

    /// Records a process just spawned, before waiting on it for anything, so an interrupted
    /// start leaves it findable; one that cannot be recorded could not be stopped later, so it
    /// is stopped now.
    fn record_spawned(&self, name: &str, child: &mut Child) -> Result<Recorded> {
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        let recorded = match procfs::stat(pid) {
            Some((_, start_time)) => {
                let process = Recorded { pid, start_time };
                self.record(name, process).map(|()| process)
            }
            None => Err(failed(format!(
                "the package cache's process {pid} vanished right after it started"
            ))),
        };
        if recorded.is_err() {
            let _ = child.kill();
            let _ = child.wait();
        }
        recorded
    }

    /// apt-cacher-ng's configuration: everything it reads is ours, nothing from /etc.
    /// `tunnels` are the `host:port` of the https servers hosts may reach through it.
    fn config(&self, port: u16, tunnels: &[String]) -> String {
        let dir = self.dir.display();
        format!(
            "# Written by skillet kitchen for lab {lab}; removed with the lab.\n\
             CacheDir: {cache}\n\
             LogDir: {dir}/log\n\
             SupportDir: /usr/lib/apt-cacher-ng\n\
             Port: {port}\n\
             BindAddress: 127.0.0.1\n\
             SocketPath: {dir}/socket\n\
             ForeGround: 1\n\
             UnbufferLogs: 1\n\
             # Repositories on any port, as a host's sources name them.\n\
             AllowUserPorts: 0\n\
             # No report or maintenance page: anything in the lab could use it.\n\
             ReportPage:\n\
             # Tunnels (uncached) only to the https servers of the machine's apt sources.\n\
             PassThroughPattern: {tunnels}\n",
            lab = self.lab,
            cache = self.cache_dir().display(),
            tunnels = passthrough_pattern(tunnels),
        )
    }

    fn start_daemon(&self, program: &Path, port: u16) -> Result<()> {
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
        let daemon = self.record_spawned(DAEMON, &mut child)?;
        let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
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
            if listens_on(daemon.pid, *address.ip(), port) {
                return Ok(());
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
    }

    fn start_forwarder(&self, lab_netns: &Path, port: u16) -> Result<()> {
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
        self.record_spawned(FORWARDER, &mut child)?;
        // The forwarder says "ready" (or why not) and then lets go of its standard output.
        let mut answer = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut answer);
        }
        if answer.trim() == "ready" {
            return Ok(());
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
    procfs::stat(process.pid)
        .is_some_and(|(state, start)| state != 'Z' && start == process.start_time)
}

/// Whether `args` (a command line) is the apt-cacher-ng of the cache whose run directory is
/// `dir` (`apt-cacher-ng -c DIR`) or the forwarder into the lab namespace at `netns`
/// (`skillet kitchen __forward --lab-netns NETNS ...`).
fn is_cache_command(args: &[String], dir: &Path, netns: &Path) -> bool {
    let dir = dir.to_string_lossy();
    let netns = netns.to_string_lossy();
    // The program (or a script's path after its interpreter) right before `-c DIR`.
    let daemon = args.windows(3).any(|w| {
        Path::new(&w[0]).file_name() == Some(OsStr::new(PACKAGE)) && w[1] == "-c" && w[2] == dir
    });
    let forwarder = args.get(1..5).is_some_and(|a| {
        a[0] == "kitchen" && a[1] == "__forward" && a[2] == "--lab-netns" && a[3] == netns
    });
    daemon || forwarder
}

/// The `host:port` of every https server the apt sources under `apt_dir` name
/// (`sources.list`, `sources.list.d/*.list` and `*.sources`), sorted, each once.
fn https_servers(apt_dir: &Path) -> Vec<String> {
    let mut uris = Vec::new();
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    uris.extend(one_line_uris(&read(&apt_dir.join("sources.list"))));
    let parts = apt_dir.join("sources.list.d");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&parts)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for file in files {
        match file.extension().and_then(OsStr::to_str) {
            Some("list") => uris.extend(one_line_uris(&read(&file))),
            Some("sources") => uris.extend(deb822_uris(&read(&file))),
            _ => {}
        }
    }
    let mut servers: Vec<String> = uris.iter().filter_map(|u| https_server(u)).collect();
    servers.sort();
    servers.dedup();
    servers
}

/// The URIs of one-line sources: `deb [options] URI suite [component...]`.
fn one_line_uris(text: &str) -> Vec<String> {
    let mut uris = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        if !matches!(words.next(), Some("deb" | "deb-src")) {
            continue;
        }
        let mut word = words.next();
        if word.is_some_and(|w| w.starts_with('[')) {
            // Options may hold spaces: they end with the word that closes the bracket.
            while let Some(w) = word {
                word = words.next();
                if w.ends_with(']') {
                    break;
                }
            }
        }
        uris.extend(word.map(str::to_string));
    }
    uris
}

/// The URIs of deb822 sources: the `URIs:` field of every stanza not `Enabled: no`.
fn deb822_uris(text: &str) -> Vec<String> {
    let mut stanzas: Vec<Vec<&str>> = vec![Vec::new()];
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        match stanzas.last_mut() {
            Some(stanza) if !line.trim().is_empty() => stanza.push(line),
            _ => stanzas.push(Vec::new()),
        }
    }
    let mut uris = Vec::new();
    for stanza in stanzas {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in stanza {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = fields.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        if field("enabled").is_some_and(|v| v.eq_ignore_ascii_case("no")) {
            continue;
        }
        if let Some(value) = field("uris") {
            uris.extend(value.split_whitespace().map(str::to_string));
        }
    }
    uris
}

/// `host:port` of an `https://` URI (port 443 unless it names one); none for other schemes or
/// a host that is not a plain name or IPv4 address.
fn https_server(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("https://")?;
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().ok()?),
        None => (authority, 443),
    };
    let plain = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    plain.then(|| format!("{host}:{port}"))
}

/// apt-cacher-ng's `PassThroughPattern` for `servers` (`host:port`): exactly those, or, with
/// none, a pattern no `host:port` matches.
fn passthrough_pattern(servers: &[String]) -> String {
    if servers.is_empty() {
        return "^$".to_string();
    }
    let alternatives: Vec<String> = servers.iter().map(|s| s.replace('.', "\\.")).collect();
    format!("^({})$", alternatives.join("|"))
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

/// Whether process `pid` holds a socket listening on `address`:`port` (from the TCP table of
/// its network namespace and the socket inodes among its descriptors), so another program on
/// that port is not taken for it.
pub(crate) fn listens_on(pid: i32, address: Ipv4Addr, port: u16) -> bool {
    // The table prints the address as the kernel's 32-bit word, in this machine's byte order.
    let word = u32::from_ne_bytes(address.octets());
    let local = format!("{word:08X}:{port:04X}");
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
        let text = cache.config(23142, &[]);
        // A cache directory of its own: two daemons writing one pool file can corrupt it.
        assert!(text.contains("CacheDir: /var/cache/skillet/apt-cacher-ng/sk12345678\n"));
        assert!(text.contains("LogDir: /run/skillet/sk12345678/apt-cacher-ng/log\n"));
        assert!(text.contains("SocketPath: /run/skillet/sk12345678/apt-cacher-ng/socket\n"));
        assert!(text.contains("Port: 23142\n"));
        assert!(text.contains("BindAddress: 127.0.0.1\n"));
        assert!(text.contains("ForeGround: 1\n"));
        assert!(text.contains("AllowUserPorts: 0\n"));
    }

    #[test]
    fn the_report_page_is_off_and_tunnels_reach_only_the_https_sources() {
        let cache = PackageCache::of_lab("sk12345678");
        let text = cache.config(23142, &[]);
        assert!(text.contains("\nReportPage:\n"), "{text}");
        assert!(text.contains("\nPassThroughPattern: ^$\n"), "{text}");
        let servers = ["deb.example.org:443".to_string(), "10.0.0.1:8443".into()];
        let text = cache.config(23142, &servers);
        assert!(
            text.contains(
                "\nPassThroughPattern: ^(deb\\.example\\.org:443|10\\.0\\.0\\.1:8443)$\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn https_servers_come_from_every_kind_of_apt_source() {
        let dir = tempfile::tempdir().unwrap();
        let apt = dir.path();
        std::fs::create_dir_all(apt.join("sources.list.d")).unwrap();
        std::fs::write(
            apt.join("sources.list"),
            "# deb https://commented.example.org/debian bookworm main\n\
             deb http://deb.debian.org/debian bookworm main\n\
             deb [ arch=amd64 signed-by=/k.gpg ] https://one.example.org/apt stable main\n\
             deb-src [trusted=yes] https://user:secret@two.example.org:8443/x ./ # a comment\n",
        )
        .unwrap();
        std::fs::write(
            apt.join("sources.list.d/extra.list"),
            "deb https://one.example.org/apt other main\n",
        )
        .unwrap();
        std::fs::write(
            apt.join("sources.list.d/more.sources"),
            "Types: deb\n# URIs: https://commented.example.org\nURIs: http://plain.example.org\n https://three.example.org/debian\nSuites: a\n  \n\
             Types: deb\nURIs: https://off.example.org\nEnabled: no\n\n\
             Types: deb\nuris: https://four.example.org/\n",
        )
        .unwrap();
        std::fs::write(
            apt.join("sources.list.d/old.list.disabled"),
            "deb https://disabled.example.org/ x y\n",
        )
        .unwrap();
        std::fs::write(
            apt.join("sources.list.d/odd.list"),
            "deb https://[::1]/x a b\ndeb https://bad_host/x a b\ndeb https:// a b\n",
        )
        .unwrap();
        assert_eq!(
            https_servers(apt),
            [
                "four.example.org:443",
                "one.example.org:443",
                "three.example.org:443",
                "two.example.org:8443"
            ]
        );
        assert!(https_servers(&apt.join("none")).is_empty());
    }

    #[test]
    fn the_cache_is_known_by_its_command_lines() {
        let dir = Path::new("/run/skillet/sk1/apt-cacher-ng");
        let netns = Path::new("/run/netns/sk1");
        let is = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            is_cache_command(&args, dir, netns)
        };
        assert!(is(&[
            "/usr/sbin/apt-cacher-ng",
            "-c",
            "/run/skillet/sk1/apt-cacher-ng"
        ]));
        assert!(is(&[
            "/usr/bin/skillet",
            "kitchen",
            "__forward",
            "--lab-netns",
            "/run/netns/sk1",
            "--to",
            "127.0.0.1:20000"
        ]));
        // Another lab's, or a command that only mentions this one.
        assert!(!is(&[
            "/usr/sbin/apt-cacher-ng",
            "-c",
            "/run/skillet/sk2/apt-cacher-ng"
        ]));
        assert!(!is(&["ls", "-c", "/run/skillet/sk1/apt-cacher-ng"]));
        assert!(is(&[
            "/bin/sh",
            "/t/apt-cacher-ng",
            "-c",
            "/run/skillet/sk1/apt-cacher-ng"
        ]));
        assert!(!is(&[
            "skillet",
            "kitchen",
            "__forward",
            "--lab-netns",
            "/run/netns/sk12"
        ]));
        assert!(!is(&[
            "grep",
            "kitchen",
            "__forward",
            "--lab-netns",
            "/run/netns/sk1"
        ][1..]));
    }

    #[test]
    fn stop_finds_unrecorded_processes_that_lead_their_group_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PackageCache {
            lab: "x".into(),
            dir: dir.path().join("apt-cacher-ng"),
        };
        // A shell whose command line names the cache, as apt-cacher-ng's does.
        let spawn = |own_group: bool| {
            let mut command = Command::new("sh");
            command
                .args(["-c", "sleep 30; :", PACKAGE, "-c"])
                .arg(&cache.dir);
            if own_group {
                command.process_group(0);
            }
            command.spawn().unwrap()
        };
        let mut ours = spawn(true);
        let mut bystander = spawn(false);
        let deadline = Instant::now() + Duration::from_secs(5);
        while cache.unrecorded().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            cache.unrecorded().iter().map(|p| p.pid).collect::<Vec<_>>(),
            [ours.id() as i32]
        );
        let pid = ours.id() as i32;
        cache.stop();
        // Reaped by stop, as its own child.
        assert!(procfs::stat(pid).is_none(), "still running");
        assert!(ours.try_wait().is_err());
        assert!(
            bystander.try_wait().unwrap().is_none(),
            "a bystander was stopped"
        );
        bystander.kill().unwrap();
        bystander.wait().unwrap();
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
        let pid = std::process::id() as i32;
        let me = Recorded {
            pid,
            start_time: procfs::stat(pid).unwrap().1,
        };
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
        let local = Ipv4Addr::LOCALHOST;
        assert!(listens_on(me, local, port));
        assert!(!listens_on(me, Ipv4Addr::new(127, 0, 0, 2), port));
        // Another process in the same network does not hold it.
        assert!(!listens_on(1, local, port));
        drop(listener);
        assert!(!listens_on(me, local, port));
    }

    #[test]
    fn the_log_tail_keeps_the_last_lines() {
        assert_eq!(last_lines("a\nb\n\nc\n", 2), ["b", "c"]);
        assert_eq!(last_lines("", 3), Vec::<&str>::new());
    }
}
