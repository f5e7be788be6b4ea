//! `skillet solo` gives recipes and templates the automatic attributes `skillet ohai` prints,
//! and `--minimal-ohai` limits them to Chef's minimal set.

mod common;

use common::Repo;
use serde_json::Value;

fn facts_repo() -> Repo {
    let repo = Repo::new();
    repo.cookbook("facts", "1.0.0")
        .write(
            "cookbooks/facts/templates/default/facts.erb",
            "platform=<%= node['platform'] %>\nmemory=<%= node['memory']['total'] %>\ncpus=<%= node['cpu']['total'] %>\nshells=<%= node['shells'].length %>\n",
        )
        .recipe(
            "facts",
            "default",
            r#"resources:
  - type: template
    name: "{root}/facts"
    source: facts.erb
"#,
        );
    repo
}

fn skillet_ohai(path: &str) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skillet"))
        .args(["ohai", path])
        .output()
        .expect("runs");
    let values: Value = serde_json::from_slice(&out.stdout).expect("json");
    values[0].clone()
}

#[test]
fn templates_read_full_automatic_attributes() {
    let repo = facts_repo();
    repo.solo(&["-o", "recipe[facts]"]).ok();
    let shells = skillet_ohai("shells").as_array().map_or(0, Vec::len);
    let expected = format!(
        "platform={}\nmemory={}\ncpus={}\nshells={shells}\n",
        skillet_ohai("platform").as_str().unwrap_or_default(),
        skillet_ohai("memory/total").as_str().unwrap_or_default(),
        skillet_ohai("cpu/total"),
    );
    assert_eq!(repo.read_host("facts").as_deref(), Some(expected.as_str()));
}

/// `--minimal-ohai` gathers Chef's minimal set whatever the cookbooks read; without it a run
/// gathers the groups its cookbooks read, which for a cookbook reading nothing is that set too.
#[test]
fn minimal_ohai_saves_only_the_minimal_set() {
    let repo = Repo::new();
    repo.cookbook("empty", "1.0.0")
        .recipe("empty", "default", "resources: []\n")
        .write("node.json", r#"{"run_list": ["recipe[empty]"]}"#);
    repo.solo(&["-j", "node.json", "--minimal-ohai"]).ok();
    let saved = std::fs::read_to_string(repo.path().join("nodes/test-node.json")).expect("saved");
    let node: Value = serde_json::from_str(&saved).expect("json");
    let automatic = &node["automatic"];
    assert!(automatic["platform"].is_string(), "{automatic}");
    assert!(automatic["ohai_time"].is_number(), "{automatic}");
    assert!(automatic.get("memory").is_none(), "{automatic}");
    assert!(automatic.get("network").is_none(), "{automatic}");

    repo.solo(&["-j", "node.json"]).ok();
    let saved = std::fs::read_to_string(repo.path().join("nodes/test-node.json")).expect("saved");
    let node: Value = serde_json::from_str(&saved).expect("json");
    assert!(node["automatic"]["platform"].is_string());
    assert!(
        node["automatic"].get("memory").is_none(),
        "{}",
        node["automatic"]
    );

    // A template that reads memory makes the run gather it.
    repo.write(
        "cookbooks/empty/templates/default/mem.erb",
        "<%= node['memory']['total'] %>\n",
    )
    .recipe(
        "empty",
        "default",
        "resources:\n  - type: template\n    name: \"{root}/mem\"\n    source: mem.erb\n",
    );
    repo.solo(&["-j", "node.json"]).ok();
    let saved = std::fs::read_to_string(repo.path().join("nodes/test-node.json")).expect("saved");
    let node: Value = serde_json::from_str(&saved).expect("json");
    assert!(node["automatic"]["memory"]["total"].is_string());
    assert!(node["automatic"].get("block_device").is_none());
}
