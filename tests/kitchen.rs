//! `skillet kitchen` with real namespace hosts, as a user runs it: each test is a project in a
//! temp dir with its own lab, and checks that destroy leaves no network namespace, veth, mount
//! or process behind. The tests need root; without it they say so and pass.

mod common;

use common::Repo;
use skillet::kitchen::lab::Lab;
use std::path::Path;

fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("skipping {test}: namespace hosts need root");
    false
}

/// A project with one cookbook writing `/etc/<marker>` and kitchen.yml from `suites`.
fn project(marker: &str, suites: &str) -> Repo {
    let repo = Repo::new();
    repo.cookbook("hello", "0.1.0").recipe(
        "hello",
        "default",
        &format!(
            "resources:\n  - type: file\n    name: /etc/{marker}\n    content: \"hello from the host\\n\"\n"
        ),
    );
    repo.cookbook("churn", "0.1.0").recipe(
        "churn",
        "default",
        "resources:\n  - type: execute\n    name: always-runs\n    command: /bin/true\n",
    );
    repo.write(
        "kitchen.yml",
        &format!("driver: namespace\nprovisioner: chef_zero\nplatforms:\n  - name: debian-12\nsuites:\n{suites}"),
    );
    repo
}

/// Asserts nothing of the project's lab is left: no network namespace (hence no veth), no
/// process and no mount naming the project, no scratch directory.
fn assert_nothing_left(repo: &Repo) {
    let lab = Lab::for_project(repo.path());
    let netns: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&lab.name))
                .collect()
        })
        .unwrap_or_default();
    assert!(netns.is_empty(), "network namespaces left: {netns:?}");
    let links = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&links.stdout).contains(&lab.name));
    let project = repo.path().to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(!cmdline.contains(&project), "process left: {cmdline}");
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&project), "mount left");
    assert!(!repo.path().join(".kitchen/hosts").exists());
    let lock = Path::new("/run/lock").join(format!("skillet-{}.lock", lab.name));
    assert!(!lock.exists(), "lab lock left: {}", lock.display());
    let states: Vec<_> = std::fs::read_dir(repo.path().join(".kitchen"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(states.is_empty(), "state left: {states:?}");
}

#[test]
fn a_host_is_created_entered_converged_verified_and_destroyed() {
    if !root_or_skip("a_host_is_created_entered_converged_verified_and_destroyed") {
        return;
    }
    let marker = format!("kitchen-{}", std::process::id());
    let repo = project(
        &marker,
        "  - name: default\n    run_list: ['recipe[hello]']\n",
    );
    repo.write(
        "test/integration/default/file.sh",
        &format!(
            "grep -q 'hello from the host' /etc/{marker}\ntest \"$KITCHEN_SUITE\" = default\n"
        ),
    );
    repo.run(&["kitchen", "create", "default"]).ok();
    // A separate invocation finds the host through its state file.
    repo.run(&["kitchen", "list"])
        .ok()
        .shows("default-debian-12")
        .shows("running (10.200.0.10)");
    repo.run(&[
        "kitchen",
        "exec",
        "default",
        "-c",
        "hostname; ip -o addr show eth0",
    ])
    .ok()
    .shows("default-debian-12\n")
    .shows("inet 10.200.0.10/24");
    let project = repo.path().display().to_string();
    repo.run(&[
        "kitchen",
        "exec",
        "default",
        "-c",
        &format!("test ! -e {project} && test ! -e /.dockerenv && test -z \"$(ls -A /root)\""),
    ])
    .ok();
    repo.run(&["kitchen", "converge", "default"])
        .ok()
        .shows("[default-debian-12]")
        .shows("1/1 resources updated");
    assert!(
        !Path::new("/etc").join(&marker).exists(),
        "the file leaked out of the host"
    );
    repo.run(&["kitchen", "verify", "default"]).ok();
    repo.run(&["kitchen", "list"]).ok().shows("verify");
    repo.run(&["kitchen", "destroy"]).ok();
    assert_nothing_left(&repo);
}

#[test]
fn two_hosts_reach_each_other_by_name_and_nothing_outside_the_lab() {
    if !root_or_skip("two_hosts_reach_each_other_by_name_and_nothing_outside_the_lab") {
        return;
    }
    let repo = project("unused", "  - name: server\n  - name: client\n");
    repo.run(&["kitchen", "create", "-c", "2"]).ok();
    let serve = "nohup /usr/bin/python3 -c \"import socket,os; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 7000)); s.listen(); c,_=s.accept(); c.sendall(os.uname().nodename.encode())\" >/dev/null 2>&1 &";
    repo.run(&["kitchen", "exec", "server", "-c", serve]).ok();
    let connect = "/usr/bin/python3 -c \"import socket,time\nfor _ in range(100):\n  try:\n    print(socket.create_connection(('server-debian-12', 7000), 2).recv(100).decode()); break\n  except OSError: time.sleep(0.02)\"";
    repo.run(&["kitchen", "exec", "client", "-c", connect])
        .ok()
        .shows("server-debian-12");
    let outside = repo.run(&[
        "kitchen",
        "exec",
        "client",
        "-c",
        "/usr/bin/python3 -c \"import socket; socket.create_connection(('1.1.1.1', 80), 2)\"",
    ]);
    assert_ne!(
        outside.code(),
        0,
        "a host reached outside the lab:\n{}",
        outside.all()
    );
    assert!(outside.all().contains("unreachable"), "{}", outside.all());
    repo.run(&["kitchen", "destroy"]).ok();
    assert_nothing_left(&repo);
}

#[test]
fn test_runs_instances_concurrently_and_the_idempotency_gate_names_the_resource() {
    if !root_or_skip("test_runs_instances_concurrently_and_the_idempotency_gate_names_the_resource")
    {
        return;
    }
    let marker = format!("kitchen-gate-{}", std::process::id());
    let repo = project(
        &marker,
        "  - name: good\n    run_list: ['recipe[hello]']\n  - name: churn\n    run_list: ['recipe[churn]']\n",
    );
    let junit = repo.path().join("junit.xml");
    let run = repo.run(&[
        "kitchen",
        "test",
        "-c",
        "2",
        "--junit",
        &junit.display().to_string(),
    ]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("good-debian-12   passed")
        .shows("churn-debian-12  FAILED")
        .shows("churn-debian-12 is not idempotent")
        .shows("execute[always-runs] action run");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
    assert!(xml.contains("name=\"churn-debian-12\""), "{xml}");
    // A failed instance is kept for a look inside (Test Kitchen's --destroy=passing).
    repo.run(&["kitchen", "list"]).ok().shows("not idempotent");
    repo.run(&["kitchen", "exec", "churn", "-c", "true"]).ok();
    repo.run(&["kitchen", "destroy"]).ok();
    assert_nothing_left(&repo);
}

#[test]
fn a_create_that_fails_half_way_leaves_nothing() {
    if !root_or_skip("a_create_that_fails_half_way_leaves_nothing") {
        return;
    }
    let repo = project("unused", "  - name: default\n");
    repo.write(".kitchen.local.yml", "driver:\n  base_root: /proc\n");
    let run = repo.run(&["kitchen", "create"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("cannot create the host of default-debian-12");
    assert!(!repo.path().join(".kitchen/hosts").exists());
    repo.run(&["kitchen", "list"]).ok().shows("cannot create");
    repo.run(&["kitchen", "destroy"]).ok();
    assert_nothing_left(&repo);
}

#[test]
fn without_root_the_error_says_to_run_as_root() {
    if !root_or_skip("without_root_the_error_says_to_run_as_root") {
        return;
    }
    let repo = project("unused", "  - name: default\n");
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_skillet"))
        .args(["kitchen", "create"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    if text.contains("Permission denied") {
        eprintln!("skipping: the binary is not readable by nobody");
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("kitchen needs root"), "{text}");
    assert!(text.contains("run as root"), "{text}");
}

#[test]
fn a_wrong_type_in_kitchen_yml_names_its_place() {
    let repo = Repo::new();
    repo.write(
        "kitchen.yml",
        "platforms:\n  - name: debian-12\nsuites:\n  - name: default\n    run_list: recipe[x]\n    colour: red\n",
    );
    let run = repo.run(&["kitchen", "list"]);
    assert_eq!(run.code(), 1);
    run.shows("kitchen.yml:5:15: expected `run_list` to be a list");
    repo.write(
        "kitchen.yml",
        "platforms:\n  - name: debian-12\nsuites:\n  - name: default\n    colour: red\n",
    );
    repo.run(&["kitchen", "list"])
        .ok()
        .shows("kitchen.yml:5:13: `colour` in default means nothing to skillet");
    repo.write(
        "kitchen.yml",
        "platforms:\n  - name: debian-12\nsuites:\n  - name: pair\n    hosts:\n      - name: db1\n      - name: db1\n",
    );
    let run = repo.run(&["kitchen", "list"]);
    assert_eq!(run.code(), 1);
    run.shows("kitchen.yml:7:15: expected each host of suite `pair` to have its own name, found `db1` twice");
}

#[test]
fn kitchen_yaml_env_names_the_file() {
    let repo = Repo::new();
    repo.write(
        "ci.yml",
        "platforms:\n  - name: p\nsuites:\n  - name: from-ci\n",
    );
    let run = repo
        .command(&["kitchen", "list"])
        .env("KITCHEN_YAML", "ci.yml")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&run.stdout).contains("from-ci-p"));
}

#[test]
fn destroy_takes_down_a_host_whose_state_was_lost() {
    if !root_or_skip("destroy_takes_down_a_host_whose_state_was_lost") {
        return;
    }
    let repo = project("unused", "  - name: default\n");
    repo.run(&["kitchen", "create"]).ok();
    // As if the create had been interrupted before its state was written.
    std::fs::remove_file(repo.path().join(".kitchen/default-debian-12.json")).unwrap();
    repo.run(&["kitchen", "destroy"])
        .ok()
        .shows("Destroyed a host with no state");
    assert_nothing_left(&repo);
}

#[test]
fn a_verifier_that_hangs_is_stopped_at_its_timeout() {
    if !root_or_skip("a_verifier_that_hangs_is_stopped_at_its_timeout") {
        return;
    }
    let repo = project("unused", "  - name: default\n");
    repo.write(
        ".kitchen.local.yml",
        "verifier:\n  command: sleep 30\n  timeout: 1\n",
    );
    let run = repo.run(&["kitchen", "verify"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("`sleep 30` did not finish within 1s");
    repo.run(&["kitchen", "destroy"]).ok();
    assert_nothing_left(&repo);
}

#[test]
fn a_suite_naming_a_missing_role_fails_converge_with_the_reason() {
    if !root_or_skip("a_suite_naming_a_missing_role_fails_converge_with_the_reason") {
        return;
    }
    let repo = project(
        "unused",
        "  - name: default\n    run_list: ['role[nope]']\n",
    );
    let run = repo.run(&["kitchen", "converge"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("converge of default-debian-12 failed")
        .shows("nope");
    repo.run(&["kitchen", "destroy"]).ok();
    assert_nothing_left(&repo);
}

#[test]
fn test_with_json_format_prints_only_the_document_on_stdout() {
    if !root_or_skip("test_with_json_format_prints_only_the_document_on_stdout") {
        return;
    }
    let repo = project("unused", "  - name: default\n");
    let run = repo.run(&["kitchen", "test", "--format", "json"]);
    run.ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(doc["instances"][0]["instance"], "default-debian-12");
    assert_eq!(doc["instances"][0]["passed"], true);
    let phases: Vec<&str> = doc["instances"][0]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        ["destroy", "create", "converge", "verify", "destroy"]
    );
    assert_nothing_left(&repo);
}

/// A listener on port 7000 that answers each connection with the host's name, started once.
const LISTEN: &str = r#"resources:
  - type: file
    name: /usr/local/bin/kitchen-listener
    mode: "0755"
    content: |
      #!/usr/bin/python3
      import os, socket
      s = socket.socket()
      s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
      s.bind(("0.0.0.0", 7000))
      s.listen()
      while True:
          c, _ = s.accept()
          c.sendall(os.uname().nodename.encode() + b"\n")
          c.close()
  - type: execute
    name: start-listener
    command: "setsid /usr/local/bin/kitchen-listener </dev/null >/dev/null 2>&1 & echo $! > /run/kitchen-listener.pid"
    creates: /run/kitchen-listener.pid
"#;

/// Reads the first line the listener at `$1` (a name or an address) answers, retrying while it
/// starts.
const ASK: &str = "ask() { for _ in $(seq 50); do if exec 3<>/dev/tcp/$1/7000; then read -r line <&3; exec 3<&-; echo \"$line\"; return; fi 2>/dev/null; sleep 0.05; done; echo \"no answer from $1\" >&2; return 1; }\n";

#[test]
fn a_multi_host_suite_is_made_converged_verified_and_destroyed_together() {
    if !root_or_skip("a_multi_host_suite_is_made_converged_verified_and_destroyed_together") {
        return;
    }
    let marker = format!("kitchen-hosts-{}", std::process::id());
    let repo = project(
        &marker,
        "  - name: trio
    run_list: ['recipe[listen]']
    hosts:
      - name: db1
        run_list: ['recipe[hello]']
      - name: lb1
      - name: web-1
        run_list: ['recipe[peers]']
  - name: pair
    hosts:
      - name: good
        run_list: ['recipe[hello]']
      - name: flaky
        run_list: ['recipe[churn]']
",
    );
    repo.cookbook("listen", "0.1.0")
        .recipe("listen", "default", LISTEN);
    // web-1 converges last and finds the others' saved nodes, as on a Chef server.
    repo.cookbook("peers", "0.1.0").write(
        "cookbooks/peers/recipes/default.rb",
        "peers = search(:node, 'recipe:listen AND NOT name:web-1')\n\
         file '/etc/kitchen-peers' do\n  \
           content peers.map { |n| \"#{n.name} #{n['ipaddress']}\" }.sort.join(',')\n\
         end\n",
    );
    // In the lab: every host answers at its address; KITCHEN_EXEC runs commands inside them.
    let lab = format!(
        "#!/bin/bash\nset -e\n{ASK}test \"$KITCHEN_HOSTS\" = 'db1 lb1 web-1'\n\
         test \"$(ask $KITCHEN_HOST_DB1)\" = db1\ntest \"$(ask $KITCHEN_HOST_LB1)\" = lb1\n\
         test \"$(ask $KITCHEN_HOST_WEB_1)\" = web-1\n\
         $KITCHEN_EXEC db1 grep -q 'hello from the host' /etc/{marker}\n\
         ! $KITCHEN_EXEC lb1 test -e /etc/{marker}\n\
         test \"$($KITCHEN_EXEC web-1 hostname)\" = web-1\n\
         test \"$($KITCHEN_EXEC web-1 cat /etc/kitchen-peers)\" = \"db1 $KITCHEN_HOST_DB1,lb1 $KITCHEN_HOST_LB1\"\n\
         if $KITCHEN_EXEC nope true 2>/dev/null; then exit 1; fi\n\
         test \"$(cat /proc/sys/net/ipv6/conf/hb0/accept_dad)\" = 0\n\
         test -z \"$(ip -6 addr show tentative)\"\necho lab checks passed\n"
    );
    repo.write("test/integration/trio/reach", &lab);
    let reach = repo.path().join("test/integration/trio/reach");
    std::fs::set_permissions(&reach, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // Inside lb1: the others by name, and IPv6 addresses usable at once.
    repo.write(
        "test/integration/trio/lb1/inside.sh",
        &format!(
            "set -e\ntest \"$(hostname)\" = lb1\ngetent hosts db1 | grep -q \"^$KITCHEN_HOST_DB1 \"\n\
             /bin/bash -c '{ASK}test \"$(ask db1)\" = db1 && test \"$(ask web-1)\" = web-1'\n\
             test \"$(cat /proc/sys/net/ipv6/conf/eth0/accept_dad)\" = 0\n\
             ! ip -6 addr show dev eth0 | grep tentative\necho inside lb1 passed\n"
        ),
    );
    let run = repo.run(&["kitchen", "test", "-c", "2"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("[trio-debian-12/lb1] inside lb1 passed")
        .shows("[trio-debian-12] lab checks passed")
        .shows("trio-debian-12  passed")
        .shows("pair-debian-12  FAILED")
        .shows("pair-debian-12/flaky is not idempotent")
        .shows("execute[always-runs] action run");
    assert!(
        !Path::new("/etc").join(&marker).exists(),
        "the file leaked out of the host"
    );
    // The failed instance is kept, on a subnet of its own, for a look inside any of its hosts.
    repo.run(&["kitchen", "list"])
        .ok()
        .shows("running (good 10.201.1.10, flaky 10.201.1.11)");
    repo.run(&[
        "kitchen", "exec", "pair", "--host", "flaky", "-c", "hostname",
    ])
    .ok()
    .shows("flaky\n");
    repo.run(&[
        "kitchen",
        "exec",
        "pair",
        "-c",
        &format!("cat /etc/{marker}"),
    ])
    .ok()
    .shows("hello from the host");
    let missing = repo.run(&["kitchen", "exec", "pair", "--host", "nope", "-c", "true"]);
    assert_eq!(missing.code(), 1);
    missing.shows("pair-debian-12 has no host `nope`: its hosts are good, flaky");
    // A login from a terminal gets a terminal of the host's own, with job control and the
    // user's terminal size.
    let login = std::process::Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "stty rows 41 cols 101; {} kitchen login pair --host good",
            env!("CARGO_BIN_EXE_skillet")
        ))
        .arg("/dev/null")
        .current_dir(repo.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    login
        .stdin
        .as_ref()
        .unwrap()
        .write_all(b"echo \"on $(tty) $(hostname)\"; set -o | grep monitor; stty size\nexit 7\n")
        .unwrap();
    let login = login.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&login.stdout);
    assert_eq!(login.status.code(), Some(7), "{text}");
    assert!(text.contains("on /dev/pts/0 good"), "{text}");
    assert!(
        regex::Regex::new(r"monitor\s+on").unwrap().is_match(&text),
        "{text}"
    );
    assert!(text.contains("41 101"), "{text}");
    repo.run(&["kitchen", "destroy"]).ok();
    assert_nothing_left(&repo);
}

#[test]
fn a_failing_host_stops_the_converge_and_a_lost_multi_host_state_is_swept() {
    if !root_or_skip("destroy_takes_down_the_hosts_of_a_multi_host_suite_whose_state_was_lost") {
        return;
    }
    let repo = project(
        "unused",
        "  - name: pair\n    hosts:\n      - name: one\n      - name: two\n        run_list: ['role[nope]']\n      - name: three\n",
    );
    // A failing host stops the converge, and the error names it.
    let run = repo.run(&["kitchen", "converge"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("[pair-debian-12/one] Infra Phase complete")
        .shows("converge of pair-debian-12/two failed")
        .shows("nope");
    assert!(
        !run.all().contains("[pair-debian-12/three]"),
        "{}",
        run.all()
    );
    std::fs::remove_file(repo.path().join(".kitchen/pair-debian-12.json")).unwrap();
    repo.run(&["kitchen", "destroy"])
        .ok()
        .shows("Destroyed a host with no state");
    assert_nothing_left(&repo);
}

#[test]
fn a_verifier_from_the_lab_reaches_a_one_host_instance_as_a_client() {
    if !root_or_skip("a_verifier_from_the_lab_reaches_a_one_host_instance_as_a_client") {
        return;
    }
    let repo = project(
        "unused",
        "  - name: served\n    run_list: ['recipe[listen]']\n    verifier: {from: lab}\n",
    );
    repo.cookbook("listen", "0.1.0")
        .recipe("listen", "default", LISTEN);
    let hosts = common::kitchen_hosts::Hosts { repo: &repo };
    // On the machine, from the project directory, in the lab's network: the host answers at
    // its address, and KITCHEN_EXEC still reaches inside it.
    repo.write(
        "test/integration/served/client",
        &format!(
            "#!/bin/bash\nset -e\n{ASK}test \"$KITCHEN_HOST\" = 10.200.0.10\n\
             test \"$KITCHEN_HOSTNAME\" = \"$KITCHEN_HOST\"\n\
             test \"$KITCHEN_HOSTS\" = served-debian-12\n\
             test \"$KITCHEN_HOST_SERVED_DEBIAN_12\" = \"$KITCHEN_HOST\"\n\
             test -f kitchen.yml\n\
             ip -o addr show {bridge} | grep -q 'inet 10.200.0.1/24'\n\
             test \"$(ask $KITCHEN_HOST)\" = served-debian-12\n\
             test \"$($KITCHEN_EXEC served-debian-12 hostname)\" = served-debian-12\n\
             echo client checks passed\n",
            bridge = skillet::kitchen::lab::BRIDGE
        ),
    );
    let client = repo.path().join("test/integration/served/client");
    std::fs::set_permissions(&client, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    repo.run(&["kitchen", "verify", "served"])
        .ok()
        .shows("[served-debian-12] client checks passed");
    // The same script inside the host fails: it is not where the host is a client's target.
    repo.write(
        "kitchen.yml",
        "driver: namespace\nprovisioner: chef_zero\nplatforms:\n  - name: debian-12\nsuites:\n  - name: served\n    run_list: ['recipe[listen]']\n",
    );
    let inside = repo.run(&["kitchen", "verify", "served"]);
    assert_eq!(inside.code(), 1, "{}", inside.all());
    drop(hosts);
    assert_nothing_left(&repo);
}
