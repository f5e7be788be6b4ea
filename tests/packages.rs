//! Packages through the binary: a YAML recipe installs, upgrades, removes and purges a local
//! `.deb` built here with `dpkg-deb --build`, and a second run changes nothing.
//!
//! These touch the host's dpkg database (only a uniquely named test package, purged at the end
//! even on failure); they need root and dpkg and are skipped otherwise. They belong in a
//! throwaway host.

mod common;

use common::Repo;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// dpkg allows one writer at a time: the tests take turns.
static DPKG: Mutex<()> = Mutex::new(());

/// A uniquely named test package with its .deb files; purged when dropped.
struct TestPackage {
    name: String,
    dir: tempfile::TempDir,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl TestPackage {
    fn new() -> Option<Self> {
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
    fn deb(&self, version: &str) -> PathBuf {
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
    fn status(&self) -> String {
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

fn recipe(repo: &Repo, body: &str) {
    repo.cookbook("pkgs", "1.0.0")
        .write("cookbooks/pkgs/recipes/default.yml", body);
}

#[test]
fn dpkg_package_install_upgrade_remove_purge_through_the_binary() {
    let Some(pkg) = TestPackage::new() else {
        return;
    };
    let (v1, v2) = (pkg.deb("1.0-1"), pkg.deb("1.1-1"));
    let name = &pkg.name;
    let repo = Repo::new();
    let marker = repo.root().join("installed");
    let install = format!(
        r#"resources:
  - type: dpkg_package
    name: {name}
    source: {}
    notifies:
      - {{ action: run, resource: "execute[mark]", timing: delayed }}
  - type: execute
    name: mark
    command: "touch {}"
    action: nothing
"#,
        v1.display(),
        marker.display()
    );
    recipe(&repo, &install);
    repo.solo(&["-o", "recipe[pkgs]"])
        .ok()
        .shows(&format!("* dpkg_package[{name}] action install"))
        .shows(&format!("- install version 1.0-1 of package {name}"))
        .updated(2, 3);
    assert_eq!(pkg.status(), "install ok installed 1.0-1");
    assert!(marker.exists());

    repo.solo(&["-o", "recipe[pkgs]"])
        .ok()
        .shows(&format!("dpkg_package[{name}] action install (up to date)"))
        .updated(0, 2);

    recipe(
        &repo,
        &format!(
            "resources:\n  - type: dpkg_package\n    name: {name}\n    source: {}\n    action: upgrade\n",
            v2.display()
        ),
    );
    repo.solo(&["-o", "recipe[pkgs]"])
        .ok()
        .shows(&format!(
            "- upgrade(allow_downgrade) package {name} from 1.0-1 to 1.1-1"
        ))
        .updated(1, 1);
    assert_eq!(pkg.status(), "install ok installed 1.1-1");

    recipe(
        &repo,
        &format!(
            "resources:\n  - type: dpkg_package\n    name: {name}\n    action: [remove, purge]\n"
        ),
    );
    repo.solo(&["-o", "recipe[pkgs]"])
        .ok()
        .shows(&format!("- remove package {name}"))
        .shows(&format!("- purge  package {name}"));
    assert_eq!(pkg.status(), "");
    assert!(!Path::new(&format!("/etc/{name}.conf")).exists());
}

#[test]
fn a_package_apt_does_not_know_stops_the_run_naming_the_resource() {
    let Some(pkg) = TestPackage::new() else {
        return;
    };
    let missing = format!("{}-absent", pkg.name);
    let repo = Repo::new();
    let after = repo.root().join("after");
    recipe(
        &repo,
        &format!(
            r#"resources:
  - type: package
    name: {missing}
  - type: execute
    name: "touch {}"
"#,
            after.display()
        ),
    );
    let run = repo.solo(&["-o", "recipe[pkgs]"]);
    assert_ne!(run.code(), 0, "{}", run.all());
    run.shows(&format!(
        "Error executing action `install` on resource 'apt_package[{missing}]'"
    ))
    .shows(&format!("No candidate version available for {missing}"));
    assert!(!after.exists());
}

#[test]
fn a_deb_dpkg_rejects_fails_with_dpkgs_words() {
    let Some(pkg) = TestPackage::new() else {
        return;
    };
    // Depends on a package that cannot exist: dpkg -i refuses to configure it.
    let name = &pkg.name;
    let root = pkg.dir.path().join("broken");
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::write(
        root.join("DEBIAN/control"),
        format!("Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.com>\nDepends: {name}-missing-dependency\nDescription: broken\n"),
    )
    .unwrap();
    let deb = pkg.dir.path().join("broken.deb");
    let built = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&root)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(built.status.success());
    let repo = Repo::new();
    recipe(
        &repo,
        &format!(
            "resources:\n  - type: dpkg_package\n    name: {name}\n    source: {}\n",
            deb.display()
        ),
    );
    let run = repo.solo(&["-o", "recipe[pkgs]"]);
    assert_ne!(run.code(), 0, "{}", run.all());
    run.shows(&format!(
        "Error executing action `install` on resource 'dpkg_package[{name}]'"
    ))
    .shows("dependency problems");
}

#[test]
fn a_version_apt_cannot_install_fails_with_apts_words() {
    let Some(pkg) = TestPackage::new() else {
        return;
    };
    let name = &pkg.name;
    let v1 = pkg.deb("1.0-1");
    let repo = Repo::new();
    recipe(
        &repo,
        &format!(
            "resources:\n  - type: dpkg_package\n    name: {name}\n    source: {}\n  - type: apt_package\n    name: {name}\n    version: \"9.9-nowhere\"\n",
            v1.display()
        ),
    );
    let run = repo.solo(&["-o", "recipe[pkgs]"]);
    assert_ne!(run.code(), 0, "{}", run.all());
    run.shows(&format!(
        "Error executing action `install` on resource 'apt_package[{name}]'"
    ))
    .shows("STDERR: E: Version '9.9-nowhere'");
    assert_eq!(pkg.status(), "install ok installed 1.0-1");
}

#[test]
fn package_prints_as_apt_package_and_is_notified_as_package() {
    if !Path::new("/var/lib/dpkg/status").exists() {
        return;
    }
    // dpkg is always installed where there is a dpkg database: this run changes nothing.
    let repo = Repo::new();
    recipe(
        &repo,
        r#"resources:
  - type: package
    name: dpkg
    action: nothing
  - type: execute
    name: "true"
    notifies:
      - { action: install, resource: "package[dpkg]", timing: immediately }
"#,
    );
    repo.solo(&["-o", "recipe[pkgs]"])
        .ok()
        .shows("* apt_package[dpkg] action install (up to date)")
        .updated(1, 3);
}
