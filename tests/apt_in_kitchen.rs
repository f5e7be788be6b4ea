//! A real Debian package installed by apt inside a kitchen host: with `apt_network: machine`
//! apt-get reaches the registry through the machine's network while the host, and the daemon
//! the converge starts, stay in the isolated lab. The `rinetd` cookbook installs rinetd with
//! `package`, templates its conffile to forward a port of the host's lab address to a small
//! HTTP server on a second host, and starts it as a `service`; a third party on the lab
//! fetches the page through the forwarder. The machine's dpkg never learns the package. The
//! test needs root, python3 and a registry the machine can reach; without them it says so and
//! passes.

mod common;

use common::kitchen_hosts::{assert_nothing_left, exec, Hosts};
use common::registry::{apt_unusable, registry_address};
use common::Repo;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The forwarder's lab address: the first instance in kitchen.yml.
const FORWARDER_ADDRESS: &str = "10.200.0.10";
/// The port rinetd listens on.
const FORWARD_PORT: u16 = 8282;
/// The port of the HTTP server on the backend host.
const BACKEND_PORT: u16 = 8000;

/// What `dpkg-query` says about rinetd on the machine (empty when it does not know it).
fn machine_rinetd() -> String {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Status} ${Version}", "rinetd"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The reason the test cannot run here, if any: not root, no python3, or apt cannot install
/// rinetd from a registry the machine reaches.
fn unusable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("kitchen hosts need root".into());
    }
    if !Path::new("/usr/bin/python3").exists() {
        return Some("the backend host needs python3".into());
    }
    apt_unusable(&["rinetd"])
}

/// How long the first converge's `apt_package[rinetd]` install took, from its JSON report.
fn install_ms(repo: &Repo) -> f64 {
    let report = exec(repo, "forwarder", "cat /tmp/kitchen/report-1.json");
    let doc: serde_json::Value = serde_json::from_str(&report).unwrap();
    doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["resource"] == "apt_package[rinetd]" && a["action"] == "install")
        .and_then(|a| a["duration_ms"].as_f64())
        .unwrap()
}

fn cookbook(repo: &Repo) {
    repo.cookbook("forward", "0.1.0");
    repo.write(
        "cookbooks/forward/templates/default/rinetd.conf.erb",
        "# managed by skillet\n<%= @bind %> <%= @port %> <%= @backend %> <%= @backend_port %>\nlogfile /var/log/rinetd.log\n",
    );
    repo.recipe(
        "forward",
        "default",
        &format!(
            r#"resources:
  - type: package
    name: rinetd
  - type: template
    name: /etc/rinetd.conf
    source: rinetd.conf.erb
    variables: {{ bind: "{FORWARDER_ADDRESS}", port: {FORWARD_PORT}, backend: backend-debian-12, backend_port: {BACKEND_PORT} }}
    notifies:
      - {{ action: restart, resource: "service[rinetd]", timing: delayed }}
  - type: service
    name: rinetd
    supports: {{ status: true, restart: true }}
    action: [enable, start]
"#
        ),
    );
    repo.write(
        "kitchen.yml",
        "driver:\n  name: namespace\nprovisioner:\n  name: chef_zero\n  multiple_converge: 2\n  enforce_idempotency: true\nplatforms:\n  - name: debian-12\nsuites:\n  - name: forwarder\n    driver: {apt_network: machine}\n    run_list: ['recipe[forward]']\n  - name: backend\n    run_list: []\n",
    );
}

/// Fetches `url` from inside `instance`, retrying while the servers bind.
fn fetch(repo: &Repo, instance: &str, url: &str) -> String {
    let script = format!(
        "/usr/bin/python3 -c \"import urllib.request,time\nfor _ in range(100):\n  try:\n    print(urllib.request.urlopen('{url}', timeout=2).read().decode()); break\n  except OSError: time.sleep(0.05)\""
    );
    exec(repo, instance, &script)
}

#[test]
fn apt_installs_rinetd_inside_a_host_and_it_forwards_over_the_lab() {
    if let Some(why) = unusable() {
        eprintln!("skipping apt_installs_rinetd_inside_a_host_and_it_forwards_over_the_lab: {why}");
        return;
    }
    let machine_before = machine_rinetd();
    let repo = Repo::new();
    cookbook(&repo);
    let hosts = Hosts { repo: &repo };
    repo.run(&["kitchen", "create", "-c", "2"]).ok();
    exec(
        &repo,
        "backend",
        &format!("mkdir -p /srv/web && echo hello from the backend > /srv/web/index.html && start-stop-daemon --start --background --exec /usr/bin/python3 -- -m http.server {BACKEND_PORT} --directory /srv/web"),
    );

    let started = Instant::now();
    repo.run(&["kitchen", "converge", "forwarder"])
        .ok()
        .shows("* apt_package[rinetd] action install")
        .shows("* service[rinetd] action restart")
        .shows("(run 2 of 2)")
        .shows("0/4 resources updated");
    eprintln!(
        "two converges of the forwarder took {:.1} s, apt-get install rinetd {:.1} s of them",
        started.elapsed().as_secs_f64(),
        install_ms(&repo) / 1000.0
    );

    // The package landed in the host only; the daemon runs in the host's own network.
    let status = exec(
        &repo,
        "forwarder",
        "dpkg -s rinetd && /etc/init.d/rinetd status",
    );
    assert!(status.contains("Status: install ok installed"), "{status}");
    let isolated = exec(
        &repo,
        "forwarder",
        "test \"$(readlink /proc/1/ns/net)\" = \"$(readlink /proc/$(cat /run/rinetd.pid)/ns/net)\" && echo same-netns",
    );
    assert!(isolated.contains("same-netns"), "{isolated}");
    // The host itself has no way out: only apt-get and apt-cache took the machine's network.
    let registry = registry_address().unwrap().ip();
    let out = exec(
        &repo,
        "forwarder",
        &format!("/usr/bin/python3 -c \"import socket; socket.create_connection(('{registry}', 80), timeout=3)\" 2>/dev/null && echo reached || echo unreachable"),
    );
    assert!(out.contains("unreachable"), "{out}");
    // Hosts without `apt_network: machine` get no handle on the machine's network.
    let handle = exec(
        &repo,
        "backend",
        "test -e /run/skillet/apt-netns && echo handle || echo none",
    );
    assert_eq!(handle.trim(), "none");
    let page = fetch(
        &repo,
        "backend",
        &format!("http://forwarder-debian-12:{FORWARD_PORT}/"),
    );
    assert!(page.contains("hello from the backend"), "{page}");
    assert_eq!(
        machine_rinetd(),
        machine_before,
        "the machine's dpkg changed"
    );

    repo.run(&["kitchen", "destroy"]).ok();
    drop(hosts);
    assert_nothing_left(&repo, "/usr/sbin/rinetd");
    assert_eq!(
        machine_rinetd(),
        machine_before,
        "the machine's dpkg changed"
    );
}
