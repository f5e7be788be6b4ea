//! A no-op `skillet client` run against goiardi on loopback: a role, an environment, a data
//! bag item read by the recipe, a template and a cookbook_file, all already converged and
//! cached. Each run is the whole process: config, node from the server, expansion, solving,
//! cache check, compile, converge, node save.

#[path = "../tests/common/goiardi.rs"]
#[allow(dead_code)]
mod goiardi;
#[path = "support/mod.rs"]
#[allow(dead_code)]
mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;
use std::process::{Command, Output};

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// The repository in `dir`; managed files go to `dir/host`.
fn build_repo(dir: &Path) {
    let cb = dir.join("cookbooks/app");
    write(
        &cb.join("metadata.json"),
        r#"{"name": "app", "version": "1.0.0"}"#,
    );
    write(
        &cb.join("attributes/default.rb"),
        &format!(
            "default['app']['root'] = '{}'\n",
            dir.join("host").display()
        ),
    );
    write(
        &cb.join("templates/default/app.conf.erb"),
        "port=<%= node['app']['port'] %>\ncolor=<%= @color %>\n",
    );
    write(&cb.join("files/default/motd"), "welcome\n");
    write(
        &cb.join("recipes/default.rb"),
        r##"settings = data_bag_item('settings', 'main')
root = node['app']['root']
directory root
template "#{root}/app.conf" do
  source 'app.conf.erb'
  variables(color: settings['color'])
end
cookbook_file "#{root}/motd" do
  source 'motd'
end
"##,
    );
    write(
        &dir.join("roles/app.json"),
        r#"{"name": "app", "run_list": ["recipe[app]"], "default_attributes": {"app": {"port": 8080}}}"#,
    );
    write(&dir.join("environments/prod.json"), r#"{"name": "prod"}"#);
    write(
        &dir.join("data_bags/settings/main.json"),
        r#"{"id": "main", "color": "blue"}"#,
    );
    write(
        &dir.join("first.json"),
        r#"{"run_list": ["role[app]"], "chef_environment": "prod"}"#,
    );
}

fn skillet(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillet"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("skillet runs")
}

fn bench(c: &mut Criterion) {
    let server = goiardi::Goiardi::start();
    let dir = tempfile::tempdir().expect("tempdir");
    build_repo(dir.path());
    let admin = server.key("admin").display().to_string();
    let uploaded = skillet(
        dir.path(),
        &["upload", "-S", &server.url, "-u", "admin", "-k", &admin],
    );
    assert!(uploaded.status.success(), "{uploaded:?}");
    write(
        &dir.path().join("client.rb"),
        &format!(
            "chef_server_url '{}'\nnode_name 'bench'\nvalidation_key '{}'\nclient_key 'client.pem'\nfile_cache_path 'cache'\n",
            server.url,
            server.key("chef-validator").display()
        ),
    );
    let client = ["client", "-c", "client.rb", "--no-color", "-F", "min"];
    let mut first = client.to_vec();
    first.extend(["-j", "first.json"]);
    let out = skillet(dir.path(), &first);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    support::assert_noop(&skillet(dir.path(), &client), 3);

    c.bench_function("client_process_noop_against_goiardi", |b| {
        b.iter(|| {
            let out = skillet(dir.path(), &client);
            assert!(out.status.success());
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
