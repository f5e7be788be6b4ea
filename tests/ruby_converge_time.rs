//! Ruby cookbooks whose values are found at converge time: template partials and helpers,
//! `lazy` properties, and `search` over the repository's nodes, roles and data bags — run
//! through the binary as an operator runs them.

mod common;

use common::Repo;

/// Writes `text` with `{root}` replaced by the repo's managed root.
fn put(repo: &Repo, rel: &str, text: &str) {
    let root = repo.root().display().to_string();
    repo.write(rel, &text.replace("{root}", &root));
}

const APP_RB: &str = r##"base = node['app']['root']

file "#{base}/version" do
  content "2.0\n"
end

template "#{base}/app.conf" do
  source 'app.conf.erb'
  variables(
    name: 'app',
    version: lazy { ::File.read("#{base}/version").strip },
    port: node['app']['port']
  )
  helper(:upper) { |s| s.upcase }
  helper(:listen) { "listen #{@port}" }
end

file "#{base}/lazy" do
  content lazy { "port #{node['app']['port']} from #{::File.read("#{base}/version").strip}\n" }
  mode lazy { '0600' }
end
"##;

const APP_ERB: &str = "\
<%= upper(@name) %> <%= @version %>
<%= listen %>
<%= render 'part.erb' %>
<%= render 'shared.erb', cookbook: 'common', variables: { who: @name } %>
";

fn app_repo() -> Repo {
    let repo = Repo::new();
    repo.cookbook("app", "1.0.0").cookbook("common", "1.0.0");
    put(
        &repo,
        "cookbooks/app/attributes/default.rb",
        "default['app']['root'] = '{root}'\ndefault['app']['port'] = 8080\n",
    );
    put(&repo, "cookbooks/app/recipes/default.rb", APP_RB);
    put(
        &repo,
        "cookbooks/app/templates/default/app.conf.erb",
        APP_ERB,
    );
    put(
        &repo,
        "cookbooks/app/templates/default/part.erb",
        "part <%= @port %>",
    );
    put(
        &repo,
        "cookbooks/common/templates/default/shared.erb",
        "shared <%= @who %> <%= @port.inspect %>",
    );
    repo
}

#[test]
fn partials_helpers_and_lazy_values_converge_then_change_nothing() {
    let repo = app_repo();
    repo.solo(&["-o", "recipe[app]"]).ok().updated(3, 3);
    assert_eq!(
        repo.read_host("app.conf").as_deref(),
        Some("APP 2.0\nlisten 8080\npart 8080\nshared app nil\n")
    );
    assert_eq!(
        repo.read_host("lazy").as_deref(),
        Some("port 8080 from 2.0\n")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(repo.root().join("lazy"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    repo.solo(&["-o", "recipe[app]"]).ok().updated(0, 3);
}

#[test]
fn a_missing_partial_stops_the_run_before_the_host_is_touched() {
    let repo = app_repo();
    put(
        &repo,
        "cookbooks/app/templates/default/app.conf.erb",
        "<%= @name %>\n<%= render 'nowhere.erb' %>\n",
    );
    let run = repo.solo(&["-o", "recipe[app]"]);
    assert_ne!(run.code(), 0, "{}", run.all());
    run.shows("app.conf.erb:2:5").shows("nowhere.erb");
    assert!(repo.read_host("version").is_none(), "the host was touched");
}

#[test]
fn a_lazy_value_of_the_wrong_type_fails_at_its_block() {
    let repo = app_repo();
    put(
        &repo,
        "cookbooks/app/recipes/default.rb",
        "file \"#{node['app']['root']}/x\" do\n  content 'x'\n  mode lazy { 'rwx' }\nend\n",
    );
    let run = repo.solo(&["-o", "recipe[app]"]);
    assert_ne!(run.code(), 0, "{}", run.all());
    run.shows("default.rb:3:8");
    assert!(repo.read_host("x").is_none());
}

const METHODS_RB: &str = r##"template "#{node['app']['root']}/methods.conf" do
  source 'methods.erb'
  variables(port: 81)
  helpers do
    def doubled(x)
      x * 2
    end

    def port_line
      "port #{@port}"
    end
  end
  helpers(Site::Helpers)
end
"##;

const HELPERS_LIBRARY: &str = "\
module Site
  module Helpers
    extend self

    def shout(s)
      s.upcase + '!'
    end
  end
end
";

#[test]
fn helpers_defined_with_def_and_library_modules_are_template_methods() {
    let repo = app_repo();
    put(&repo, "cookbooks/app/recipes/default.rb", METHODS_RB);
    put(&repo, "cookbooks/app/libraries/helpers.rb", HELPERS_LIBRARY);
    put(
        &repo,
        "cookbooks/app/templates/default/methods.erb",
        "<%= doubled(21) %> <%= port_line %> <%= shout('hi') %>\n",
    );
    repo.solo(&["-o", "recipe[app]"]).ok().updated(1, 1);
    assert_eq!(
        repo.read_host("methods.conf").as_deref(),
        Some("42 port 81 HI!\n")
    );
    repo.solo(&["-o", "recipe[app]"]).ok().updated(0, 1);
}

#[test]
fn library_code_other_than_helper_modules_is_refused_at_its_place() {
    let repo = app_repo();
    put(&repo, "cookbooks/app/recipes/default.rb", METHODS_RB);
    put(
        &repo,
        "cookbooks/app/libraries/helpers.rb",
        &format!("{HELPERS_LIBRARY}\nclass Chef::Recipe\nend\n"),
    );
    let run = repo.solo(&["-o", "recipe[app]"]);
    assert_ne!(run.code(), 0, "{}", run.all());
    run.shows("libraries/helpers.rb:11:1")
        .shows("class definition");

    // `def` elsewhere in a recipe is a method of the recipe, as in Chef.
    put(
        &repo,
        "cookbooks/app/recipes/default.rb",
        "def port(base)\n  base + 1\nend\nfile \"#{node['app']['root']}/port.txt\" do\n  content port(80).to_s\nend\n",
    );
    repo.solo(&["-o", "recipe[app]"]).ok();
    assert_eq!(repo.read_host("port.txt").as_deref(), Some("81"));
}

const SEARCH_RB: &str = r##"base = node['app']['root']

web = search(:node, 'role:web AND chef_environment:prod')
ips = web.map { |n| n['ipaddress'] }.sort
names = []
search(:node, 'role:web') { |n| names << n.name }
admins = search(:users, 'groups:admin', filter_result: { 'login' => ['id'], 'shell' => ['shell'] })
roles = search(:role, 'name:web*').map(&:name)
second = search(:node, 'chef_environment:prod', rows: 1, start: 1).map { |n| n.name }

template "#{base}/hosts.conf" do
  source 'hosts.conf.erb'
  variables(ips: ips, names: names, admins: admins, roles: roles, second: second)
end
"##;

const HOSTS_ERB: &str = "\
<% @ips.each do |ip| -%>
server <%= ip %>
<% end -%>
names <%= @names.join(',') %>
<% @admins.each do |a| -%>
admin <%= a['login'] %> <%= a['shell'] %>
<% end -%>
roles <%= @roles.join(',') %>
second <%= @second.join(',') %>
";

fn saved_node(repo: &Repo, name: &str, env: &str, role: &str, ip: &str) {
    repo.write(
        &format!("nodes/{name}.json"),
        &format!(
            r#"{{"name": "{name}", "chef_environment": "{env}", "run_list": ["role[{role}]"],
                "automatic": {{"ipaddress": "{ip}"}}}}"#
        ),
    );
}

fn role(repo: &Repo, name: &str) {
    repo.write(
        &format!("roles/{name}.json"),
        &format!(
            r#"{{"name": "{name}", "json_class": "Chef::Role", "chef_type": "role",
                "run_list": [], "default_attributes": {{}}, "override_attributes": {{}}}}"#
        ),
    );
}

fn search_repo() -> Repo {
    let repo = app_repo();
    put(&repo, "cookbooks/app/recipes/default.rb", SEARCH_RB);
    put(
        &repo,
        "cookbooks/app/templates/default/hosts.conf.erb",
        HOSTS_ERB,
    );
    saved_node(&repo, "web1", "prod", "web", "10.0.0.1");
    saved_node(&repo, "web2", "prod", "web", "10.0.0.2");
    saved_node(&repo, "web3", "staging", "web", "10.0.0.3");
    saved_node(&repo, "db1", "prod", "db", "10.0.1.1");
    for name in ["web", "webapp", "db"] {
        role(&repo, name);
    }
    repo.write(
        "data_bags/users/alice.json",
        r#"{"id": "alice", "groups": ["admin"], "shell": "/bin/zsh"}"#,
    );
    repo.write(
        "data_bags/users/bob.json",
        r#"{"id": "bob", "groups": ["dev"], "shell": "/bin/bash"}"#,
    );
    repo
}

#[test]
fn search_over_saved_nodes_roles_and_a_data_bag_feeds_a_template() {
    let repo = search_repo();
    repo.solo(&["-o", "recipe[app]"]).ok().updated(1, 1);
    assert_eq!(
        repo.read_host("hosts.conf").as_deref(),
        Some(
            "server 10.0.0.1\nserver 10.0.0.2\nnames web1,web2,web3\nadmin alice /bin/zsh\nroles web,webapp\nsecond web1\n"
        )
    );
    repo.solo(&["-o", "recipe[app]"]).ok().updated(0, 1);
}

#[test]
fn a_bad_query_or_a_missing_index_stops_the_run_at_its_line() {
    let repo = search_repo();
    put(
        &repo,
        "cookbooks/app/recipes/default.rb",
        "file \"#{node['app']['root']}/x\"\nsearch(:node, 'role:(web')\n",
    );
    let run = repo.solo(&["-o", "recipe[app]"]);
    assert_ne!(run.code(), 0, "{}", run.all());
    run.shows("default.rb:2:1")
        .shows("invalid search query")
        .shows("never closed");
    assert!(repo.read_host("x").is_none());

    put(
        &repo,
        "cookbooks/app/recipes/default.rb",
        "\nsearch(:nothing_here, '*:*')\n",
    );
    let run = repo.solo(&["-o", "recipe[app]"]);
    assert_ne!(run.code(), 0, "{}", run.all());
    run.shows("default.rb:2:1")
        .shows("no data bag `nothing_here`");
}

#[test]
fn a_lazy_value_used_inside_another_value_or_without_a_block_is_refused() {
    let repo = app_repo();
    for (recipe, wanted) in [
        (
            "file \"#{node['app']['root']}/x\" do\n  content \"v=#{lazy { 1 }}\"\nend\n",
            "default.rb:2:3",
        ),
        (
            "file \"#{node['app']['root']}/x\" do\n  content 'x'\n  mode lazy\nend\n",
            "default.rb:3:8",
        ),
        (
            "file \"#{node['app']['root']}/x\" do\n  content lazy { include_recipe 'app::other' }\nend\n",
            "default.rb:2:18",
        ),
    ] {
        put(&repo, "cookbooks/app/recipes/default.rb", recipe);
        let run = repo.solo(&["-o", "recipe[app]"]);
        assert_ne!(run.code(), 0, "{}", run.all());
        run.shows(wanted);
        assert!(repo.read_host("x").is_none(), "{recipe}");
    }
}
