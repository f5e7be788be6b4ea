//! goiardi, a Chef server API, started on a free loopback port with a private data directory
//! (for tests/server.rs and benches/client_noop.rs), or on an address inside a network
//! namespace (a kitchen lab's gateway, for tests/bootstrap.rs).

use skillet::server::api::Api;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A goiardi server for one test; killed when dropped.
pub struct Goiardi {
    child: Child,
    /// conf-root: `admin.pem`, `chef-validator.pem`, the data files and `lfs/`.
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT` (or https).
    pub url: String,
}

impl Goiardi {
    /// A server on a free loopback port.
    pub fn start() -> Goiardi {
        Goiardi::start_with(&[], "http")
    }

    /// A server with extra flags, answering on `scheme`.
    pub fn start_with(flags: &[&str], scheme: &str) -> Goiardi {
        Goiardi::start_on(None, "127.0.0.1", flags, scheme)
    }

    /// A server on `address` inside the network namespace at `netns` (`/run/netns/NAME`).
    #[allow(dead_code)]
    pub fn start_in(netns: &Path, address: &str) -> Goiardi {
        Goiardi::start_on(Some(netns), address, &[], "http")
    }

    fn start_on(netns: Option<&Path>, address: &str, flags: &[&str], scheme: &str) -> Goiardi {
        let dir = tempfile::tempdir().expect("tempdir");
        let free_port = || {
            TcpListener::bind((address, 0))
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port()
        };
        let port = match netns {
            Some(ns) => in_netns(ns, free_port),
            None => free_port(),
        };
        let root = dir.path();
        std::fs::create_dir_all(root.join("lfs")).expect("mkdir lfs");
        // nsenter execs goiardi, so the child is goiardi itself and dropping kills it.
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", ns.display())).arg("goiardi");
                c
            }
            None => Command::new("goiardi"),
        };
        let child = command
            .args(["-I", address, "-H", address, "-A"])
            .arg("-P")
            .arg(port.to_string())
            .arg(format!("--conf-root={}", root.display()))
            .arg("-D")
            .arg(root.join("data.bin"))
            .arg("-i")
            .arg(root.join("index.bin"))
            .arg(format!(
                "--local-filestore-dir={}",
                root.join("lfs").display()
            ))
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("goiardi runs (scripts/setup installs it)");
        let started = Instant::now();
        let answers = || TcpStream::connect((address, port)).is_ok();
        while !root.join("admin.pem").exists()
            || !match netns {
                Some(ns) => in_netns(ns, answers),
                None => answers(),
            }
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "goiardi did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Goiardi {
            child,
            url: format!("{scheme}://{address}:{port}"),
            dir,
        }
    }

    /// The key goiardi wrote for `admin`, `chef-validator` or `chef-webui`.
    pub fn key(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.pem"))
    }

    /// The API as the admin user, to check what the server holds.
    pub fn admin(&self) -> Api {
        skillet::server::connect(&self.url, "admin", &self.key("admin"), &Default::default())
            .expect("admin connection")
    }
}

/// Runs `f` on a thread that has joined the network namespace at `netns` (a thread's
/// namespace is its own, so the test process stays where it is).
pub fn in_netns<T: Send>(netns: &Path, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let ns = std::fs::File::open(netns).expect("the network namespace exists");
                nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns(net)");
                f()
            })
            .join()
            .expect("the thread in the namespace finished")
    })
}

impl Drop for Goiardi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
