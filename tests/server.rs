//! `skillet upload` and `skillet client` against a real Chef server API: goiardi, started by
//! each test on a free loopback port with its own data directory.

mod common;

use common::goiardi::Goiardi;
use common::Repo;
use serde_json::json;
use std::path::Path;
use std::process::{Command, Stdio};

/// A repository with a cookbook (a template fed by a role attribute and a data bag item, a
/// cookbook_file), a role, an environment and a data bag.
fn app_repo() -> Repo {
    let repo = Repo::new();
    let root = repo.root().display().to_string();
    repo.cookbook("app", "1.0.0")
        .write(
            "cookbooks/app/attributes/default.rb",
            &format!("default['app']['port'] = 80\ndefault['app']['root'] = '{root}'\n"),
        )
        .write(
            "cookbooks/app/templates/default/app.conf.erb",
            "port=<%= node['app']['port'] %>\ncolor=<%= @color %>\nenv=<%= node.chef_environment %>\n",
        )
        .write("cookbooks/app/files/default/motd", "welcome\n")
        .write(
            "cookbooks/app/recipes/default.rb",
            r##"settings = data_bag_item('settings', 'main')
root = node['app']['root']
directory "#{root}/etc"
template "#{root}/etc/app.conf" do
  source 'app.conf.erb'
  variables(color: settings['color'])
end
cookbook_file "#{root}/etc/motd" do
  source 'motd'
end
"##,
        )
        .write(
            "roles/app.json",
            r#"{"name": "app", "run_list": ["recipe[app]"], "default_attributes": {"app": {"port": 8080}}}"#,
        )
        .write(
            "environments/prod.json",
            r#"{"name": "prod", "cookbook_versions": {"app": ">= 1.0.0"}}"#,
        )
        .write(
            "data_bags/settings/main.json",
            r#"{"id": "main", "color": "blue"}"#,
        );
    repo
}

fn upload(repo: &Repo, server: &Goiardi, kinds: &[&str]) -> common::Run {
    let key = server.key("admin").display().to_string();
    let mut args = vec!["upload", "-S", &server.url, "-u", "admin", "-k", &key];
    args.extend_from_slice(kinds);
    repo.run(&args)
}

/// client.rb for node `name`: keys and cache inside the repo's temp dir.
fn client_config(repo: &Repo, server: &Goiardi, name: &str) -> String {
    let dir = repo.path().join(name);
    let file = format!("{name}/client.rb");
    repo.write(
        &file,
        &format!(
            "chef_server_url \"{}\"\nnode_name \"{name}\"\nvalidation_key \"{}\"\nclient_key \"{}\"\nfile_cache_path \"{}\"\n",
            server.url,
            server.key("chef-validator").display(),
            dir.join("client.pem").display(),
            dir.join("cache").display(),
        ),
    );
    file
}

fn client(repo: &Repo, config: &str, args: &[&str]) -> common::Run {
    let mut all = vec!["client", "-c", config, "--no-color"];
    all.extend_from_slice(args);
    repo.run(&all)
}

#[test]
fn upload_then_a_new_node_registers_converges_and_is_saved() {
    let server = Goiardi::start();
    let repo = app_repo();
    upload(&repo, &server, &[])
        .ok()
        .shows("Uploaded cookbook app 1.0.0")
        .shows("Uploaded role app")
        .shows("Uploaded environment prod")
        .shows("Uploaded data bag item settings/main");
    upload(&repo, &server, &[])
        .ok()
        .shows("Nothing to upload: the server already has all 4 objects");

    let config = client_config(&repo, &server, "web1");
    repo.write(
        "web1/first.json",
        r#"{"run_list": ["role[app]"], "team": "ops"}"#,
    );
    client(&repo, &config, &["-j", "web1/first.json", "-E", "prod"])
        .ok()
        .shows("Recipe: app::default")
        .updated(3, 3);
    assert_eq!(
        repo.read_host("etc/app.conf").as_deref(),
        Some("port=8080\ncolor=blue\nenv=prod\n")
    );
    assert_eq!(repo.read_host("etc/motd").as_deref(), Some("welcome\n"));
    let key = repo.path().join("web1/client.pem");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the registered key is private");

    let node = server.admin().node("web1").unwrap().expect("node saved");
    assert_eq!(node["chef_environment"], "prod");
    assert_eq!(node["run_list"], json!(["role[app]"]));
    assert_eq!(node["normal"]["team"], "ops");
    assert_eq!(node["automatic"]["roles"], json!(["app"]));
    assert!(node["automatic"]["platform"].is_string(), "{node}");
    assert_eq!(node["default"]["app"]["port"], 8080);

    // Later runs: the saved node's run list and environment, the cached cookbooks; a link
    // named chef-client is `skillet client`.
    let link = repo.path().join("chef-client");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_skillet"), &link).unwrap();
    let second = Command::new(&link)
        .args(["-c", &config, "--no-color"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    common::Run { output: second }.ok().updated(0, 3);
    assert!(repo
        .path()
        .join("web1/cache/cookbooks/app/recipes/default.rb")
        .is_file());
}

#[test]
fn search_finds_what_the_server_holds_and_filters_it() {
    let server = Goiardi::start();
    let repo = app_repo();
    repo.write(
        "nodes/app1.json",
        r#"{"name": "app1", "run_list": ["role[app]"], "normal": {"ip": "10.0.0.1"}}"#,
    )
    .write(
        "nodes/app2.json",
        r#"{"run_list": ["role[app]"], "normal": {"ip": "10.0.0.2"}}"#,
    )
    .write("nodes/db1.json", r#"{"run_list": ["recipe[db]"]}"#)
    // Protocol 1.0 signing, checked by the server on every request of this upload.
    .write(
        "knife.rb",
        &format!(
            "chef_server_url \"{}\"\nnode_name \"admin\"\nclient_key \"{}\"\nauthentication_protocol_version \"1.0\"\n",
            server.url,
            server.key("admin").display()
        ),
    );
    repo.run(&["upload", "roles", "nodes"])
        .ok()
        .shows("Uploaded node app2");
    let api = server.admin();
    assert_eq!(indexed(&api, "node", "*:*", 3), 3);
    assert_eq!(indexed(&api, "role", "*:*", 1), 1);
    let apps = api.search("node", "role:app", 100, 0, None).unwrap();
    let mut names: Vec<&str> = apps
        .rows
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["app1", "app2"]);
    // goiardi counts the page in `total`; Chef Infra Server counts every match.
    let page = api.search("node", "role:app", 1, 1, None).unwrap();
    assert_eq!((page.start, page.rows.len()), (1, 1));
    assert!(names.contains(&page.rows[0]["name"].as_str().unwrap_or("")));
    let filter = json!({"name": ["name"], "ip": ["ip"]});
    let partial = api
        .search("node", "name:app1", 10, 0, Some(&filter))
        .unwrap();
    assert_eq!(
        partial.rows,
        vec![json!({"name": "app1", "ip": "10.0.0.1"})]
    );
    let roles = api.search("role", "name:app", 10, 0, None).unwrap();
    assert_eq!(roles.total, 1);

    // A recipe's search in client mode asks the server: nodes by role and attribute, and a
    // data bag by a field of its items.
    let root = repo.root().display().to_string();
    repo.cookbook("peers", "1.0.0").write(
        "cookbooks/peers/recipes/default.rb",
        &format!(
            "apps = search(:node, 'role:app AND ip:10.0.0.*').map {{ |n| \"#{{n.name}}=#{{n['ip']}}\" }}\n\
             blue = search(:settings, 'color:blue').map {{ |item| item['id'] }}\n\
             file '{root}/peers' do\n  content \"#{{apps.sort.join(',')}} #{{blue.join(',')}}\\n\"\nend\n"
        ),
    );
    repo.run(&["upload", "cookbooks", "data_bags"]).ok();
    assert_eq!(indexed(&api, "settings", "color:blue", 1), 1);
    let config = client_config(&repo, &server, "lb1");
    client(&repo, &config, &["-o", "recipe[peers]"])
        .ok()
        .updated(1, 1);
    assert_eq!(
        repo.read_host("peers").as_deref(),
        Some("app1=10.0.0.1,app2=10.0.0.2 main\n")
    );
}

#[test]
fn bad_inputs_fail_clearly_and_leave_the_host_alone() {
    let server = Goiardi::start();
    let repo = app_repo();
    upload(&repo, &server, &["cookbooks", "data_bags"]).ok();

    // A cookbook the server does not have: nothing compiles, nothing changes.
    let config = client_config(&repo, &server, "web2");
    let run = client(&repo, &config, &["-o", "recipe[missing]"]);
    assert_ne!(run.code(), 0);
    run.shows("cannot solve the run list").shows("missing");
    assert!(repo.read_host("etc/app.conf").is_none());

    // A key the server does not hold for this client: a 401 that says what to check.
    let other = repo.path().join("web2/other.pem");
    std::fs::copy(server.key("chef-webui"), &other).unwrap();
    let other = other.display().to_string();
    let run = client(&repo, &config, &["-k", &other, "-o", "recipe[app]"]);
    assert_ne!(run.code(), 0);
    run.shows("Failed to authenticate to the Chef server (http 401) as `web2`")
        .shows("Bad signature")
        .shows("client_key");
    assert!(repo.read_host("etc/app.conf").is_none());

    // chef-solo's legacy mode means nothing to a client.
    let run = client(&repo, &config, &["--legacy-mode"]);
    assert_eq!(run.code(), 43);
    run.shows("--legacy-mode belongs to chef-solo");

    // The server gone: a clear message naming it.
    let url = server.url.clone();
    drop(server);
    let run = repo.run(&["client", "-S", &url, "-c", &config, "-o", "recipe[app]"]);
    assert_ne!(run.code(), 0);
    run.shows("Cannot reach the Chef server").shows(&url);
    assert!(repo.read_host("etc/app.conf").is_none());
}

#[test]
fn twenty_hosts_converge_against_one_server_at_once() {
    let server = Goiardi::start();
    let repo = app_repo();
    upload(&repo, &server, &[]).ok();
    let names: Vec<String> = (1..=20).map(|i| format!("fleet{i:02}")).collect();
    let runs: Vec<(String, std::process::Child)> = names
        .iter()
        .map(|name| {
            let config = client_config(&repo, &server, name);
            // Each host converges into its own directory.
            let root = repo.path().join(name).join("host");
            std::fs::create_dir_all(&root).unwrap();
            let json = format!("{name}/first.json");
            repo.write(
                &json,
                &json!({"run_list": ["role[app]"], "app": {"root": root}}).to_string(),
            );
            let child = repo
                .command(&["client", "-c", &config, "-j", &json, "-F", "min"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (name.clone(), child)
        })
        .collect();
    for (name, child) in runs {
        let output = child.wait_with_output().unwrap();
        common::Run { output }.ok();
        let conf = repo.path().join(&name).join("host/etc/app.conf");
        assert!(conf.is_file(), "{name} converged");
        assert!(
            repo.path().join(&name).join("client.pem").is_file(),
            "{name} registered"
        );
    }
    let api = server.admin();
    for name in &names {
        let node = api
            .node(name)
            .unwrap()
            .unwrap_or_else(|| panic!("{name} saved"));
        assert_eq!(node["automatic"]["roles"], json!(["app"]), "{name}");
    }
    assert_eq!(
        indexed(&api, "node", "role:app", 20),
        20,
        "nodes found by search"
    );
}

/// How many objects of `index` match `query`, waiting (up to 5 s) for `expected`: goiardi
/// indexes what it saves in the background.
fn indexed(api: &skillet::server::api::Api, index: &str, query: &str, expected: usize) -> usize {
    let mut found = 0;
    for _ in 0..100 {
        found = api.search(index, query, 100, 0, None).unwrap().rows.len();
        if found == expected {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    found
}

#[test]
fn a_failed_converge_still_saves_the_node() {
    let server = Goiardi::start();
    let repo = app_repo();
    repo.write("cookbooks/app/recipes/broken.rb", "execute 'exit 3'\n");
    upload(&repo, &server, &["cookbooks"]).ok();
    let config = client_config(&repo, &server, "web4");
    repo.write(
        "web4/first.json",
        r#"{"run_list": ["recipe[app::broken]"], "marker": "tried"}"#,
    );
    let run = client(&repo, &config, &["-j", "web4/first.json"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    let node = server.admin().node("web4").unwrap().expect("node saved");
    assert_eq!(node["run_list"], json!(["recipe[app::broken]"]));
    assert_eq!(node["normal"]["marker"], "tried");
    assert_eq!(node["automatic"]["recipes"], json!(["app::broken"]));
}

#[test]
fn a_server_that_finds_the_clock_off_says_so() {
    // No clock skew is allowed at all: every request's whole-second timestamp is off.
    let server = Goiardi::start_with(&["--time-slew=1ns"], "http");
    let repo = app_repo();
    let run = upload(&repo, &server, &["roles"]);
    assert_ne!(run.code(), 0);
    run.shows("http 401").shows("Clock skew").shows("NTP");
}

#[test]
fn https_checks_the_certificate_unless_told_not_to() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let cert_flag = format!("--ssl-cert={}", cert.display());
    let key_flag = format!("--ssl-key={}", key.display());
    let server = Goiardi::start_with(&["--use-ssl", &cert_flag, &key_flag], "https");
    let repo = app_repo();
    let knife = |verify: &str| {
        format!(
            "chef_server_url \"{}\"\nnode_name \"admin\"\nclient_key \"{}\"\nssl_verify_mode :{verify}\n",
            server.url,
            server.key("admin").display()
        )
    };
    // A self-signed certificate is refused by default ...
    repo.write("knife.rb", &knife("verify_peer"));
    let run = repo.run(&["upload", "roles"]);
    assert_ne!(run.code(), 0);
    run.shows("Cannot reach the Chef server")
        .shows("certificate");
    // ... and accepted with ssl_verify_mode :verify_none.
    repo.write("knife.rb", &knife("verify_none"));
    repo.run(&["upload", "roles"])
        .ok()
        .shows("Uploaded role app");
}

#[test]
fn a_failed_download_keeps_the_last_good_cookbooks() {
    let server = Goiardi::start();
    let repo = app_repo();
    upload(&repo, &server, &[]).ok();
    let dir = repo.path().join("web3");
    repo.write(
        "web3/client.json",
        &json!({
            "chef_server_url": server.url,
            "node_name": "web3",
            "validation_key": server.key("chef-validator"),
            "client_key": dir.join("client.pem"),
            "file_cache_path": dir.join("cache"),
        })
        .to_string(),
    );
    let config = "web3/client.json";
    client(&repo, config, &["-o", "role[app]"]).ok();
    let cached = repo.path().join("web3/cache/cookbooks/app");
    let before = std::fs::read_to_string(cached.join("files/default/motd")).unwrap();

    // A new version whose file the server then loses: its download fails mid-sync.
    repo.cookbook("app", "1.0.1")
        .write("cookbooks/app/files/default/motd", "changed\n");
    upload(&repo, &server, &["cookbooks"]).ok();
    let lost = md5_hex(b"changed\n");
    remove_stored(&server.dir.path().join("lfs"), &lost);
    let run = client(&repo, config, &["-o", "role[app]"]);
    assert_ne!(run.code(), 0, "{}", run.all());
    run.shows("motd");
    assert_eq!(
        std::fs::read_to_string(cached.join("files/default/motd")).unwrap(),
        before
    );
    let strays: Vec<String> = walk(&cached)
        .into_iter()
        .filter(|p| p.contains(".chef-"))
        .collect();
    assert!(strays.is_empty(), "staged files left: {strays:?}");
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deletes the server's stored copy of the file with this checksum.
fn remove_stored(dir: &Path, checksum: &str) {
    let found: Vec<String> = walk(dir)
        .into_iter()
        .filter(|p| p.contains(checksum))
        .collect();
    assert!(
        !found.is_empty(),
        "no stored file for {checksum} in {}",
        dir.display()
    );
    for path in found {
        std::fs::remove_file(path).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}
