//! `skillet bootstrap` over real ssh: Debian's sshd runs inside kitchen hosts, and the binary
//! bootstraps them from the lab's network namespace with a test key and a test known_hosts,
//! as a user would from a machine on that network. A role converges inside the host, a second
//! bootstrap updates nothing, and a refused connection, a wrong host key, a full disk and a
//! wrong sudo password each fail clearly with nothing installed. The tests need root and
//! openssh-server; without them they say so and pass.

mod common;

use common::goiardi::{in_netns, Goiardi};
use common::kitchen_hosts::{exec, Hosts};
use common::{Repo, Run};
use skillet::kitchen::lab::Lab;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The first host's lab address (the first instance in kitchen.yml).
const FIRST: &str = "10.200.0.10";
/// The second host's lab address.
const SECOND: &str = "10.200.0.11";

fn usable_or_skip(test: &str) -> bool {
    let missing: Vec<&str> = [
        ("root", nix::unistd::geteuid().is_root()),
        ("sshd", Path::new("/usr/sbin/sshd").exists()),
        ("ssh-keygen", Path::new("/usr/bin/ssh-keygen").exists()),
        ("nsenter", Path::new("/usr/bin/nsenter").exists()),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(what, _)| what)
    .collect();
    if missing.is_empty() {
        return true;
    }
    eprintln!("skipping {test}: bootstrap over ssh into kitchen hosts needs {missing:?}");
    false
}

/// A chef-repo whose `web` role writes `/etc/skillet-bootstrap-test` through a `motd`
/// cookbook depending on `base`, beside an unused cookbook, and kitchen.yml with `hosts`
/// suites (hosts only: kitchen never converges them here).
fn project(hosts: usize) -> Repo {
    let repo = Repo::new();
    repo.write(
        "cookbooks/motd/metadata.json",
        r#"{"name": "motd", "version": "1.0.0", "dependencies": {"base": ">= 0.0.0"}}"#,
    )
    .write(
        "cookbooks/motd/recipes/default.yml",
        "resources:\n  - type: template\n    name: /etc/skillet-bootstrap-test\n    source: motd.erb\ninclude_recipes:\n  - base\n",
    )
    .write(
        "cookbooks/motd/templates/default/motd.erb",
        "Welcome to <%= node['skillet_test']['site'] %> (<%= node.chef_environment %>)\n",
    )
    .write(
        "cookbooks/motd/attributes/default.rb",
        "default['skillet_test']['site'] = 'nowhere'\n",
    )
    .write(
        "cookbooks/base/metadata.json",
        r#"{"name": "base", "version": "1.0.0"}"#,
    )
    .write(
        "cookbooks/base/recipes/default.yml",
        "resources:\n  - type: directory\n    name: /var/lib/skillet-base\n",
    )
    .write(
        "cookbooks/unused/metadata.json",
        r#"{"name": "unused", "version": "1.0.0"}"#,
    )
    .write(
        "roles/web.json",
        r#"{"name": "web", "run_list": ["recipe[motd]"], "default_attributes": {"skillet_test": {"site": "the lab"}}}"#,
    )
    .write(
        "environments/production.json",
        r#"{"name": "production", "default_attributes": {}}"#,
    );
    let suites: String = (0..hosts)
        .map(|i| format!("  - name: h{i}\n    run_list: []\n"))
        .collect();
    repo.write(
        "kitchen.yml",
        &format!(
            "driver: namespace\nprovisioner: chef_zero\nplatforms:\n  - name: debian-12\nsuites:\n{suites}"
        ),
    );
    repo
}

/// The test's ssh client material: a key pair and a known_hosts file.
struct Client {
    key: PathBuf,
    known_hosts: PathBuf,
}

impl Client {
    fn new(repo: &Repo) -> Client {
        let dir = repo.path().join("client");
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("id_ed25519");
        keygen(&key);
        Client {
            key,
            known_hosts: dir.join("known_hosts"),
        }
    }

    fn public_key(&self) -> String {
        std::fs::read_to_string(self.key.with_extension("pub")).unwrap()
    }

    /// Records `key` (a host's public key line) for `address`.
    fn trust(&self, address: &str, key: &str) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.known_hosts)
            .unwrap();
        let mut fields = key.split_whitespace();
        let (kind, body) = (fields.next().unwrap(), fields.next().unwrap());
        writeln!(file, "{address} {kind} {body}").unwrap();
    }

    /// The ssh flags every bootstrap of the tests gets.
    fn flags(&self) -> Vec<String> {
        vec![
            "-i".into(),
            self.key.display().to_string(),
            "--ssh-option".into(),
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "--ssh-option".into(),
            "GlobalKnownHostsFile=/dev/null".into(),
            "--ssh-option".into(),
            "StrictHostKeyChecking=yes".into(),
            "--ssh-option".into(),
            "IdentitiesOnly=yes".into(),
            "--connect-timeout".into(),
            "5".into(),
        ]
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "skillet-test", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Starts sshd inside `instance` with fresh host keys, `client`'s key authorized for root;
/// returns the host's ed25519 public key.
fn start_sshd(repo: &Repo, instance: &str, client: &Client) -> String {
    let key = client.public_key();
    exec(
        repo,
        instance,
        &format!(
            "set -e; rm -f /etc/ssh/ssh_host_*; ssh-keygen -q -A; mkdir -p /run/sshd /root/.ssh; \
             chmod 700 /root/.ssh; echo '{}' > /root/.ssh/authorized_keys; \
             /usr/sbin/sshd -o UseDNS=no -o PasswordAuthentication=no",
            key.trim()
        ),
    );
    exec(repo, instance, "cat /etc/ssh/ssh_host_ed25519_key.pub")
}

/// `skillet bootstrap` from the lab's network namespace, with `stdin` on its standard input.
fn bootstrap(repo: &Repo, client: &Client, args: &[&str], stdin: &str) -> Run {
    let lab = Lab::for_project(repo.path());
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net=/run/netns/{}", lab.name))
        .arg(env!("CARGO_BIN_EXE_skillet"))
        .arg("bootstrap")
        .args(client.flags())
        .args(args)
        .current_dir(repo.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    Run {
        output: child.wait_with_output().unwrap(),
    }
}

fn fails_with(run: &Run, text: &str) {
    assert_ne!(run.code(), 0, "expected a failure:\n{}", run.all());
    run.shows(text);
}

fn nothing_installed(repo: &Repo, instance: &str) {
    exec(
        repo,
        instance,
        "test ! -e /opt/skillet && test ! -e /etc/skillet && test -z \"$(ls /tmp | grep skillet-bootstrap)\"",
    );
}

#[test]
fn a_bare_host_is_bootstrapped_over_ssh_and_failures_leave_it_untouched() {
    if !usable_or_skip("a_bare_host_is_bootstrapped_over_ssh_and_failures_leave_it_untouched") {
        return;
    }
    let repo = project(1);
    let _hosts = Hosts { repo: &repo };
    repo.run(&["kitchen", "create"]).ok();
    let client = Client::new(&repo);
    let host_key = start_sshd(&repo, "h0", &client);
    let target = format!("root@{FIRST}");
    let web = ["-r", "role[web]", "-E", "production", "-N", "web-1"];

    connection_failures(&repo, &client, &host_key, &target, &web);
    refused_targets(&repo, &client, &target, &web);

    // Why-run on the bare host: says what it would do, installs and changes nothing.
    let why = bootstrap(
        &repo,
        &client,
        &[&[target.as_str(), "-W"], &web[..]].concat(),
        "",
    );
    why.ok()
        .shows("Would create new file /etc/skillet-bootstrap-test")
        .shows("2/2 resources would have been updated");
    nothing_installed(&repo, "h0");
    exec(&repo, "h0", "test ! -e /etc/skillet-bootstrap-test");

    let first = bootstrap(
        &repo,
        &client,
        &[&[target.as_str(), "--daemonize-interval", "30"], &web[..]].concat(),
        "",
    );
    first.ok().updated(2, 2).shows("uploading skillet (");
    assert_eq!(
        exec(&repo, "h0", "cat /etc/skillet-bootstrap-test"),
        "Welcome to the lab (production)\n"
    );
    let installed = exec(
        &repo,
        "h0",
        "ls /opt/skillet/repo/cookbooks; ls /opt/skillet/repo/roles; test -x /opt/skillet/bin/skillet; \
         test -f /opt/skillet/nodes/web-1.json; \
         cat /etc/cron.d/skillet; ls /tmp | grep -c skillet-bootstrap || true",
    );
    assert!(installed.contains("base\nmotd\nweb.json\n"), "{installed}");
    assert!(!installed.contains("unused"), "{installed}");
    assert!(
        installed
            .contains("*/30 * * * * root /opt/skillet/bin/skillet solo -c /etc/skillet/solo.json"),
        "{installed}"
    );
    assert!(
        installed.ends_with("0\n"),
        "upload directory left: {installed}"
    );

    // The host converges by itself afterwards, and a second bootstrap changes nothing.
    exec(&repo, "h0", "/opt/skillet/bin/skillet solo -c /etc/skillet/solo.json --no-color | tail -1 | grep -q '0/2 resources updated'");
    bootstrap(&repo, &client, &[&[target.as_str()], &web[..]].concat(), "")
        .ok()
        .updated(0, 2)
        .shows("skillet is current there; uploading 2 cookbook(s)");

    sudo_cases(&repo, &client);

    failing_run(&repo, &client, &target);
}

/// A run that fails on the target: its exit code is bootstrap's, as the host's own run says.
fn failing_run(repo: &Repo, client: &Client, target: &str) {
    repo.write(
        "cookbooks/broken/metadata.json",
        r#"{"name": "broken", "version": "1.0.0"}"#,
    )
    .write(
        "cookbooks/broken/recipes/default.yml",
        "resources:\n  - type: execute\n    name: fails\n    command: /bin/false\n",
    );
    let broken = bootstrap(repo, client, &[target, "-r", "recipe[broken]"], "");
    let code = exec(
        repo,
        "h0",
        "/opt/skillet/bin/skillet solo -c /etc/skillet/solo.json > /dev/null 2>&1; echo $?",
    );
    assert_eq!(format!("{}\n", broken.code()), code, "{}", broken.all());
    assert_ne!(broken.code(), 0);
    broken.shows(&format!(
        "FATAL: {target}: the run exited {}",
        broken.code()
    ));
}

/// A refused connection, a changed host key and an unauthorized key: each one sentence,
/// nothing written on the host. Leaves `client` trusting the host's real key.
fn connection_failures(repo: &Repo, client: &Client, host_key: &str, target: &str, web: &[&str]) {
    // Nothing listens on 2222.
    let refused = bootstrap(repo, client, &[&[target, "-p", "2222"], web].concat(), "");
    fails_with(&refused, "connection refused");

    // known_hosts holds another key for the address.
    let impostor = repo.path().join("client/impostor");
    keygen(&impostor);
    client.trust(
        FIRST,
        &std::fs::read_to_string(impostor.with_extension("pub")).unwrap(),
    );
    let wrong_key = bootstrap(repo, client, &[&[target], web].concat(), "");
    fails_with(&wrong_key, "does not match the one in known_hosts");
    nothing_installed(repo, "h0");
    std::fs::write(&client.known_hosts, "").unwrap();
    client.trust(FIRST, host_key);

    // A key the host does not authorize.
    let stranger = Client {
        key: impostor,
        known_hosts: client.known_hosts.clone(),
    };
    let denied = bootstrap(repo, &stranger, &[&[target], web].concat(), "");
    fails_with(&denied, &format!("authentication to {target} failed"));
    nothing_installed(repo, "h0");
}

/// Targets that cannot take this binary (a full file system, a noexec mount, another
/// architecture): refused with nothing renamed into place.
fn refused_targets(repo: &Repo, client: &Client, target: &str, web: &[&str]) {
    // A 1 MiB file system cannot hold the binary: refused before anything is copied.
    exec(
        repo,
        "h0",
        "mkdir -p /mnt/small && mount -t tmpfs -o size=1m tmpfs /mnt/small",
    );
    let full = bootstrap(
        repo,
        client,
        &[&[target, "--install-dir", "/mnt/small/skillet"], web].concat(),
        "",
    );
    fails_with(&full, "not enough space for /mnt/small/skillet");
    fails_with(&full, "nothing was installed");
    exec(repo, "h0", "test -z \"$(ls -A /mnt/small)\"");
    nothing_installed(repo, "h0");

    // A binary that cannot run there (here a noexec mount) is never renamed into place.
    exec(
        repo,
        "h0",
        "mkdir -p /mnt/noexec && mount -t tmpfs -o noexec,size=400m tmpfs /mnt/noexec",
    );
    let noexec = bootstrap(
        repo,
        client,
        &[&[target, "--install-dir", "/mnt/noexec/skillet"], web].concat(),
        "",
    );
    fails_with(&noexec, "the uploaded skillet does not run there");
    fails_with(&noexec, "nothing was installed");
    exec(
        repo,
        "h0",
        "test -z \"$(ls -A /mnt/noexec/skillet/bin)\" && umount /mnt/noexec",
    );
    nothing_installed(repo, "h0");

    // A target whose `uname -m` names another architecture cannot run this binary.
    let ours = std::env::consts::ARCH;
    let other = if ours == "aarch64" {
        "x86_64"
    } else {
        "aarch64"
    };
    exec(
        repo,
        "h0",
        &format!("printf '#!/bin/sh\\ncase \"$1\" in -m) echo {other};; *) exec /bin/uname \"$@\";; esac\\n' > /usr/local/bin/uname && chmod 755 /usr/local/bin/uname"),
    );
    let foreign = bootstrap(repo, client, &[&[target], web].concat(), "");
    fails_with(
        &foreign,
        &format!("{target} is {other} and this skillet is built for {ours}"),
    );
    exec(repo, "h0", "rm /usr/local/bin/uname");
    nothing_installed(repo, "h0");
}

/// A non-root login with `--sudo`: a wrong password is refused before anything is written,
/// the right one converges (nothing to update after root's bootstrap).
fn sudo_cases(repo: &Repo, client: &Client) {
    if !Path::new("/usr/bin/sudo").exists() {
        eprintln!("skipping the sudo cases: sudo is not installed on this machine");
        return;
    }
    exec(
        repo,
        "h0",
        &format!(
            "set -e; useradd -m -s /bin/sh deploy; echo 'deploy:right-password' | chpasswd; \
             echo 'deploy ALL=(ALL) ALL' > /etc/sudoers.d/deploy; chmod 0440 /etc/sudoers.d/deploy; \
             mkdir -p /home/deploy/.ssh; echo '{}' > /home/deploy/.ssh/authorized_keys; \
             chown -R deploy: /home/deploy/.ssh; \
             rm /etc/skillet-bootstrap-test",
            client.public_key().trim()
        ),
    );
    let target = format!("deploy@{FIRST}");
    let args = [
        target.as_str(),
        "--sudo",
        "--sudo-password-stdin",
        "-r",
        "role[web]",
        "-E",
        "production",
        "-N",
        "web-1",
    ];
    let plain = bootstrap(repo, client, &args[..1], "");
    fails_with(
        &plain,
        "the login user on deploy@10.200.0.10 is not root: log in as root or pass --sudo",
    );
    let without = bootstrap(repo, client, &args[..2], "");
    fails_with(&without, "needs a password: pass --sudo-password-stdin");
    let wrong = bootstrap(repo, client, &args, "wrong-password\n");
    fails_with(&wrong, "sudo on deploy@10.200.0.10 refused the password");
    exec(repo, "h0", "test ! -e /etc/skillet-bootstrap-test");
    bootstrap(repo, client, &args, "right-password\n")
        .ok()
        .updated(1, 2);
    exec(repo, "h0", "test -e /etc/skillet-bootstrap-test");
}

#[test]
fn a_hosts_file_is_bootstrapped_in_parallel_with_a_summary() {
    if !usable_or_skip("a_hosts_file_is_bootstrapped_in_parallel_with_a_summary") {
        return;
    }
    let repo = project(2);
    let _hosts = Hosts { repo: &repo };
    repo.run(&["kitchen", "create", "-c"]).ok();
    let client = Client::new(&repo);
    for (instance, address) in [("h0", FIRST), ("h1", SECOND)] {
        let key = start_sshd(&repo, instance, &client);
        client.trust(address, &key);
    }
    repo.write(
        "hosts.txt",
        &format!(
            "# the lab\nroot@{FIRST}\nroot@{SECOND}\nssh://root@{SECOND}:2222  # nothing listens\n"
        ),
    );
    repo.write(
        "extra.json",
        r#"{"run_list": ["role[web]"], "skillet_test": {"site": "the fleet"}}"#,
    );
    let run = bootstrap(
        &repo,
        &client,
        &[
            "--hosts",
            "hosts.txt",
            "-c",
            "3",
            "-j",
            "extra.json",
            "--format",
            "json",
        ],
        "",
    );
    assert_eq!(run.code(), 1, "{}", run.all());
    let summary: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let rows = summary.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for (row, host) in rows.iter().zip([FIRST, SECOND]) {
        assert_eq!(row["host"], format!("root@{host}"));
        assert_eq!(row["result"], "converged", "{row}");
        assert_eq!(row["updated"], 2);
    }
    assert_eq!(rows[2]["result"], "failed");
    assert!(rows[2]["error"]
        .as_str()
        .unwrap()
        .contains("connection refused"));
    // Output streamed to stderr, prefixed with the target.
    run.shows(&format!("[root@{SECOND}] "));
    for instance in ["h0", "h1"] {
        assert_eq!(
            exec(&repo, instance, "cat /etc/skillet-bootstrap-test"),
            "Welcome to the fleet (_default)\n"
        );
    }
    // The table form, again: nothing to update.
    repo.write("hosts.txt", &format!("root@{FIRST}\nroot@{SECOND}\n"));
    let again = bootstrap(
        &repo,
        &client,
        &["--hosts", "hosts.txt", "-r", "role[web]"],
        "",
    );
    again.ok();
    let table = again.stdout();
    let lines: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("Host") || l.starts_with("root@"))
        .collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[1].contains("converged") && lines[1].contains("0/2"),
        "{table}"
    );
}

/// `skillet <args>` from the lab's network namespace, in the repo.
fn in_lab(repo: &Repo, args: &[&str]) -> Run {
    let lab = Lab::for_project(repo.path());
    let output = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.name))
        .arg(env!("CARGO_BIN_EXE_skillet"))
        .args(args)
        .current_dir(repo.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run { output }
}

#[test]
fn server_mode_registers_the_node_and_converges_it_from_the_chef_server() {
    let test = "server_mode_registers_the_node_and_converges_it_from_the_chef_server";
    if !usable_or_skip(test) {
        return;
    }
    if !Path::new("/usr/bin/goiardi").exists() {
        eprintln!("skipping {test}: it needs goiardi (scripts/setup installs it)");
        return;
    }
    let repo = project(1);
    let client = Client::new(&repo);
    let target = format!("root@{FIRST}");

    let _hosts = Hosts { repo: &repo };
    repo.run(&["kitchen", "create"]).ok();
    // Refused before any connection: nothing is listening on the target yet.
    let validator = repo.path().join("validation.pem");
    let key = validator.display().to_string();
    let no_name = bootstrap(&repo, &client, &[&target, "-S", "http://x", "-K", &key], "");
    fails_with(&no_name, "-S needs the node's name: give -N NAME");
    let no_key = bootstrap(
        &repo,
        &client,
        &[&target, "-S", "http://x", "-N", "web3", "-K", &key],
        "",
    );
    fails_with(&no_key, "the validator's key cannot be read");

    let host_key = start_sshd(&repo, "h0", &client);
    client.trust(FIRST, &host_key);
    let lab = Lab::for_project(repo.path());
    let netns = PathBuf::from(format!("/run/netns/{}", lab.name));
    let server = Goiardi::start_in(&netns, &Lab::gateway(FIRST));
    let admin = server.key("admin").display().to_string();
    in_lab(
        &repo,
        &["upload", "-S", &server.url, "-u", "admin", "-k", &admin],
    )
    .ok();
    std::fs::copy(server.key("chef-validator"), &validator).unwrap();
    repo.write("extra.json", r#"{"skillet_test": {"bootstrapped": "yes"}}"#);
    let web3 = [
        target.as_str(),
        "-S",
        &server.url,
        "-N",
        "web3",
        "-K",
        &key,
        "-r",
        "role[web]",
        "-E",
        "production",
        "-j",
        "extra.json",
    ];

    // A why-run cannot register the node (the key would stay behind): refused, nothing kept.
    let unregistered = bootstrap(&repo, &client, &[&web3[..], &["-W"]].concat(), "");
    fails_with(&unregistered, "not registered with the Chef server yet");
    nothing_installed(&repo, "h0");

    let first = bootstrap(
        &repo,
        &client,
        &[&web3[..], &["--daemonize-interval", "30"]].concat(),
        "",
    );
    first
        .ok()
        .updated(2, 2)
        .shows("and the client's config")
        .shows("Welcome to the lab (production)");
    assert_eq!(
        exec(&repo, "h0", "cat /etc/skillet-bootstrap-test"),
        "Welcome to the lab (production)\n"
    );
    let installed = exec(
        &repo,
        "h0",
        "cat /etc/skillet/client.rb /etc/cron.d/skillet; stat -c '%a %n' /etc/skillet/*.pem; \
         test ! -e /opt/skillet/repo; ls /tmp | grep -c skillet-bootstrap || true",
    );
    for line in [
        &format!("chef_server_url '{}'", server.url),
        "node_name 'web3'",
        "validation_key '/etc/skillet/validation.pem'",
        "client_key '/etc/skillet/client.pem'",
        "environment 'production'",
        "*/30 * * * * root /opt/skillet/bin/skillet client -c /etc/skillet/client.rb",
        "600 /etc/skillet/client.pem",
        "600 /etc/skillet/validation.pem",
    ] {
        assert!(installed.contains(line), "no `{line}` in:\n{installed}");
    }
    assert!(installed.ends_with("0\n"), "upload left: {installed}");
    let node = in_netns(&netns, || server.admin().node("web3"))
        .unwrap()
        .expect("the node is saved on the server");
    assert_eq!(node["run_list"], serde_json::json!(["role[web]"]), "{node}");
    assert_eq!(node["chef_environment"], "production", "{node}");
    assert_eq!(
        node["normal"]["skillet_test"]["bootstrapped"], "yes",
        "{node}"
    );

    // Again: the client key registered by the first run is used, and nothing changes.
    let registered = exec(&repo, "h0", "sha256sum /etc/skillet/client.pem");
    let again = bootstrap(&repo, &client, &web3, "");
    again
        .ok()
        .updated(0, 2)
        .shows("skillet is current there; uploading the client's config");
    assert_eq!(
        exec(&repo, "h0", "sha256sum /etc/skillet/client.pem"),
        registered
    );
    let why = bootstrap(&repo, &client, &[&web3[..], &["-W"]].concat(), "");
    why.ok().shows("0/2 resources would have been updated");

    // A server the target cannot reach: the client's own error, and its exit code.
    let gone = format!("http://{}:9", Lab::gateway(FIRST));
    let unreachable = bootstrap(
        &repo,
        &client,
        &[&target, "-S", &gone, "-N", "web3", "-K", &key],
        "",
    );
    fails_with(&unreachable, "Check chef_server_url (-S)");
    unreachable.shows(&format!(
        "FATAL: {target}: the run exited {}",
        unreachable.code()
    ));
}
