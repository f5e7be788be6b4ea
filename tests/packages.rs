//! Packages through the binary, with runs that change nothing on the machine.
//!
//! The runs that install, upgrade, remove and purge real packages, or fail trying, happen
//! inside a throwaway kitchen host: see tests/host_in_kitchen.rs.

mod common;

use common::Repo;
use std::path::Path;

fn recipe(repo: &Repo, body: &str) {
    repo.cookbook("pkgs", "1.0.0")
        .write("cookbooks/pkgs/recipes/default.yml", body);
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
