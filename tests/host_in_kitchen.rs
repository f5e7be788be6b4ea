//! Host resources converged for real inside throwaway kitchen hosts, never on the machine: a
//! .deb shipping a daemon (an LSB init script running a small HTTP server) is copied in with
//! `cookbook_file`, installed with `dpkg_package`, configured through a template of its
//! conffile and started as a `service`, beside a user, a group with members, a cron job and a
//! sysctl. A second host connects to the daemon over the lab; a second recipe stops, disables
//! and purges it. Destroy must leave nothing, and the machine's dpkg database never learns the
//! package. The tests need root, dpkg-deb and python3; without them they say so and pass.

mod common;

use common::kitchen_hosts::{assert_nothing_left, exec, machine_knows, Hosts};
use common::Repo;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The daemon's port, as the templated conffile sets it (the package ships another).
const PORT: u16 = 8181;
/// The server host's lab address: the first instance in kitchen.yml.
const SERVER_ADDRESS: &str = "10.200.0.10";

fn usable_or_skip(test: &str) -> bool {
    let missing: Vec<&str> = [
        ("root", nix::unistd::geteuid().is_root()),
        ("dpkg-deb", Path::new("/usr/bin/dpkg-deb").exists()),
        ("python3", Path::new("/usr/bin/python3").exists()),
        (
            "start-stop-daemon",
            Path::new("/usr/sbin/start-stop-daemon").exists(),
        ),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(what, _)| what)
    .collect();
    if missing.is_empty() {
        return true;
    }
    eprintln!("skipping {test}: kitchen hosts with a daemon need {missing:?}");
    false
}

/// The LSB init script of the daemon `name`: a python3 HTTP server with a pid file, its port
/// and address read from the conffile.
fn init_script(name: &str) -> String {
    format!(
        r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: skillet test daemon
### END INIT INFO
PIDFILE=/run/{name}.pid
PORT=8080
BIND=127.0.0.1
[ -r /etc/{name}.conf ] && . /etc/{name}.conf
running() {{ [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }}
case "$1" in
  start)
    running && exit 0
    start-stop-daemon --start --quiet --background --make-pidfile --pidfile "$PIDFILE" \
      --exec /usr/bin/python3 -- -m http.server "$PORT" --bind "$BIND" --directory /usr/share/{name}
    ;;
  stop)
    if running; then start-stop-daemon --stop --quiet --pidfile "$PIDFILE" --retry 5; fi
    rm -f "$PIDFILE"
    ;;
  status)
    if running; then echo "{name} is running"; exit 0; fi
    echo "{name} is not running"; exit 3
    ;;
  restart)
    "$0" stop && "$0" start
    ;;
  *)
    echo "Usage: $0 {{start|stop|status|restart}}" >&2; exit 2
    ;;
esac
"#
    )
}

/// Builds `<name>_1.0-1_all.deb` in `dir`: the init script, a conffile and a page to serve.
fn build_deb(dir: &Path, name: &str) -> PathBuf {
    let root = dir.join("build");
    let write = |rel: &str, text: &str, mode: u32| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write(
        "DEBIAN/control",
        &format!(
            "Package: {name}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: Test <test@example.com>\nDescription: skillet test daemon\n"
        ),
        0o644,
    );
    write(
        "DEBIAN/conffiles",
        &format!("/etc/{name}.conf\n/etc/init.d/{name}\n"),
        0o644,
    );
    write(
        &format!("etc/{name}.conf"),
        "PORT=8080\nBIND=127.0.0.1\n",
        0o644,
    );
    write(&format!("etc/init.d/{name}"), &init_script(name), 0o755);
    write(
        &format!("usr/share/{name}/index.html"),
        &format!("hello from {name}\n"),
        0o644,
    );
    let deb = dir.join(format!("{name}_1.0-1_all.deb"));
    let out = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&root)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    deb
}

/// The names the test's resources manage, unique to this run so nothing can be mistaken for
/// a leftover on the machine.
struct Names {
    package: String,
    user: String,
    group: String,
}

impl Names {
    fn new() -> Names {
        let id = std::process::id();
        Names {
            package: format!("skillet-daemon-{id}"),
            user: format!("sktu{id}"),
            group: format!("sktg{id}"),
        }
    }
}

/// The `daemon` cookbook: `default` installs and runs everything, `remove` takes the daemon
/// away again.
fn cookbook(repo: &Repo, names: &Names, deb: &Path) {
    let Names {
        package,
        user,
        group,
    } = names;
    let deb_name = deb.file_name().unwrap().to_string_lossy().into_owned();
    repo.cookbook("daemon", "0.1.0");
    std::fs::create_dir_all(repo.path().join("cookbooks/daemon/files/default")).unwrap();
    std::fs::copy(
        deb,
        repo.path()
            .join("cookbooks/daemon/files/default")
            .join(&deb_name),
    )
    .unwrap();
    repo.write(
        &format!("cookbooks/daemon/templates/default/{package}.conf.erb"),
        "# managed by skillet\nPORT=<%= @port %>\nBIND=<%= @bind %>\n",
    );
    repo.recipe(
        "daemon",
        "default",
        &format!(
            r#"resources:
  - type: cookbook_file
    name: /var/tmp/{deb_name}
    source: {deb_name}
  - type: dpkg_package
    name: {package}
    source: /var/tmp/{deb_name}
  - type: template
    name: /etc/{package}.conf
    source: {package}.conf.erb
    variables: {{ port: {PORT}, bind: "{SERVER_ADDRESS}" }}
    notifies:
      - {{ action: restart, resource: "service[{package}]", timing: delayed }}
  - type: service
    name: {package}
    supports: {{ status: true, restart: true }}
    action: [enable, start]
  - type: user
    name: {user}
    comment: skillet test user
    shell: /bin/sh
    home: /home/{user}
  - type: group
    name: {group}
    members: [{user}, daemon]
  - type: cron
    name: {package}-report
    user: {user}
    minute: "0"
    hour: "*/2"
    command: /bin/true
  - type: cron_d
    name: {package}-check
    minute: "*/5"
    command: "/etc/init.d/{package} status >/dev/null"
    user: root
  - type: sysctl
    name: net.ipv4.ip_forward
    value: "1"
"#
        ),
    );
    repo.recipe(
        "daemon",
        "remove",
        &format!(
            r#"resources:
  - type: service
    name: {package}
    supports: {{ status: true, restart: true }}
    action: [stop, disable]
    # As in Chef, stopping a service whose init script is gone is an error: once the
    # package is purged there is nothing left to stop.
    only_if: "test -e /etc/init.d/{package}"
  - type: dpkg_package
    name: {package}
    action: purge
  - type: cron_d
    name: {package}-check
    action: delete
  - type: cron
    name: {package}-report
    user: {user}
    action: delete
"#
        ),
    );
}

/// kitchen.yml with the server converging `server_recipe` twice under the idempotency gate,
/// and a bare client host.
fn kitchen_yml(repo: &Repo, server_recipe: &str) {
    repo.write(
        "kitchen.yml",
        &format!(
            "driver: namespace\nprovisioner:\n  name: chef_zero\n  multiple_converge: 2\n  enforce_idempotency: true\nplatforms:\n  - name: debian-12\nsuites:\n  - name: server\n    run_list: ['recipe[daemon::{server_recipe}]']\n  - name: client\n    run_list: []\n"
        ),
    );
}

/// Fetches the daemon's page from the client host, retrying while the server binds.
fn fetch_from_client(repo: &Repo) -> String {
    let fetch = format!(
        "/usr/bin/python3 -c \"import urllib.request,time\nfor _ in range(100):\n  try:\n    print(urllib.request.urlopen('http://server-debian-12:{PORT}/', timeout=2).read().decode()); break\n  except OSError: time.sleep(0.05)\""
    );
    exec(repo, "client", &fetch)
}

#[test]
fn a_packaged_daemon_users_cron_and_sysctl_converge_inside_a_host_and_go_away() {
    let test = "a_packaged_daemon_users_cron_and_sysctl_converge_inside_a_host_and_go_away";
    if !usable_or_skip(test) {
        return;
    }
    let names = Names::new();
    let package = &names.package;
    let user = &names.user;
    let build = tempfile::tempdir().unwrap();
    let deb = build_deb(build.path(), package);
    let repo = Repo::new();
    cookbook(&repo, &names, &deb);
    kitchen_yml(&repo, "default");
    let machine_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let hosts = Hosts { repo: &repo };

    repo.run(&["kitchen", "create", "-c", "2"]).ok();
    // Two runs under the gate: the second must update nothing.
    repo.run(&["kitchen", "converge", "server"])
        .ok()
        .shows(&format!("* service[{package}] action restart\n"))
        .shows("11/11 resources updated")
        .shows("(run 2 of 2)")
        .shows("0/10 resources updated");

    let status = exec(&repo, "server", &format!("dpkg -s {package}"));
    assert!(status.contains("Status: install ok installed"), "{status}");
    let conf = exec(&repo, "server", &format!("cat /etc/{package}.conf"));
    assert!(conf.contains(&format!("PORT={PORT}")), "{conf}");
    let alive = exec(
        &repo,
        "server",
        &format!("kill -0 \"$(cat /run/{package}.pid)\" && /etc/init.d/{package} status && ls /etc/rc2.d"),
    );
    assert!(alive.contains(&format!("{package} is running")), "{alive}");
    assert!(alive.contains(&format!("S01{package}")), "{alive}");
    let page = fetch_from_client(&repo);
    assert!(page.contains(&format!("hello from {package}")), "{page}");
    let passwd = exec(&repo, "server", &format!("getent passwd {}", names.user));
    assert!(passwd.contains("skillet test user"), "{passwd}");
    let group = exec(&repo, "server", &format!("getent group {}", names.group));
    let members: Vec<&str> = group
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .split(',')
        .collect();
    assert!(
        members.contains(&names.user.as_str()) && members.contains(&"daemon"),
        "{group}"
    );
    let cron = exec(&repo, "server", &format!("cat /etc/cron.d/{package}-check"));
    assert!(
        cron.contains(&format!("*/5 * * * * root /etc/init.d/{package} status")),
        "{cron}"
    );
    // The user's crontab went through Debian's `crontab`, which reads it back as written.
    let crontab = exec(&repo, "server", &format!("crontab -l -u {user}"));
    assert!(
        crontab.contains(&format!(
            "# Chef Name: {package}-report\n0 */2 * * * /bin/true\n"
        )),
        "{crontab}"
    );
    let forward = exec(&repo, "server", "sysctl -n net.ipv4.ip_forward");
    assert_eq!(forward.trim(), "1");
    // The host's namespaces kept all of it from the machine.
    assert!(
        !machine_knows(package),
        "the machine's dpkg lists {package}"
    );
    assert!(!Path::new("/etc/init.d").join(package).exists());
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        machine_forward
    );

    kitchen_yml(&repo, "remove");
    repo.run(&["kitchen", "converge", "server"])
        .ok()
        .shows(&format!("- purge  package {package}"))
        .shows("5/5 resources updated")
        .shows("0/5 resources updated");
    let gone = exec(
        &repo,
        "server",
        &format!(
            "dpkg-query -W -f '${{Status}}' {package} 2>&1; echo; ls /etc/rc2.d; test ! -e /run/{package}.pid && test ! -e /etc/init.d/{package} && test ! -e /etc/cron.d/{package}-check && ! crontab -l -u {user} | grep -q report && echo all-gone; ps -eo args"
        ),
    );
    assert!(gone.contains("all-gone"), "{gone}");
    assert!(!gone.contains(&format!("S01{package}")), "{gone}");
    assert!(!gone.contains("http.server"), "{gone}");
    assert!(
        !gone.contains("install ok installed"),
        "still installed: {gone}"
    );

    repo.run(&["kitchen", "destroy"]).ok();
    drop(hosts);
    assert_nothing_left(&repo, package);
    assert!(
        !machine_knows(package),
        "the machine's dpkg lists {package}"
    );
}

/// Builds a .deb of `name` that depends on a package that cannot exist, so `dpkg -i` refuses
/// to configure it.
fn broken_deb(dir: &Path, name: &str) -> PathBuf {
    let root = dir.join("broken");
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::write(
        root.join("DEBIAN/control"),
        format!("Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.com>\nDepends: {name}-missing-dependency\nDescription: broken\n"),
    )
    .unwrap();
    let deb = dir.join(format!("{name}_broken.deb"));
    let built = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&root)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    deb
}

/// One host, `pkgs-debian-12`, converging `recipe[pkgs::<recipe>]` `converges` times (the
/// idempotency gate applies when there is more than one).
fn packages_kitchen_yml(repo: &Repo, recipe: &str, converges: u32) {
    repo.write(
        "kitchen.yml",
        &format!(
            "driver: namespace\nprovisioner:\n  name: chef_zero\n  multiple_converge: {converges}\n  enforce_idempotency: true\nplatforms:\n  - name: debian-12\nsuites:\n  - name: pkgs\n    run_list: ['recipe[pkgs::{recipe}]']\n"
        ),
    );
}

/// The package's `${Status} ${Version}` inside the host (empty when dpkg does not know it).
fn host_status(repo: &Repo, name: &str) -> String {
    let out = exec(
        repo,
        "pkgs",
        &format!("dpkg-query -W -f '${{Status}} ${{Version}}' {name} 2>/dev/null; true"),
    );
    out.trim().to_string()
}

/// Converges the `pkgs` host with `recipe` once; the run must fail.
fn converge_fails(repo: &Repo, recipe: &str) -> common::Run {
    packages_kitchen_yml(repo, recipe, 1);
    let run = repo.run(&["kitchen", "converge", "pkgs"]);
    assert_ne!(run.code(), 0, "{}", run.all());
    run
}

#[test]
fn dpkg_package_install_upgrade_remove_purge_and_failures_inside_a_host() {
    // Skips with a printed reason without root and dpkg; purges the name on the machine when
    // dropped, should anything ever leak.
    let Some(pkg) = common::deb::TestPackage::new() else {
        return;
    };
    let name = pkg.name.clone();
    let repo = Repo::new();
    repo.cookbook("pkgs", "1.0.0");
    let files = repo.path().join("cookbooks/pkgs/files/default");
    std::fs::create_dir_all(&files).unwrap();
    for deb in [
        pkg.deb("1.0-1"),
        pkg.deb("1.1-1"),
        broken_deb(pkg.dir.path(), &name),
    ] {
        std::fs::copy(&deb, files.join(deb.file_name().unwrap())).unwrap();
    }
    let copy = |file: &str| {
        format!("  - type: cookbook_file\n    name: /var/tmp/{file}\n    source: {file}\n")
    };
    let v1 = format!("{name}_1.0-1_all.deb");
    let v2 = format!("{name}_1.1-1_all.deb");
    let broken = format!("{name}_broken.deb");
    repo.recipe(
        "pkgs",
        "install",
        &format!(
            "resources:\n{}  - type: dpkg_package\n    name: {name}\n    source: /var/tmp/{v1}\n    notifies:\n      - {{ action: run, resource: \"execute[mark]\", timing: delayed }}\n  - type: execute\n    name: mark\n    command: \"touch /var/tmp/installed\"\n    action: nothing\n",
            copy(&v1)
        ),
    );
    repo.recipe(
        "pkgs",
        "upgrade",
        &format!(
            "resources:\n{}  - type: dpkg_package\n    name: {name}\n    source: /var/tmp/{v2}\n    action: upgrade\n",
            copy(&v2)
        ),
    );
    repo.recipe(
        "pkgs",
        "downgrade",
        &format!(
            "resources:\n  - type: dpkg_package\n    name: {name}\n    source: /var/tmp/{v1}\n    allow_downgrade: false\n    action: upgrade\n  - type: dpkg_package\n    name: {name}\n    source: /var/tmp/{v1}\n    action: upgrade\n"
        ),
    );
    repo.recipe(
        "pkgs",
        "wrong_version",
        &format!(
            "resources:\n  - type: apt_package\n    name: {name}\n    version: \"9.9-nowhere\"\n"
        ),
    );
    repo.recipe(
        "pkgs",
        "purge",
        &format!(
            "resources:\n  - type: dpkg_package\n    name: {name}\n    action: [remove, purge]\n"
        ),
    );
    repo.recipe(
        "pkgs",
        "unknown",
        &format!("resources:\n  - type: package\n    name: {name}-absent\n  - type: execute\n    name: \"touch /var/tmp/after\"\n"),
    );
    repo.recipe(
        "pkgs",
        "broken",
        &format!(
            "resources:\n{}  - type: dpkg_package\n    name: {name}\n    source: /var/tmp/{broken}\n",
            copy(&broken)
        ),
    );
    let hosts = Hosts { repo: &repo };

    packages_kitchen_yml(&repo, "install", 2);
    repo.run(&["kitchen", "converge", "pkgs"])
        .ok()
        .shows(&format!("* dpkg_package[{name}] action install\n"))
        .shows(&format!("- install version 1.0-1 of package {name}"))
        .shows("3/4 resources updated")
        .shows(&format!("dpkg_package[{name}] action install (up to date)"))
        .shows("0/3 resources updated");
    assert_eq!(host_status(&repo, &name), "install ok installed 1.0-1");
    exec(&repo, "pkgs", "test -e /var/tmp/installed");

    packages_kitchen_yml(&repo, "upgrade", 1);
    repo.run(&["kitchen", "converge", "pkgs"])
        .ok()
        .shows(&format!(
            "- upgrade(allow_downgrade) package {name} from 1.0-1 to 1.1-1"
        ))
        .shows("2/2 resources updated");
    assert_eq!(host_status(&repo, &name), "install ok installed 1.1-1");

    converge_fails(&repo, "wrong_version")
        .shows(&format!(
            "Error executing action `install` on resource 'apt_package[{name}]'"
        ))
        .shows("STDERR: E: Version '9.9-nowhere'");
    assert_eq!(host_status(&repo, &name), "install ok installed 1.1-1");

    // Without allow_downgrade an older .deb leaves the newer package alone; with it (the
    // default), the same .deb downgrades.
    packages_kitchen_yml(&repo, "downgrade", 1);
    repo.run(&["kitchen", "converge", "pkgs"])
        .ok()
        .shows(&format!("dpkg_package[{name}] action upgrade (up to date)"))
        .shows("1/2 resources updated");
    assert_eq!(host_status(&repo, &name), "install ok installed 1.0-1");

    packages_kitchen_yml(&repo, "purge", 1);
    repo.run(&["kitchen", "converge", "pkgs"])
        .ok()
        .shows(&format!("- remove package {name}"))
        .shows(&format!("- purge  package {name}"));
    assert_eq!(host_status(&repo, &name), "");
    exec(&repo, "pkgs", &format!("test ! -e /etc/{name}.conf"));

    converge_fails(&repo, "unknown")
        .shows(&format!(
            "Error executing action `install` on resource 'apt_package[{name}-absent]'"
        ))
        .shows(&format!("No candidate version available for {name}-absent"));
    exec(&repo, "pkgs", "test ! -e /var/tmp/after");

    converge_fails(&repo, "broken")
        .shows(&format!(
            "Error executing action `install` on resource 'dpkg_package[{name}]'"
        ))
        .shows("dependency problems");

    repo.run(&["kitchen", "destroy"]).ok();
    drop(hosts);
    assert_nothing_left(&repo, &name);
    assert_eq!(pkg.status(), "", "the machine's dpkg knows {name}");
}

/// Bad input on a real host: a user name useradd refuses and a service with no init script each
/// stop the run with an error naming the resource and what the tool said, and the delayed
/// notifications queued before the failure still run.
#[test]
fn a_bad_user_name_and_a_missing_init_script_fail_naming_the_resource() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: kitchen hosts need root");
        return;
    }
    let repo = Repo::new();
    repo.cookbook("bad", "1.0.0");
    let before_failure = "  - type: file\n    name: /var/tmp/queued\n    content: x\n    notifies: [{ action: run, resource: \"execute[after]\", timing: delayed }]\n  - type: execute\n    name: after\n    command: touch /var/tmp/notified\n    action: nothing\n";
    repo.recipe(
        "bad",
        "user",
        &format!("resources:\n{before_failure}  - type: user\n    name: \"bad name!\"\n"),
    );
    repo.recipe(
        "bad",
        "service",
        "resources:\n  - type: service\n    name: skillet-no-such-service\n    action: start\n",
    );
    let hosts = Hosts { repo: &repo };
    for (recipe, wants) in [
        ("user", ["user[bad name!]", "useradd: invalid user name"]),
        (
            "service",
            ["service[skillet-no-such-service]", "does not exist"],
        ),
    ] {
        repo.write(
            "kitchen.yml",
            &format!("driver: namespace\nprovisioner: chef_zero\nplatforms:\n  - name: debian-12\nsuites:\n  - name: bad\n    run_list: ['recipe[bad::{recipe}]']\n"),
        );
        let run = repo.run(&["kitchen", "converge", "bad"]);
        assert_ne!(run.code(), 0, "{}", run.all());
        for want in wants {
            run.shows(want);
        }
    }
    exec(&repo, "bad", "test -e /var/tmp/notified");
    exec(&repo, "bad", "! getent passwd 'bad name!'");
    repo.run(&["kitchen", "destroy"]).ok();
    drop(hosts);
    assert_nothing_left(&repo, "skillet-no-such-service");
}
