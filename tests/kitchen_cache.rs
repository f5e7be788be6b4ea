//! `apt_network: cache`: hosts install packages through the lab's package cache
//! (apt-cacher-ng on the machine, reached at their gateway) while staying isolated.
//!
//! A tiny package built with dpkg-deb sits in a repository served over HTTP on the machine's
//! loopback by a thread of the test, which records every request. A one-host instance and a
//! host of a multi-host suite (another bridge, another gateway) install it with apt-get; the
//! server sees the package downloaded once, the lab's cache directory holds it, and neither host
//! can reach the server, or anything else, directly, nor tunnel through the cache. Destroy
//! leaves no process of the cache behind, also after a start that was interrupted or whose
//! records were lost. The tests need root, dpkg-deb and apt-cacher-ng; without them they say
//! so and pass.

mod common;

use common::goiardi::in_netns;
use common::kitchen_hosts::{assert_nothing_left, exec, machine_knows, Hosts};
use common::Repo;
use skillet::kitchen::cache::{PackageCache, CACHE_DIR, PROXY_PORT};
use skillet::kitchen::lab::Lab;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The reason the tests cannot run here, if any.
fn unusable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("kitchen hosts need root".into());
    }
    if !Path::new("/usr/bin/dpkg-deb").exists() {
        return Some("building the test package needs dpkg-deb".into());
    }
    let installed = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("apt-cacher-ng").is_file()));
    if !installed {
        return Some("the cache is apt-cacher-ng: apt-get install apt-cacher-ng".into());
    }
    None
}

/// A repository of one package, served over HTTP on 127.0.0.1; every request path is kept.
struct PackageServer {
    port: u16,
    /// The repository's path on the server: unique, so no earlier run's cached index is used.
    prefix: String,
    package: String,
    requests: Arc<Mutex<Vec<String>>>,
    _files: tempfile::TempDir,
}

impl PackageServer {
    fn start() -> PackageServer {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let unique = format!("{}-{nanos}", std::process::id());
        let package = format!("skillet-cache-test-{unique}");
        let prefix = format!("repo-{unique}");
        let files = tempfile::tempdir().unwrap();
        build_repository(&files.path().join(&prefix), &package);
        // apt-cacher-ng 3.7 cannot reach servers on ports above 32767.
        let (listener, port) = (10000..20000)
            .map(|n| 10000 + (n + std::process::id() as u16) % 10000)
            .find_map(|port| Some((TcpListener::bind(("127.0.0.1", port)).ok()?, port)))
            .unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let root = files.path().to_path_buf();
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, seen) = (root.clone(), Arc::clone(&seen));
                std::thread::spawn(move || serve(stream, &root, &seen));
            }
        });
        PackageServer {
            port,
            prefix,
            package,
            requests,
            _files: files,
        }
    }

    /// The apt source line naming the repository.
    fn source(&self) -> String {
        format!(
            "deb [trusted=yes] http://127.0.0.1:{}/{}/ ./",
            self.port, self.prefix
        )
    }

    /// How many times the package file itself was downloaded from the server.
    fn deb_downloads(&self) -> usize {
        let deb = format!("{}_1.0_all.deb", self.package);
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.ends_with(&deb))
            .count()
    }
}

/// The cache directory of a test project's lab, removed at the end: it outlives the lab.
struct LabCacheDir(PathBuf);

impl LabCacheDir {
    fn of(repo: &Repo) -> LabCacheDir {
        let lab = Lab::for_project(repo.path());
        LabCacheDir(PackageCache::of_lab(&lab.name).cache_dir())
    }
}

impl Drop for LabCacheDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A flat repository: the .deb, its Packages index and a Release file.
fn build_repository(dir: &Path, package: &str) {
    let build = dir.join("build");
    std::fs::create_dir_all(build.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(build.join("usr/share").join(package)).unwrap();
    std::fs::write(
        build.join("DEBIAN/control"),
        format!("Package: {package}\nVersion: 1.0\nArchitecture: all\nMaintainer: Test <test@example.com>\nDescription: skillet cache test package\n"),
    )
    .unwrap();
    std::fs::write(
        build.join("usr/share").join(package).join("marker"),
        "installed through the lab's cache\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("pool")).unwrap();
    let deb_name = format!("pool/{package}_1.0_all.deb");
    let out = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&build)
        .arg(dir.join(&deb_name))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    std::fs::remove_dir_all(&build).unwrap();
    let deb = std::fs::read(dir.join(&deb_name)).unwrap();
    let packages = format!(
        "Package: {package}\nVersion: 1.0\nArchitecture: all\nMaintainer: Test <test@example.com>\nFilename: {deb_name}\nSize: {}\nSHA256: {}\nDescription: skillet cache test package\n\n",
        deb.len(),
        skillet::platform::fs::sha256_hex(&deb)
    );
    std::fs::write(dir.join("Packages"), &packages).unwrap();
    let date = Command::new("date").args(["-u", "-R"]).output().unwrap();
    let release = format!(
        "Origin: skillet-test\nLabel: skillet-test\nSuite: stable\nCodename: stable\nDate: {}\nArchitectures: all\nSHA256:\n {} {} Packages\n",
        String::from_utf8_lossy(&date.stdout).trim(),
        skillet::platform::fs::sha256_hex(packages.as_bytes()),
        packages.len()
    );
    std::fs::write(dir.join("Release"), release).unwrap();
}

/// Answers one HTTP request with the file it names (404 when there is none).
fn serve(stream: TcpStream, root: &Path, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header.trim().is_empty() => break,
            Ok(_) => {}
        }
    }
    let mut parts = request.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/");
    // A proxy may send the absolute form.
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let path = path.replace("/./", "/");
    seen.lock().unwrap().push(path.clone());
    let file: PathBuf = root.join(path.trim_start_matches('/'));
    let mut stream = &stream;
    let body = if path.contains("..") {
        None
    } else {
        std::fs::read(&file).ok().filter(|_| file.is_file())
    };
    match body {
        Some(body) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            if method != "HEAD" {
                let _ = stream.write_all(&body);
            }
        }
        None => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    }
}

/// kitchen.yml: a one-host instance on br0 and a multi-host suite on a bridge of its own,
/// both with the cache.
fn project(repo: &Repo) {
    repo.write(
        "kitchen.yml",
        "driver:\n  name: namespace\n  apt_network: cache\nprovisioner:\n  name: chef_zero\nplatforms:\n  - name: debian-12\nsuites:\n  - name: first\n    run_list: []\n  - name: pair\n    hosts:\n      - name: web\n      - name: db\n",
    );
}

/// Points the host's apt at the test repository only, then updates and installs the package.
fn install_script(server: &PackageServer) -> String {
    format!(
        "set -e\nrm -f /etc/apt/sources.list /etc/apt/sources.list.d/*\necho '{}' > /etc/apt/sources.list.d/test.list\napt-get update -q\nDEBIAN_FRONTEND=noninteractive apt-get install -y -q {}\ncat /usr/share/{}/marker\n",
        server.source(),
        server.package,
        server.package
    )
}

/// Whether a TCP connection from inside the host to `address:port` succeeds.
fn connects(repo: &Repo, instance: &str, host: Option<&str>, address: &str, port: u16) -> bool {
    let script = format!(
        "if timeout 3 bash -c 'exec 3<>/dev/tcp/{address}/{port}' 2>/dev/null; then echo connected; else echo refused; fi"
    );
    let mut args = vec!["kitchen", "exec", instance, "-c", &script];
    if let Some(h) = host {
        args.extend(["--host", h]);
    }
    let run = repo.run(&args);
    run.ok();
    run.stdout().contains("connected")
}

/// The live processes whose command line contains `needle` (zombies are dead already).
fn processes_naming(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rfind(')')
            .is_some_and(|i| stat[i + 1..].trim_start().starts_with('Z'));
        if cmdline.contains(needle) && !zombie {
            found.push(cmdline);
        }
    }
    found
}

/// Asserts the lab's cache processes and run directory are gone.
fn assert_cache_gone(repo: &Repo) {
    let lab = Lab::for_project(repo.path());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = processes_naming(&format!("/{}", lab.name));
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "cache processes left: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let cache = PackageCache::of_lab(&lab.name);
    assert!(!cache.dir().exists(), "{} left", cache.dir().display());
}

#[test]
fn hosts_install_through_the_labs_cache_and_reach_nothing_else() {
    if let Some(why) = unusable() {
        eprintln!("skipping hosts_install_through_the_labs_cache_and_reach_nothing_else: {why}");
        return;
    }
    let server = PackageServer::start();
    let repo = Repo::new();
    let lab_cache = LabCacheDir::of(&repo);
    project(&repo);
    let hosts = Hosts { repo: &repo };
    repo.run(&["kitchen", "create", "-c", "2"]).ok();
    let lab = Lab::for_project(repo.path());
    let cache = PackageCache::of_lab(&lab.name);
    assert!(cache.is_running(), "the cache does not run");

    let first = exec(&repo, "first", &install_script(&server));
    assert!(
        first.contains("installed through the lab's cache"),
        "{first}"
    );
    assert_eq!(server.deb_downloads(), 1, "{:?}", server.requests);
    // In the lab's own cache directory, not in one other labs write to.
    let in_pool = Path::new("127.0.0.1")
        .join(&server.prefix)
        .join(format!("pool/{}_1.0_all.deb", server.package));
    let cached = lab_cache.0.join(&in_pool);
    assert!(cached.is_file(), "not in the cache: {}", cached.display());
    assert!(!Path::new(CACHE_DIR).join(&in_pool).exists());

    // Another bridge, another gateway, the same cache: the package comes from the machine's
    // disk, not from the server.
    let run = repo.run(&[
        "kitchen",
        "exec",
        "pair",
        "--host",
        "db",
        "-c",
        &install_script(&server),
    ]);
    run.ok().shows("installed through the lab's cache");
    assert_eq!(server.deb_downloads(), 1, "{:?}", server.requests);
    let proxy = exec(&repo, "pair", "cat /etc/apt/apt.conf.d/00skillet-proxy");
    assert!(proxy.contains("http://10.201.1.1:3142"), "{proxy}");

    // The proxy answers on the gateway; the server itself is out of reach.
    assert!(connects(&repo, "first", None, "10.200.0.1", PROXY_PORT));
    assert!(!connects(&repo, "first", None, "10.200.0.1", server.port));
    assert!(!connects(&repo, "first", None, "127.0.0.1", server.port));
    assert!(!connects(
        &repo,
        "pair",
        Some("db"),
        "10.201.1.1",
        server.port
    ));
    assert!(
        !machine_knows(&server.package),
        "the machine's dpkg changed"
    );

    // No tunnel to a server the machine's apt sources do not name, https port or not, and no
    // report page.
    for target in ["127.0.0.1:443", &format!("127.0.0.1:{}", server.port)] {
        let answer = ask_cache(
            &lab,
            &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
        );
        assert!(answer.starts_with("HTTP/1.0 403"), "{target}: {answer}");
    }
    let report = ask_cache(
        &lab,
        "GET /acng-report.html HTTP/1.1\r\nHost: 10.200.0.1:3142\r\nConnection: close\r\n\r\n",
    );
    assert!(!report.contains(" 200 "), "{report}");

    repo.run(&["kitchen", "destroy"]).ok();
    drop(hosts);
    assert_cache_gone(&repo);
    assert_nothing_left(&repo, &server.package);
    assert!(cached.is_file(), "the cache went with the lab");
}

/// Sends `request` to the cache as a host of the lab reaches it; returns the first line of the
/// answer.
fn ask_cache(lab: &Lab, request: &str) -> String {
    let netns = Path::new("/run/netns").join(&lab.name);
    in_netns(&netns, || {
        let mut stream = TcpStream::connect(("10.200.0.1", PROXY_PORT)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        while !answer.contains(&b'\n') {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    })
}

#[test]
fn a_cache_that_died_is_started_again_and_a_sweep_stops_it() {
    if let Some(why) = unusable() {
        eprintln!("skipping a_cache_that_died_is_started_again_and_a_sweep_stops_it: {why}");
        return;
    }
    let repo = Repo::new();
    let _lab_cache = LabCacheDir::of(&repo);
    repo.write(
        "kitchen.yml",
        "driver:\n  name: namespace\n  apt_network: cache\nplatforms:\n  - name: debian-12\nsuites:\n  - name: one\n  - name: two\n",
    );
    let hosts = Hosts { repo: &repo };
    repo.run(&["kitchen", "create", "one"]).ok();
    let lab = Lab::for_project(repo.path());
    let cache = PackageCache::of_lab(&lab.name);
    assert!(cache.is_running());
    // The forwarder's record is lost (as when a start is interrupted before it is written):
    // the forwarder still holds port 3142 in the lab, and must be found to free it.
    std::fs::remove_file(cache.dir().join("forwarder.pid")).unwrap();
    let forwarder = format!("--lab-netns /run/netns/{} ", lab.name);
    assert_eq!(processes_naming(&forwarder).len(), 1);
    let daemon = std::fs::read_to_string(cache.dir().join("daemon.pid")).unwrap();
    let pid: i32 = daemon.split_whitespace().next().unwrap().parse().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while cache.is_running() {
        assert!(Instant::now() < deadline, "apt-cacher-ng survived SIGKILL");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The next host of the lab finds the cache dead and starts a new one.
    repo.run(&["kitchen", "create", "two"]).ok();
    assert!(cache.is_running());
    assert!(connects(&repo, "one", None, "10.200.0.1", PROXY_PORT));
    assert_eq!(
        processes_naming(&forwarder).len(),
        1,
        "{:?}",
        processes_naming(&forwarder)
    );
    // A crash lost the state files: the sweep still takes the cache down with the lab.
    std::fs::remove_dir_all(repo.path().join(".kitchen")).unwrap();
    repo.run(&["kitchen", "destroy"]).ok();
    drop(hosts);
    assert_cache_gone(&repo);
    assert_nothing_left(&repo, &Lab::for_project(repo.path()).name);
}

#[test]
fn an_interrupted_start_leaves_nothing_after_destroy() {
    if let Some(why) = unusable() {
        eprintln!("skipping an_interrupted_start_leaves_nothing_after_destroy: {why}");
        return;
    }
    let repo = Repo::new();
    let _lab_cache = LabCacheDir::of(&repo);
    project(&repo);
    let hosts = Hosts { repo: &repo };
    // An apt-cacher-ng that never answers keeps skillet waiting for it.
    let tools = tempfile::tempdir().unwrap();
    let fake = tools.path().join("apt-cacher-ng");
    std::fs::write(&fake, "#!/bin/sh\nwhile :; do sleep 0.2; done\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        tools.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut create = repo
        .command(&["kitchen", "create", "first"])
        .env("PATH", &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lab = Lab::for_project(repo.path());
    let cache = PackageCache::of_lab(&lab.name);
    let record = cache.dir().join("daemon.pid");
    // Recorded as soon as it is spawned, while skillet still waits for it to answer.
    let deadline = Instant::now() + Duration::from_secs(8);
    while !record.is_file() {
        assert!(Instant::now() < deadline, "apt-cacher-ng was not recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(create.try_wait().unwrap().is_none(), "create ended already");
    // A crash of skillet: the daemon, in its own process group, runs on.
    create.kill().unwrap();
    create.wait().unwrap();
    let daemon = format!("-c /run/skillet/{}/apt-cacher-ng", lab.name);
    assert_eq!(processes_naming(&daemon).len(), 1);
    // Even without its record, destroy finds it by its command line.
    std::fs::remove_file(&record).unwrap();
    repo.run(&["kitchen", "destroy"]).ok();
    drop(hosts);
    assert_cache_gone(&repo);
    assert_nothing_left(&repo, &lab.name);
}

#[test]
fn without_apt_cacher_ng_create_names_the_package_and_leaves_nothing() {
    if let Some(why) = unusable() {
        eprintln!(
            "skipping without_apt_cacher_ng_create_names_the_package_and_leaves_nothing: {why}"
        );
        return;
    }
    let repo = Repo::new();
    project(&repo);
    // apt-cacher-ng is in /usr/sbin; `ip` is in /bin as well.
    let out = repo
        .command(&["kitchen", "create", "first"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("needs apt-cacher-ng, which is not installed")
            && text.contains("apt-get install apt-cacher-ng"),
        "{text}"
    );
    repo.run(&["kitchen", "destroy"]).ok();
    assert_cache_gone(&repo);
    assert_nothing_left(&repo, &Lab::for_project(repo.path()).name);
}
