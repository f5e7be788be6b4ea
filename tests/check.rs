//! `skillet check`: compiles everything, reports every problem, touches nothing.

mod common;

use common::Repo;

fn good_repo() -> Repo {
    let repo = Repo::new();
    repo.cookbook("base", "1.0.0")
        .write(
            "cookbooks/base/attributes/default.rb",
            "default['base']['x'] = 1\n",
        )
        .recipe(
            "base",
            "default",
            "resources:\n  - type: file\n    name: \"{root}/marker\"\n    content: x\n",
        )
        .recipe(
            "base",
            "extra",
            "resources:\n  - type: log\n    name: hello\n",
        )
        .write(
            "roles/web.json",
            r#"{"name": "web", "run_list": ["recipe[base]"]}"#,
        )
        .write("environments/prod.json", r#"{"name": "prod"}"#)
        .write("data_bags/users/alice.json", r#"{"id": "alice"}"#);
    repo
}

#[test]
fn a_good_repository_checks_clean_and_nothing_is_converged() {
    let repo = good_repo();
    let run = repo.run(&["check", "-c", "solo.json"]);
    run.ok()
        .shows("ok: 1 cookbooks (2 recipes), 1 roles, 1 environments, 1 data bag items");
    assert!(repo.read_host("marker").is_none());
}

#[test]
fn every_problem_is_reported_at_once() {
    let repo = good_repo();
    repo.write(
        "roles/bad.json",
        "{\"name\": \"bad\",\n  \"run_list\": 7}\n",
    )
    .write("environments/prod.json", "{\"name\": \"production\"}")
    .write("data_bags/users/bob.json", r#"{"id": "robert"}"#)
    .recipe("base", "extra", "resources:\n  - type: nope\n    name: x\n");
    let run = repo.run(&["check", "-c", "solo.json"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("roles/bad.json")
        .shows("environments/prod.json")
        .shows("data_bags/users/bob.json")
        .shows("recipes/extra.yml:2")
        .shows("4 problem(s) found");
}

#[test]
fn the_problems_are_grouped_by_reason() {
    let repo = Repo::new();
    for (name, recipe) in [
        ("one", "ruby_block 'a' do\n  block { 1 }\nend\n"),
        ("two", "log 'x'\nruby_block 'b' do\n  block { 2 }\nend\n"),
        ("three", "log 'fine'\n"),
        ("four", "id = shell_out('id')\n"),
    ] {
        repo.cookbook(name, "1.0.0")
            .write(&format!("cookbooks/{name}/recipes/default.rb"), recipe);
    }
    let run = repo.run(&["check", "-c", "solo.json"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("1 of 4 cookbooks compile")
        .shows("Reasons, most frequent first:\n  2 x `ruby_block` runs arbitrary Ruby")
        .shows("one/recipes/default.rb:1:1, ")
        .shows("two/recipes/default.rb:2:1\n")
        .shows("  1 x `shell_out` runs a command while the recipe compiles")
        .shows("3 problem(s) found");
}
