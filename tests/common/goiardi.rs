//! goiardi, a Chef server API, started on a free loopback port with a private data directory
//! (for tests/server.rs and benches/client_noop.rs).

use skillet::server::api::Api;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
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
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let root = dir.path();
        std::fs::create_dir_all(root.join("lfs")).expect("mkdir lfs");
        let child = Command::new("goiardi")
            .args(["-I", "127.0.0.1", "-H", "127.0.0.1", "-A"])
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
        while TcpStream::connect(("127.0.0.1", port)).is_err() || !root.join("admin.pem").exists() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "goiardi did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Goiardi {
            child,
            url: format!("{scheme}://127.0.0.1:{port}"),
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

impl Drop for Goiardi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
