//! `skillet solo` through the binary, as an operator runs it.

mod common;

use common::Repo;

fn web_repo() -> Repo {
    let repo = Repo::new();
    repo.cookbook("web", "1.0.0")
        .write(
            "cookbooks/web/attributes/default.rb",
            "default['web']['port'] = 80\ndefault['web']['names'] = %w(a b)\n",
        )
        .write(
            "cookbooks/web/templates/default/app.conf.erb",
            "port=<%= node['web']['port'] %>\n<% node['web']['names'].each do |n| -%>\nname=<%= n %>\n<% end -%>\nmode=<%= @mode %>\n",
        )
        .write("cookbooks/web/files/default/motd", "welcome\n")
        .recipe(
            "web",
            "default",
            r#"resources:
  - type: directory
    name: "{root}/etc"
    mode: "0755"
  - type: template
    name: "{root}/etc/app.conf"
    source: app.conf.erb
    mode: "0640"
    variables: { mode: production }
    notifies:
      - { action: run, resource: "execute[restart app]", timing: delayed }
  - type: cookbook_file
    name: "{root}/etc/motd"
    source: motd
  - type: link
    name: "{root}/current"
    to: "{root}/etc"
  - type: execute
    name: restart app
    command: "echo restarted >> {root}/restarts"
    action: nothing
"#,
        )
        .write(
            "roles/web.json",
            r#"{"name": "web", "run_list": ["recipe[web]"], "override_attributes": {"web": {"port": 8080}}}"#,
        );
    repo
}

#[test]
fn converge_then_second_run_changes_nothing() {
    let repo = web_repo();
    let first = repo.solo(&["-o", "role[web]"]);
    first.ok().shows("Recipe: web::default").updated(5, 6);
    assert_eq!(
        repo.read_host("etc/app.conf").as_deref(),
        Some("port=8080\nname=a\nname=b\nmode=production\n")
    );
    assert_eq!(repo.read_host("restarts").as_deref(), Some("restarted\n"));
    let second = repo.solo(&["-o", "role[web]"]);
    second.ok().updated(0, 5).shows("(up to date)");
    assert_eq!(repo.read_host("restarts").as_deref(), Some("restarted\n"));
}

#[test]
fn why_run_reports_the_plan_and_changes_nothing() {
    let repo = web_repo();
    let run = repo.solo(&["-o", "role[web]", "-W"]);
    run.ok()
        .shows("- Would create new file")
        .shows("would have been updated");
    assert!(!repo.root().join("etc").exists());
}

#[test]
fn a_content_change_shows_a_diff_and_is_applied() {
    let repo = web_repo();
    repo.solo(&["-o", "role[web]"]).ok();
    std::fs::write(repo.root().join("etc/app.conf"), "port=1\n").expect("edit");
    let run = repo.solo(&["-o", "role[web]"]);
    run.ok()
        .shows("- update content in file")
        .shows("-port=1")
        .shows("+port=8080")
        .updated(2, 6);
}

#[test]
fn node_is_saved_after_a_run_but_not_with_an_override_run_list() {
    let repo = web_repo();
    repo.write("node.json", r#"{"run_list": ["role[web]"], "team": "ops"}"#);
    repo.solo(&["-o", "role[web]"]).ok();
    assert!(!repo.path().join("nodes/test-node.json").exists());
    repo.solo(&["-j", "node.json"]).ok();
    let saved = std::fs::read_to_string(repo.path().join("nodes/test-node.json")).expect("saved");
    let node: serde_json::Value = serde_json::from_str(&saved).expect("json");
    assert_eq!(node["normal"]["team"], "ops");
    assert_eq!(node["run_list"][0], "role[web]");
    // The saved run list is used when no -j is given.
    repo.solo(&[]).ok().updated(0, 5);
}

#[test]
fn chef_solo_link_behaves_as_skillet_solo() {
    let repo = web_repo();
    let link = repo.path().join("chef-solo");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_skillet"), &link).expect("link");
    let out = std::process::Command::new(&link)
        .args(["-c", "solo.json", "-o", "role[web]", "--no-color"])
        .current_dir(repo.path())
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("5/6 resources updated"), "{text}");
}

#[test]
fn guards_skip_and_report_why() {
    let repo = Repo::new();
    repo.cookbook("g", "0.1.0").recipe(
        "g",
        "default",
        r#"resources:
  - type: file
    name: "{root}/skipped"
    content: "x"
    only_if: "false"
  - type: file
    name: "{root}/kept"
    content: "x"
    not_if: "false"
"#,
    );
    repo.solo(&["-o", "g"])
        .ok()
        .shows("(skipped due to only_if)")
        .updated(1, 2);
    assert!(repo.read_host("skipped").is_none());
    assert_eq!(repo.read_host("kept").as_deref(), Some("x"));
}

#[test]
fn a_failed_resource_exits_1_and_still_runs_delayed_notifications() {
    let repo = Repo::new();
    repo.cookbook("f", "0.1.0").recipe(
        "f",
        "default",
        r#"resources:
  - type: execute
    name: notified
    command: "touch {root}/notified"
    action: nothing
  - type: file
    name: "{root}/a"
    content: "a"
    notifies: [{ action: run, resource: "execute[notified]" }]
  - type: execute
    name: "exit 3"
  - type: file
    name: "{root}/never"
    content: "n"
"#,
    );
    let run = repo.solo(&["-o", "f"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("Expected process to exit with [0], but received '3'");
    assert!(repo.root().join("notified").exists());
    assert!(!repo.root().join("never").exists());
}

#[test]
fn json_report_file_lists_every_action() {
    let repo = web_repo();
    repo.solo(&["-o", "role[web]", "--report-file", "report.json"])
        .ok();
    let text = std::fs::read_to_string(repo.path().join("report.json")).expect("report");
    let report: serde_json::Value = serde_json::from_str(&text).expect("json");
    let text = report.to_string();
    assert!(text.contains("template"), "{text}");
    assert!(text.contains("updated"), "{text}");
}

#[test]
fn solo_rb_literal_settings_are_read() {
    let repo = web_repo();
    repo.write(
        "solo.rb",
        "repo = File.dirname(__FILE__)\ncookbook_path [File.join(repo, 'cookbooks')]\nrole_path File.join(repo, 'roles')\nfile_cache_path File.join(repo, 'cache')\nnode_path File.join(repo, 'nodes')\nnode_name 'rb-node'\n",
    );
    let run = repo.run(&["solo", "-c", "solo.rb", "-o", "role[web]", "--no-color"]);
    run.ok().updated(5, 6);
}

#[test]
fn json_formatter_prints_one_document() {
    let repo = web_repo();
    let run = repo.solo(&["-o", "role[web]", "-F", "json"]);
    run.ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).expect("one JSON document");
    assert_eq!(report["run"]["updated"], 5);
}
