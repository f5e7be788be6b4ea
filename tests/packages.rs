//! Packages through the binary: a YAML recipe installs, upgrades, removes and purges a local
//! `.deb` built here with `dpkg-deb --build`, and a second run changes nothing.
//!
//! These touch the host's dpkg database (only a uniquely named test package, purged at the end
//! even on failure); they need root and dpkg and are skipped otherwise. They belong in a
//! throwaway host.

mod common;

use common::deb::TestPackage;
use common::Repo;
use std::path::Path;
use std::process::Command;

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
