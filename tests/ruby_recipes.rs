//! Cookbooks whose recipes are written in Ruby, run through the binary as an operator runs
//! them, and compiled beside the same cookbook written in YAML.

mod common;

use common::Repo;
use serde_json::{json, Value};
use skillet::compile::{compile, FileRecipeLoader, RepoSources};
use skillet::node::{expand, Environment, Node, RunList};
use skillet::repo::specificity::HostFacts;
use skillet::repo::{Config, Repository};
use std::path::Path;

const METADATA: &str = "name 'site'\nversion '1.2.0'\ndescription 'A small site'\n";

const ATTRIBUTES: &str = "\
default['site']['root'] = '{root}'
default['site']['port'] = 8080
default['site']['dirs'] = %w(conf logs data)
";

const TEMPLATE: &str = "\
# <%= @server_name %>
listen <%= @port %>
<% @dirs.each do |d| -%>
dir <%= d %>
<% end -%>
";

/// The site's main recipe: a loop of directories, a node write read by the included recipe's
/// template, an include between declarations, guards written both ways.
const DEFAULT_RB: &str = r##"# The site: its directories, configuration and hooks.
base = node['site']['root']

directory base do
  mode '0755'
end

node['site']['dirs'].each do |d|
  directory ::File.join(base, d) do
    mode d == 'data' ? '0700' : '0755'
  end
end

node.default['site']['server_name'] = "site-#{node['site']['port']}"

include_recipe 'site::config'

link "#{base}/current" do
  to "#{base}/conf"
end

cookbook_file "#{base}/conf/motd" do
  source 'motd'
  mode '0644'
end

execute 'restart site' do
  command "echo restarted >> #{base}/restarts"
  action :nothing
end

execute 'seed data' do
  command "touch #{base}/data/seeded"
  not_if { ::File.exist?("#{base}/data/seeded") }
end

execute 'init db' do
  command "echo init >> #{base}/data/db"
  not_if "test -s #{base}/data/db"
end
"##;

const CONFIG_RB: &str = r##"conf = "#{node['site']['root']}/conf/site.conf"

template conf do
  source 'site.conf.erb'
  mode '0640'
  variables(
    port: node['site']['port'],
    server_name: node['site']['server_name'],
    dirs: node['site']['dirs']
  )
  notifies :run, 'execute[restart site]', :delayed
  notifies :run, 'execute[reload config]', :immediately
end

execute 'reload config' do
  command "echo reloaded >> #{node['site']['root']}/reloads"
  action :nothing
end
"##;

/// The same cookbook in Chef's YAML recipe format: includes come after a recipe's resources,
/// so the part after `include_recipe` moves to a recipe of its own.
const DEFAULT_YML: &str = r##"resources:
  - {type: directory, name: "{root}", mode: "0755"}
  - {type: directory, name: "{root}/conf", mode: "0755"}
  - {type: directory, name: "{root}/logs", mode: "0755"}
  - {type: directory, name: "{root}/data", mode: "0700"}
include_recipes:
  - site::config
  - site::rest
"##;

const CONFIG_YML: &str = r##"resources:
  - type: template
    name: "{root}/conf/site.conf"
    source: site.conf.erb
    mode: "0640"
    variables: {port: 8080, server_name: site-8080, dirs: [conf, logs, data]}
    notifies:
      - {action: run, resource: "execute[restart site]", timing: delayed}
      - {action: run, resource: "execute[reload config]", timing: immediately}
  - type: execute
    name: reload config
    command: "echo reloaded >> {root}/reloads"
    action: nothing
"##;

const REST_YML: &str = r##"resources:
  - {type: link, name: "{root}/current", to: "{root}/conf"}
  - {type: cookbook_file, name: "{root}/conf/motd", source: motd, mode: "0644"}
  - type: execute
    name: restart site
    command: "echo restarted >> {root}/restarts"
    action: nothing
  - type: execute
    name: seed data
    command: "touch {root}/data/seeded"
    not_if: "test -e {root}/data/seeded"
  - type: execute
    name: init db
    command: "echo init >> {root}/data/db"
    not_if: "test -s {root}/data/db"
"##;

/// Writes `text` with `{root}` replaced by the repo's managed root.
fn put(repo: &Repo, rel: &str, text: &str) {
    let root = repo.root().display().to_string();
    repo.write(rel, &text.replace("{root}", &root));
}

fn common_files(repo: &Repo) {
    put(repo, "cookbooks/site/metadata.rb", METADATA);
    put(repo, "cookbooks/site/attributes/default.rb", ATTRIBUTES);
    put(
        repo,
        "cookbooks/site/templates/default/site.conf.erb",
        TEMPLATE,
    );
    put(repo, "cookbooks/site/files/default/motd", "welcome\n");
}

fn ruby_repo() -> Repo {
    let repo = Repo::new();
    common_files(&repo);
    put(&repo, "cookbooks/site/recipes/default.rb", DEFAULT_RB);
    put(&repo, "cookbooks/site/recipes/config.rb", CONFIG_RB);
    repo
}

fn yaml_repo() -> Repo {
    let repo = Repo::new();
    common_files(&repo);
    put(&repo, "cookbooks/site/recipes/default.yml", DEFAULT_YML);
    put(&repo, "cookbooks/site/recipes/config.yml", CONFIG_YML);
    put(&repo, "cookbooks/site/recipes/rest.yml", REST_YML);
    repo
}

#[test]
fn a_ruby_cookbook_converges_then_changes_nothing() {
    let repo = ruby_repo();
    let first = repo.solo(&["-o", "recipe[site]"]);
    first
        .ok()
        .shows("Recipe: site::default")
        .shows("Recipe: site::config")
        .shows("* execute[reload config] action run")
        .shows("* execute[restart site] action run");
    assert_eq!(
        repo.read_host("conf/site.conf").as_deref(),
        Some("# site-8080\nlisten 8080\ndir conf\ndir logs\ndir data\n")
    );
    assert_eq!(repo.read_host("conf/motd").as_deref(), Some("welcome\n"));
    assert_eq!(repo.read_host("reloads").as_deref(), Some("reloaded\n"));
    assert_eq!(repo.read_host("restarts").as_deref(), Some("restarted\n"));
    assert_eq!(repo.read_host("data/db").as_deref(), Some("init\n"));
    assert!(repo.root().join("data/seeded").exists());
    assert!(repo.root().join("current").is_symlink());

    let second = repo.solo(&["-o", "recipe[site]"]);
    second
        .ok()
        .updated(0, 11)
        .shows("* execute[seed data] action run (skipped due to not_if)")
        .shows("* execute[init db] action run (skipped due to not_if)");
    assert_eq!(repo.read_host("reloads").as_deref(), Some("reloaded\n"));
    assert_eq!(repo.read_host("restarts").as_deref(), Some("restarted\n"));
}

/// What identifies a compiled resource for comparison: id, actions, notifications, guards.
fn collection_of(repo: &Repo) -> Vec<Value> {
    let mut config = Config::load(None).expect("default config");
    config.cookbook_path = vec![repo.path().join("cookbooks")];
    config.data_bag_path = repo.path().join("data_bags");
    let repository = Repository::open(&config).expect("repository");
    let run_list = RunList::from_strings(&["recipe[site]".to_string()]).expect("run list");
    let expansion = expand(&run_list, "_default", &repository).expect("expansion");
    let mut node = Node::new("compare");
    node.apply_expansion(&expansion);
    let sources = RepoSources::new(&repository, HostFacts::default());
    let compiled = compile(
        &repository,
        &mut node,
        &expansion,
        &Environment::default_env(),
        &FileRecipeLoader,
        &sources,
    )
    .unwrap_or_else(|e| panic!("compile {}: {e}", repo.path().display()));
    let root = repo.root().display().to_string();
    let local = |s: String| s.replace(&root, "{root}");
    compiled
        .collection
        .iter()
        .map(|r| {
            let common = r.common();
            json!({
                "id": local(r.id().to_string()),
                "actions": common.actions.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                "notifies": common.notifies.iter().map(|n| json!([n.action.as_str(), local(n.target.to_string()), format!("{:?}", n.timing)])).collect::<Vec<_>>(),
                "subscribes": common.subscribes.len(),
                "guards": common.guards.iter().map(|g| g.kind.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect()
}

#[test]
fn the_ruby_and_yaml_cookbooks_compile_to_the_same_collection() {
    let ruby = collection_of(&ruby_repo());
    let yaml = collection_of(&yaml_repo());
    assert_eq!(ruby.len(), 11, "{ruby:#?}");
    assert_eq!(ruby, yaml);
    assert_eq!(ruby[4]["id"], "template[{root}/conf/site.conf]");
    assert_eq!(
        ruby[5]["id"], "execute[reload config]",
        "the include sits in place"
    );
}

/// A one-recipe cookbook whose default recipe is `source`.
fn broken(source: &str) -> Repo {
    let repo = Repo::new();
    repo.cookbook("bad", "0.1.0");
    put(&repo, "cookbooks/bad/recipes/default.rb", source);
    repo
}

fn assert_fails_at(repo: &Repo, place: &str, reason: &str) {
    let run = repo.solo(&["-o", "recipe[bad]"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    let file = Path::new("cookbooks/bad/recipes/default.rb");
    let wanted = format!("{}:{place}", repo.path().join(file).display());
    run.shows(&wanted).shows(reason);
    assert!(!repo.root().join("x").exists(), "nothing converged");
}

#[test]
fn a_syntax_error_stops_the_run_at_its_line() {
    let repo = broken("file '{root}/x' do\n  content 'a'\n  mode '0644'\n\nlog 'after'\n");
    assert_fails_at(&repo, "5:", "syntax error");
}

#[test]
fn an_unsupported_construct_is_refused_with_the_reason() {
    let repo = broken(
        "file '{root}/x'\n\nruby_block 'tweak' do\n  block { File.write('/tmp/y', 'z') }\nend\n",
    );
    assert_fails_at(
        &repo,
        "3:1",
        "`ruby_block` runs arbitrary Ruby at converge time, which skillet does not execute",
    );
}

#[test]
fn a_bad_notification_timing_is_an_argument_error_at_its_line() {
    let repo = broken(
        "file '{root}/x' do\n  notifies :run, 'execute[y]', :eventually\nend\nexecute 'y'\n",
    );
    assert_fails_at(
        &repo,
        "2:3",
        "timing must be :delayed, :immediately, :immediate or :before, got :eventually",
    );
}

#[test]
fn skillet_check_reports_ruby_recipe_problems() {
    let repo = ruby_repo();
    repo.run(&["check", "-c", "solo.json"]).ok();
    put(
        &repo,
        "cookbooks/site/recipes/broken.rb",
        "execute 'x' do\n  command 'true'\n  only_if 'true', colour: 'red'\nend\n",
    );
    let run = repo.run(&["check", "-c", "solo.json"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("broken.rb:3:3")
        .shows("unknown guard option `colour`");
}

/// Guards and `lazy` values run at converge time and may still read data bags and search,
/// as they would under Chef.
#[test]
fn guards_and_lazy_values_read_data_bags_and_search_at_converge_time() {
    let repo = Repo::new();
    put(&repo, "cookbooks/site/metadata.rb", METADATA);
    repo.write(
        "data_bags/flags/web.json",
        r#"{"id": "web", "enabled": true, "colour": "green"}"#,
    );
    repo.write(
        "roles/web.json",
        r#"{"name": "web", "run_list": ["recipe[site]"]}"#,
    );
    put(
        &repo,
        "cookbooks/site/recipes/default.rb",
        r##"file '{root}/enabled' do
  content 'on'
  only_if { data_bag_item('flags', 'web')['enabled'] }
end

file '{root}/skipped' do
  content 'off'
  not_if { data_bag('flags').include?('web') }
end

file '{root}/colour' do
  content lazy { "#{data_bag_item('flags', 'web')['colour']} #{search(:role, 'name:web').map { |r| r['name'] }.join(',')}\n" }
end
"##,
    );
    let run = repo.solo(&["-o", "recipe[site]"]);
    assert_eq!(run.code(), 0, "{}", run.all());
    let root = repo.root();
    assert_eq!(std::fs::read_to_string(root.join("enabled")).unwrap(), "on");
    assert!(!root.join("skipped").exists(), "{}", run.all());
    assert_eq!(
        std::fs::read_to_string(root.join("colour")).unwrap(),
        "green web\n"
    );
    repo.solo(&["-o", "recipe[site]"])
        .ok()
        .shows("0/3 resources updated");

    // A bag that is not there fails the run when the guard is tested, naming the bag.
    put(
        &repo,
        "cookbooks/site/recipes/default.rb",
        "file '{root}/x' do\n  only_if { data_bag_item('nope', 'web') }\nend\n",
    );
    let run = repo.solo(&["-o", "recipe[site]"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("nope");
}
