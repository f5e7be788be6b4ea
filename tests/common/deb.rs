//! A uniquely named test package built with `dpkg-deb --build`, purged when dropped, for the
//! tests that install real packages inside kitchen hosts.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// dpkg allows one writer at a time: the tests take turns.
static DPKG: Mutex<()> = Mutex::new(());

/// A uniquely named test package with its .deb files; purged when dropped.
pub struct TestPackage {
    pub name: String,
    pub dir: tempfile::TempDir,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl TestPackage {
    /// A new package name, or `None` (with a printed reason) without root and dpkg.
    pub fn new() -> Option<Self> {
        let usable = nix::unistd::geteuid().is_root()
            && Path::new("/usr/bin/dpkg-deb").exists()
            && Path::new("/var/lib/dpkg/status").exists();
        if !usable {
            eprintln!("skipped: needs root and dpkg");
            return None;
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Some(TestPackage {
            name: format!("skillet-test-pkg-{}-{nanos}", std::process::id()),
            dir: tempfile::tempdir().unwrap(),
            _turn: DPKG.lock().unwrap_or_else(|p| p.into_inner()),
        })
    }

    /// Builds a .deb of this package at `version`, shipping a data file and a conffile.
    pub fn deb(&self, version: &str) -> PathBuf {
        let name = &self.name;
        let root = self.dir.path().join(format!("build-{version}"));
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "DEBIAN/control",
            &format!(
                "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Test <test@example.com>\nDescription: skillet test package\n"
            ),
        );
        write("DEBIAN/conffiles", &format!("/etc/{name}.conf\n"));
        write(&format!("etc/{name}.conf"), "setting = 1\n");
        write(
            &format!("usr/share/{name}/version"),
            &format!("{version}\n"),
        );
        let deb = self.dir.path().join(format!("{name}_{version}_all.deb"));
        let out = Command::new("dpkg-deb")
            .args(["--build", "--root-owner-group"])
            .arg(&root)
            .arg(&deb)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        deb
    }

    /// `dpkg-query`'s status and version of the package (empty when unknown).
    pub fn status(&self) -> String {
        let out = Command::new("dpkg-query")
            .args(["-W", "-f", "${Status} ${Version}"])
            .arg(&self.name)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TestPackage {
    fn drop(&mut self) {
        for _ in 0..30 {
            let purged = Command::new("dpkg").arg("-P").arg(&self.name).output();
            if purged.is_ok_and(|o| o.status.success()) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}
