//! Bad input stops the run at compile time with file:line and what was expected, exit 1, and
//! leaves the host untouched. No input makes the binary panic.

mod common;

use common::Repo;

/// A repo whose recipe would create `{root}/marker`; each case breaks one file.
fn repo_with_marker() -> Repo {
    let repo = Repo::new();
    repo.cookbook("cb", "1.0.0").recipe(
        "cb",
        "default",
        r#"resources:
  - type: file
    name: "{root}/marker"
    content: "x"
"#,
    );
    repo.write(
        "roles/r.json",
        r#"{"name": "r", "run_list": ["recipe[cb]"]}"#,
    );
    repo.write("node.json", r#"{"run_list": ["role[r]"]}"#);
    repo
}

fn assert_refused(repo: &Repo, args: &[&str], wants: &[&str]) {
    let run = repo.solo(args);
    let all = run.all();
    assert_eq!(run.code(), 1, "expected exit 1:\n{all}");
    assert!(!all.contains("panicked"), "{all}");
    for w in wants {
        assert!(all.contains(w), "expected `{w}` in:\n{all}");
    }
    assert!(
        !repo.root().join("marker").exists(),
        "the host was touched:\n{all}"
    );
}

#[test]
fn malformed_recipe_yaml() {
    let repo = repo_with_marker();
    repo.write(
        "cookbooks/cb/recipes/default.yml",
        "resources:\n  - type: file\n    name: [unclosed\n",
    );
    assert_refused(&repo, &["-o", "cb"], &["recipes/default.yml:"]);
}

#[test]
fn malformed_role_json() {
    let repo = repo_with_marker();
    repo.write(
        "roles/r.json",
        "{\n  \"name\": \"r\",\n  \"run_list\": [\"recipe[cb]\"\n}\n",
    );
    assert_refused(&repo, &["-o", "role[r]"], &["roles/r.json:4"]);
}

#[test]
fn role_name_differs_from_file() {
    let repo = repo_with_marker();
    repo.write(
        "roles/r.json",
        r#"{"name": "other", "run_list": ["recipe[cb]"]}"#,
    );
    assert_refused(&repo, &["-o", "role[r]"], &["roles/r.json", "other"]);
}

#[test]
fn unknown_resource_type() {
    let repo = repo_with_marker();
    repo.recipe(
        "cb",
        "default",
        "resources:\n  - type: file\n    name: \"{root}/marker\"\n  - type: flie\n    name: x\n",
    );
    assert_refused(&repo, &["-o", "cb"], &["default.yml:4", "flie"]);
}

#[test]
fn unknown_property() {
    let repo = repo_with_marker();
    repo.recipe(
        "cb",
        "default",
        "resources:\n  - type: file\n    name: \"{root}/marker\"\n    contnet: x\n",
    );
    assert_refused(&repo, &["-o", "cb"], &["default.yml:4", "contnet"]);
}

#[test]
fn missing_template() {
    let repo = repo_with_marker();
    repo.recipe(
        "cb",
        "default",
        "resources:\n  - type: file\n    name: \"{root}/marker\"\n  - type: template\n    name: \"{root}/t\"\n    source: nope.erb\n",
    );
    assert_refused(&repo, &["-o", "cb"], &["default.yml:", "nope.erb"]);
}

#[test]
fn notification_to_a_missing_resource() {
    let repo = repo_with_marker();
    repo.recipe(
        "cb",
        "default",
        "resources:\n  - type: file\n    name: \"{root}/marker\"\n    notifies: [{action: restart, resource: \"service[ghost]\"}]\n",
    );
    assert_refused(&repo, &["-o", "cb"], &["service[ghost]"]);
}

#[test]
fn missing_cookbook_dependency() {
    let repo = repo_with_marker();
    repo.write(
        "cookbooks/cb/metadata.json",
        r#"{"name": "cb", "version": "1.0.0", "dependencies": {"ghost": ">= 0.0.0"}}"#,
    );
    assert_refused(
        &repo,
        &["-o", "cb"],
        &["cookbooks/cb/metadata.json", "ghost"],
    );
}

#[test]
fn missing_roles_are_all_reported() {
    let repo = repo_with_marker();
    assert_refused(
        &repo,
        &["-o", "role[ghost1],role[ghost2]"],
        &["The expanded run list includes nonexistent roles: ghost1, ghost2"],
    );
}

/// A run-list item that names nothing points at where the run list names it: the node file's
/// element, a JSON role's element, a Ruby role's `run_list` call.
#[test]
fn a_run_list_item_naming_nothing_points_at_the_item() {
    let repo = repo_with_marker();
    repo.write(
        "node.json",
        "{\n  \"run_list\": [\n    \"recipe[cb]\",\n    \"recipe[ghost]\"\n  ]\n}\n",
    );
    assert_refused(
        &repo,
        &["-j", "node.json"],
        &["CookbookNotFound", "node.json:4:5", "cookbook `ghost`"],
    );
    repo.write("node.json", "{\"run_list\": [\"recipe[cb::nope]\"]}");
    assert_refused(
        &repo,
        &["-j", "node.json"],
        &["RecipeNotFound", "node.json:1:15"],
    );
    repo.write("node.json", "{\"run_list\": [\"recipe[cb@2.0.0]\"]}");
    assert_refused(
        &repo,
        &["-j", "node.json"],
        &[
            "CookbookVersionSelectionError",
            "node.json:1:15",
            "version 2.0.0",
        ],
    );
    repo.write(
        "roles/r.json",
        "{\"name\": \"r\",\n \"run_list\": [\"recipe[cb]\", \"role[ghost]\"]}",
    );
    repo.write("node.json", r#"{"run_list": ["role[r]"]}"#);
    assert_refused(
        &repo,
        &["-j", "node.json"],
        &["MissingRole", "roles/r.json:2:29"],
    );
    std::fs::remove_file(repo.path().join("roles/r.json")).unwrap();
    repo.write(
        "roles/r.rb",
        "name 'r'\nrun_list 'recipe[cb]',\n  'recipe[ghost]'\n",
    );
    assert_refused(
        &repo,
        &["-j", "node.json"],
        &["CookbookNotFound", "roles/r.rb:2:1"],
    );
    // From the command line there is no file to point at; the message still names it.
    assert_refused(
        &repo,
        &["-o", "recipe[ghost]"],
        &["cookbook `ghost` not found"],
    );
}

#[test]
fn attribute_file_with_unsupported_ruby() {
    let repo = repo_with_marker();
    repo.write(
        "cookbooks/cb/attributes/default.rb",
        "default['a'] = 1\nwhile true do\nend\n",
    );
    assert_refused(&repo, &["-o", "cb"], &["attributes/default.rb:2"]);
}

#[test]
fn malformed_node_json() {
    let repo = repo_with_marker();
    repo.write("node.json", "{\"run_list\": [\"recipe[cb]\"],}");
    assert_refused(&repo, &["-j", "node.json"], &["node.json:1"]);
}

/// Garbage in every kind of file: the binary exits 1 with a message, never panics.
#[test]
fn garbage_in_every_file_kind_never_panics() {
    let garbage: &[&str] = &[
        "",
        "\0\u{1}\u{2}",
        "{",
        "[1, 2",
        "resources: 7",
        "resources:\n  - 7\n",
        "resources:\n  - type: []\n",
        "{\"name\": 5}",
        "def x(\n",
        "default['a'] = ",
        "<% if %>",
        "<%= @x.each do |y| %>",
        "\u{feff}---\n- - - -\n",
        "name 'x'\nversion 'banana'\n",
    ];
    let targets = [
        "cookbooks/cb/recipes/default.yml",
        "cookbooks/cb/metadata.json",
        "cookbooks/cb/attributes/default.rb",
        "roles/r.json",
        "solo.json",
        "node.json",
    ];
    for target in targets {
        for text in garbage {
            let repo = repo_with_marker();
            repo.write(target, text);
            let run = repo.solo(&["-j", "node.json", "-o", "role[r]"]);
            let all = run.all();
            assert!(!all.contains("panicked"), "{target} with {text:?}:\n{all}");
            assert!(
                run.code() == 0 || run.code() == 1,
                "{target}: code {}",
                run.code()
            );
        }
    }
    // A metadata.rb and a template with garbage too.
    for text in garbage {
        let repo = repo_with_marker();
        std::fs::remove_file(repo.path().join("cookbooks/cb/metadata.json")).expect("rm");
        repo.write("cookbooks/cb/metadata.rb", text);
        repo.write("cookbooks/cb/templates/default/t.erb", text);
        repo.recipe(
            "cb",
            "default",
            "resources:\n  - type: template\n    name: \"{root}/t\"\n    source: t.erb\n",
        );
        let run = repo.solo(&["-o", "role[r]"]);
        assert!(!run.all().contains("panicked"), "{text:?}:\n{}", run.all());
    }
}

#[test]
fn ruby_role_and_environment_errors_point_at_the_call() {
    let repo = repo_with_marker();
    std::fs::remove_file(repo.path().join("roles/r.json")).unwrap();
    repo.write(
        "roles/r.rb",
        "name 'r'\ndescription 'x'\ndefault_attributes 'a', 'b'\nrun_list 'recipe[cb]'\n",
    );
    assert_refused(
        &repo,
        &["-o", "role[r]"],
        &["roles/r.rb:3:1", "default_attributes"],
    );

    repo.write(
        "roles/r.rb",
        "name 'r'\nrun_list 'recipe[cb]'\nrecipes_for 'x'\n",
    );
    assert_refused(
        &repo,
        &["-o", "role[r]"],
        &[
            "roles/r.rb:3:1",
            "undefined method `recipes_for` in a role file",
        ],
    );

    repo.write("roles/r.rb", "name 'r'\nrun_list 'recipe[cb]'\n");
    repo.write(
        "environments/prod.rb",
        "name 'prod'\n\ncookbook 'cb', 'bogus'\n",
    );
    assert_refused(
        &repo,
        &["-o", "role[r]", "-E", "prod"],
        &["environments/prod.rb:3:1", "version constraint"],
    );
}
