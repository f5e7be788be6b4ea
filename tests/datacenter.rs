//! The example datacenter (examples/datacenter), proven the way its users prove it:
//! `skillet kitchen test` over every suite — one throwaway host per role and the multi-host
//! migration — each host converged twice under the idempotency gate, verified by the
//! repository's own scripts, then destroyed. Real MariaDB, nginx, lighttpd, rinetd and the
//! node exporter come from Debian's registry, installed once into the example's package layer
//! (`preinstall`) that every host starts from. The test needs root and a registry the machine
//! reaches; without them it says so and passes.

mod common;

use common::kitchen_hosts::{assert_nothing_left, Hosts};
use common::registry::apt_unusable;
use common::Repo;
use std::path::Path;

/// The Debian packages the datacenter's cookbooks install.
const PACKAGES: &[&str] = &[
    "mariadb-server",
    "nginx",
    "lighttpd",
    "rinetd",
    "prometheus-node-exporter",
];

fn unusable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("kitchen hosts need root".into());
    }
    if !Path::new("/usr/bin/curl").exists() {
        return Some("the verify scripts need curl".into());
    }
    if !Path::new("/usr/bin/goiardi").exists() {
        return Some("the migration against a Chef server needs goiardi".into());
    }
    apt_unusable(PACKAGES)
}

/// Copies the example into the repo's directory (not its `.kitchen` state, if any).
fn copy_example(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == ".kitchen" {
            continue;
        }
        let target = to.join(&name);
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_example(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn every_suite_of_the_example_datacenter_passes_and_leaves_nothing() {
    if let Some(why) = unusable() {
        eprintln!("skipping the datacenter test: {why}");
        return;
    }
    let repo = Repo::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/datacenter");
    copy_example(&example, repo.path());
    // A failed assertion still takes every host down.
    let _hosts = Hosts { repo: &repo };

    let run = repo.run(&["kitchen", "test", "-c", "2", "--format", "json"]);
    let all = run.all();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout())
        .unwrap_or_else(|e| panic!("no JSON summary ({e}):\n{all}"));
    let instances = doc["instances"].as_array().cloned().unwrap_or_default();
    let results: Vec<(String, bool)> = instances
        .iter()
        .map(|i| {
            (
                i["instance"].as_str().unwrap_or_default().to_string(),
                i["passed"] == true,
            )
        })
        .collect();
    let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "base-debian-12",
            "monitoring-debian-12",
            "db-master-debian-12",
            "lb-debian-12",
            "forwarder-debian-12",
            "migration-debian-12"
        ],
        "{all}"
    );
    assert!(results.iter().all(|(_, passed)| *passed), "{all}");
    assert_eq!(run.code(), 0, "{all}");
    // The migration's verify script reported each of its checks.
    for line in [
        "no key collision",
        "db3 refuses writes",
        "reached app1 and app2 through lb1",
    ] {
        assert!(all.contains(line), "`{line}` not in:\n{all}");
    }
    assert_nothing_left(&repo, "mariadbd");

    // The same migration with every host converging against a Chef server the suite starts:
    // the balancer finds the application hosts with a search the server answers.
    repo.write(
        ".kitchen.local.yml",
        "provisioner:\n  chef_server: goiardi\n",
    );
    let run = repo.run(&["kitchen", "test", "migration"]);
    let all = run.all();
    assert_eq!(run.code(), 0, "{all}");
    for line in [
        "Starting the Chef server (goiardi) of <migration-debian-12>",
        "Uploaded the repository to http://10.201.5.1:",
        "reached app1 and app2 through lb1",
    ] {
        assert!(all.contains(line), "`{line}` not in:\n{all}");
    }
    assert_nothing_left(&repo, "goiardi");
}
