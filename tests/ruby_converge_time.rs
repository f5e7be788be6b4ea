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

#[test]
fn helpers_written_as_methods_are_refused_clearly() {
    let repo = app_repo();
    put(
        &repo,
        "cookbooks/app/recipes/default.rb",
        "template '/tmp/never' do\n  source 'part.erb'\n  helpers do\n  end\nend\n",
    );
    let run = repo.solo(&["-o", "recipe[app]"]);
    assert_ne!(run.code(), 0, "{}", run.all());
    run.shows("default.rb:3:3").shows("helper(:name)");
}
