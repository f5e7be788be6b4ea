//! `skillet kitchen` with `provisioner: {chef_server: goiardi}`: the suite starts a real
//! goiardi in its lab, uploads the project to it, and its namespace hosts converge with
//! `skillet client`, finding each other with `search` on the server. The tests need root and
//! goiardi; without them they say so and pass.

mod common;

use common::goiardi::in_netns;
use common::kitchen_hosts::{exec, Hosts};
use common::Repo;
use skillet::kitchen::config::KitchenConfig;
use skillet::kitchen::lab::Lab;
use skillet::kitchen::state::{ServerState, StateDir};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A socket listening at `address` in the project's lab, as another server there would.
fn listen_in_lab(repo: &Repo, address: &str) -> std::net::TcpListener {
    let lab = Lab::for_project(repo.path());
    in_netns(&Path::new("/run/netns").join(&lab.name), || {
        std::net::TcpListener::bind(address).expect("the address is free in the lab")
    })
}

fn can_run(test: &str) -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping {test}: namespace hosts need root");
        return false;
    }
    if !Path::new("/usr/bin/goiardi").exists() {
        eprintln!("skipping {test}: it needs goiardi (scripts/setup installs it)");
        return false;
    }
    true
}

/// Two `app` hosts and an `lb` whose template lists the app hosts' addresses, found with
/// `search(:node, 'role:app')`; and a one-host suite of an app, all against goiardi.
fn project() -> Repo {
    let repo = Repo::new();
    repo.cookbook("app", "0.1.0").recipe(
        "app",
        "default",
        "resources:\n  - type: file\n    name: /etc/app-role\n    content: \"app\\n\"\n",
    );
    repo.cookbook("lb", "0.1.0")
        .write(
            "cookbooks/lb/recipes/default.rb",
            "apps = search(:node, 'role:app').map { |n| n['ipaddress'] }.sort\n\
             template '/etc/lb-backends' do\n  source 'backends.erb'\n  variables(backends: apps)\nend\n",
        )
        .write(
            "cookbooks/lb/templates/default/backends.erb",
            "<% @backends.each do |address| -%>\nserver <%= address %>\n<% end -%>\n",
        );
    repo.cookbook("churn", "0.1.0").recipe(
        "churn",
        "default",
        "resources:\n  - type: execute\n    name: always-runs\n    command: /bin/true\n",
    );
    repo.write(
        "roles/app.json",
        r#"{"name": "app", "run_list": ["recipe[app]"]}"#,
    )
    .write(
        "roles/lb.json",
        r#"{"name": "lb", "run_list": ["recipe[lb]"]}"#,
    )
    .write(
        "environments/staging.json",
        r#"{"name": "staging", "description": "the one before production"}"#,
    )
    .write(
        "kitchen.yml",
        "driver: namespace
provisioner:
  name: chef_zero
  chef_server: goiardi
platforms:
  - name: debian-12
suites:
  - name: web
    hosts:
      - name: app1
        run_list: ['role[app]']
      - name: app2
        run_list: ['role[app]']
      - name: lb
        run_list: ['role[lb]']
  - name: one
    run_list: ['role[app]']
    provisioner: {client_rb: {environment: staging}}
  - name: flaky
    run_list: ['recipe[churn]']
",
    );
    // Inside lb: the rendered file names both app hosts by address.
    repo.write(
        "test/integration/web/lb/backends.sh",
        "set -e\nprintf 'server %s\\nserver %s\\n' \"$KITCHEN_HOST_APP1\" \"$KITCHEN_HOST_APP2\" > /tmp/want\n\
         diff /tmp/want /etc/lb-backends\necho lb lists both apps\n",
    );
    repo
}

/// `GET path` on the instance's server, as its admin, from the lab.
fn ask_server(repo: &Repo, instance: &str, path: &str) -> serde_json::Value {
    let state = StateDir::new(repo.path()).load(instance).unwrap();
    let server = state.server.expect("the state names the server");
    let netns = PathBuf::from(format!("/run/netns/{}", server.lab));
    let key = server.dir.join("admin.pem");
    in_netns(&netns, || {
        let api = skillet::server::connect(&server.url, "admin", &key, &Default::default())
            .expect("admin connection");
        api.http
            .json("GET", path, None)
            .expect("GET from the server")
    })
}

/// The names of the nodes the instance's server holds.
fn nodes_on_server(repo: &Repo, instance: &str) -> Vec<String> {
    let nodes = ask_server(repo, instance, "/nodes");
    let mut names: Vec<String> = nodes
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Every goiardi process whose command line names the project.
fn goiardi_of(repo: &Repo) -> Vec<String> {
    let project = repo.path().to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("goiardi") && c.contains(&project))
        .collect()
}

fn assert_nothing_left(repo: &Repo) {
    assert!(
        goiardi_of(repo).is_empty(),
        "goiardi left: {:?}",
        goiardi_of(repo)
    );
    let lab = Lab::for_project(repo.path());
    assert!(
        !Path::new("/run/netns").join(&lab.name).exists(),
        "lab left"
    );
    let left: Vec<_> = std::fs::read_dir(repo.path().join(".kitchen"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in .kitchen: {left:?}");
}

#[test]
fn a_suite_converges_against_the_goiardi_it_starts_and_destroy_stops_it() {
    if !can_run("a_suite_converges_against_the_goiardi_it_starts_and_destroy_stops_it") {
        return;
    }
    let repo = project();
    let _hosts = Hosts { repo: &repo };
    let run = repo.run(&[
        "kitchen",
        "test",
        "web|one",
        "-c",
        "2",
        "--destroy",
        "never",
    ]);
    run.ok()
        .shows("Starting the Chef server (goiardi) of <web-debian-12> at http://10.201.0.1:8889")
        .shows("Starting the Chef server (goiardi) of <one-debian-12> at http://10.200.0.1:8890")
        .shows("[web-debian-12/lb] lb lists both apps")
        .shows("web-debian-12  passed")
        .shows("one-debian-12  passed");
    // Each host converged with the client, twice, the second time changing nothing.
    assert!(
        run.all().contains("[web-debian-12/app1] ") && !run.all().contains("skillet solo"),
        "{}",
        run.all()
    );
    let backends = repo.run(&[
        "kitchen",
        "exec",
        "web",
        "--host",
        "lb",
        "-c",
        "cat /etc/lb-backends",
    ]);
    backends
        .ok()
        .shows("server 10.201.0.10\nserver 10.201.0.11\n");
    assert_eq!(
        nodes_on_server(&repo, "web-debian-12"),
        ["app1", "app2", "lb"]
    );
    assert_eq!(nodes_on_server(&repo, "one-debian-12"), ["one-debian-12"]);
    let one = ask_server(&repo, "one-debian-12", "/nodes/one-debian-12");
    assert_eq!(one["chef_environment"], "staging", "{one:#}");
    let lb = ask_server(&repo, "web-debian-12", "/nodes/lb");
    assert_eq!(lb["automatic"]["ipaddress"], "10.201.0.12", "{lb:#}");
    assert_eq!(goiardi_of(&repo).len(), 2, "{:?}", goiardi_of(&repo));

    // A later converge finds the running server and uploads the edited cookbook.
    repo.recipe(
        "app",
        "default",
        "resources:\n  - type: file\n    name: /etc/app-role\n    content: \"app v2\\n\"\n",
    );
    let again = repo.run(&["kitchen", "converge", "web"]);
    again
        .ok()
        .shows("Uploaded the repository to http://10.201.0.1:8889: 1 changed");
    assert!(
        !again.all().contains("Starting the Chef server"),
        "{}",
        again.all()
    );
    repo.run(&[
        "kitchen",
        "exec",
        "web",
        "--host",
        "app2",
        "-c",
        "cat /etc/app-role",
    ])
    .ok()
    .shows("app v2\n");
    assert_eq!(exec(&repo, "one", "cat /etc/app-role"), "app\n");

    // A server that died is started again; the hosts register with it anew.
    let state = StateDir::new(repo.path()).load("web-debian-12").unwrap();
    let old = state.server.unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old.pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    while std::fs::read_to_string(format!("/proc/{}/stat", old.pid))
        .is_ok_and(|s| !s.contains(") Z "))
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    repo.run(&["kitchen", "converge", "web"])
        .ok()
        .shows("Starting the Chef server (goiardi) of <web-debian-12>")
        .shows("[web-debian-12/lb]   * template[/etc/lb-backends] action create (up to date)");
    assert_eq!(
        nodes_on_server(&repo, "web-debian-12"),
        ["app1", "app2", "lb"]
    );

    // destroy stops each server and removes its data, also one whose state was lost.
    std::fs::remove_file(repo.path().join(".kitchen/web-debian-12.json")).unwrap();
    repo.run(&["kitchen", "destroy"])
        .ok()
        .shows("Stopped a Chef server with no state")
        .shows("Destroyed a host with no state");
    assert_nothing_left(&repo);
}

/// A `goiardi` first on PATH that writes its keys, prints a line and never answers.
fn silent_goiardi(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("goiardi");
    std::fs::write(
        &fake,
        "#!/bin/sh\nfor a; do case $a in --conf-root=*) d=${a#--conf-root=};; esac; done\n\
         touch \"$d/admin.pem\" \"$d/chef-validator.pem\"\necho 'goiardi: warming up'\nexec sleep 60\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn a_server_that_fails_or_never_answers_fails_converge_with_its_log() {
    if !can_run("a_server_that_fails_or_never_answers_fails_converge_with_its_log") {
        return;
    }
    let repo = project();
    let _hosts = Hosts { repo: &repo };
    // The idempotency gate reads the client's report as it reads solo's.
    let run = repo.run(&["kitchen", "test", "flaky"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("flaky-debian-12 is not idempotent")
        .shows("execute[always-runs] action run");
    // goiardi refuses a data file it cannot read: its own words end the error.
    repo.write(
        ".kitchen/one-debian-12/server/data.bin",
        "not a goiardi data file",
    );
    let run = repo.run(&["kitchen", "converge", "one"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("the Chef server (goiardi) exited")
        .shows("before it answered at http://10.200.0.1:8890")
        .shows("zlib: invalid header");
    // The failed server is gone; the failed instance's (kept for a look) runs on.
    let servers = goiardi_of(&repo);
    assert!(
        servers.len() == 1 && servers[0].contains("/flaky-debian-12/"),
        "{servers:?}"
    );
    assert!(!repo.path().join(".kitchen/one-debian-12").exists());
    // The host itself was made whole and is kept, as after any failed converge.
    repo.run(&["kitchen", "list"]).ok().shows("running");

    // Another program holds the server's port: goiardi cannot listen, and what answers there
    // is not taken for it.
    let squatter = listen_in_lab(&repo, "10.200.0.1:8890");
    let run = repo.run(&["kitchen", "converge", "one"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("the Chef server (goiardi) exited")
        .shows("address already in use");
    assert_eq!(goiardi_of(&repo).len(), 1, "{:?}", goiardi_of(&repo));

    // A server that never answers is stopped after 10 s; the error shows its log. Its keys
    // are there and its port answers, but the socket is not its own.
    let tools = tempfile::tempdir().unwrap();
    let path = silent_goiardi(tools.path());
    let run = repo
        .command(&["kitchen", "converge", "one"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(run.status.code(), Some(1), "{text}");
    assert!(
        text.contains("did not answer at http://10.200.0.1:8890 within 10s"),
        "{text}"
    );
    assert!(text.contains("goiardi: warming up"), "{text}");
    let state = StateDir::new(repo.path()).load("one-debian-12").unwrap();
    assert!(state.server.is_none(), "{state:?}");
    drop(squatter);

    // No goiardi at all: the error names the package.
    let empty = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/usr/bin/ip", empty.path().join("ip")).unwrap();
    let run = repo
        .command(&["kitchen", "converge", "one"])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&run.stderr).into_owned() + &String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{text}");
    assert!(
        text.contains("install the Debian package `goiardi`"),
        "{text}"
    );

    // A server whose lab went with its last host is replaced by one in the new lab.
    repo.run(&["kitchen", "destroy", "one"]).ok();
    let states = StateDir::new(repo.path());
    let flaky = states.load("flaky-debian-12").unwrap();
    let old = flaky.server.clone().expect("the kept instance's server");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(flaky.hosts[0].pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    repo.run(&["kitchen", "converge", "flaky"])
        .ok()
        .shows("Starting the Chef server (goiardi) of <flaky-debian-12>")
        .shows("[flaky-debian-12]   * execute[always-runs] action run");
    let now = states.load("flaky-debian-12").unwrap().server.unwrap();
    assert_ne!(now.pid, old.pid);
    assert!(
        std::fs::read_to_string(format!("/proc/{}/stat", old.pid))
            .map_or(true, |s| s.contains(") Z ")),
        "the old server still runs"
    );
    repo.run(&["kitchen", "destroy"]).ok();
    assert_nothing_left(&repo);
}

#[test]
fn a_server_that_cannot_be_recorded_is_stopped() {
    if !can_run("a_server_that_cannot_be_recorded_is_stopped") {
        return;
    }
    let repo = project();
    let _hosts = Hosts { repo: &repo };
    repo.run(&["kitchen", "create", "one"]).ok();
    let config = KitchenConfig::load(repo.path()).unwrap();
    let instance = config.select(Some("one")).unwrap().remove(0);
    let states = StateDir::new(repo.path());
    let hosts = states.load("one-debian-12").unwrap().hosts;
    let mut record = |_: Option<&ServerState>| -> skillet::error::Result<()> {
        Err(skillet::error::Error::input(
            "Kitchen::ActionFailed",
            "the state cannot be written",
        ))
    };
    let result =
        skillet::kitchen::server::ensure(&instance, &hosts, None, states.path(), &mut record);
    let error = result.expect_err("the record failed");
    assert!(
        error.to_string().contains("the state cannot be written"),
        "{error}"
    );
    // Nothing could have found it later: it is gone now, with its directory.
    assert!(goiardi_of(&repo).is_empty(), "{:?}", goiardi_of(&repo));
    assert!(!repo.path().join(".kitchen/one-debian-12/server").exists());
    repo.run(&["kitchen", "destroy"]).ok();
    assert_nothing_left(&repo);
}
