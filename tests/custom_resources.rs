//! Reuse in Ruby cookbooks: a definition, a custom resource and an LWRP, converged through the
//! binary into a temp dir, re-converged with nothing to do, and refused with their file:line:col
//! when declared wrongly.

mod common;

use common::Repo;
use std::path::Path;

const METADATA: &str = "name 'web'\nversion '0.3.0'\n";

const ATTRIBUTES: &str = "default['web']['root'] = '{root}'\n";

/// A definition: a directory with a mode, expanded in place.
const SITE_DIR: &str = "\
define :site_dir, mode: '0755' do
  directory params[:name] do
    mode params[:mode]
  end
end
";

/// A custom resource: a site directory with files; one sub-resource notifies another.
const SITE: &str = r##"unified_mode true

property :root, String, name_property: true
property :port, Integer, default: 80
property :greeting, String, required: true
property :flavour, String, equal_to: %w(plain fancy), default: 'plain'

action :create do
  directory new_resource.root do
    mode '0755'
  end

  file port_file do
    content "#{port}\n"
    notifies :run, "execute[note port #{root}]", :immediately
  end

  execute "note port #{root}" do
    command "echo changed >> #{new_resource.root}/port.log"
    action :nothing
    not_if { ::File.exist?("#{new_resource.root}/quiet") || ::File.exist?("#{root}/hush") }
  end

  file "#{root}/greeting" do
    content "#{new_resource.greeting} (#{flavour})\n"
    notifies :run, 'execute[site changed]', :delayed
  end
end

action_class do
  def port_file
    ::File.join(new_resource.root, 'port')
  end
end

action :reload do
  execute "reload #{new_resource.name}" do
    command "echo reloaded >> #{new_resource.root}/reloads"
  end
end

action :remove do
  directory new_resource.root do
    recursive true
    action :delete
  end
end
"##;

/// An LWRP: the resource's attributes and actions, the provider's bodies.
const COUNTER_RESOURCE: &str = "\
actions :bump, :clear
default_action :bump

attribute :path, kind_of: String, name_attribute: true
attribute :line, kind_of: String, default: 'tick'
";

const COUNTER_PROVIDER: &str = r##"use_inline_resources

def whyrun_supported?
  true
end

action :bump do
  file new_resource.path do
    content "#{new_resource.line}\n"
  end
end

action :clear do
  file new_resource.path do
    action :delete
  end
end
"##;

const DEFAULT_RB: &str = r##"root = node['web']['root']

site_dir "#{root}/sites"

web_site "#{root}/sites/blog" do
  greeting 'hello'
  port 8080
end

file "#{root}/trigger" do
  content "pull\n"
  notifies :reload, "web_site[#{root}/sites/blog]", :delayed
end

web_counter "#{root}/count" do
  line 'one'
end

execute 'site changed' do
  command "echo changed >> #{root}/changes"
  action :nothing
end
"##;

/// Writes `text` with `{root}` (not Ruby's `#{root}`) replaced by the repo's managed root.
fn put(repo: &Repo, rel: &str, text: &str) {
    let root = repo.root().display().to_string();
    repo.write(rel, &text.replace("{root}", &root));
}

fn web_repo() -> Repo {
    let repo = Repo::new();
    put(&repo, "cookbooks/web/metadata.rb", METADATA);
    put(&repo, "cookbooks/web/attributes/default.rb", ATTRIBUTES);
    // Written as is: `#{root}` in these is Ruby.
    repo.write("cookbooks/web/definitions/site_dir.rb", SITE_DIR);
    repo.write("cookbooks/web/resources/site.rb", SITE);
    repo.write("cookbooks/web/resources/counter.rb", COUNTER_RESOURCE);
    repo.write("cookbooks/web/providers/counter.rb", COUNTER_PROVIDER);
    repo.write("cookbooks/web/recipes/default.rb", DEFAULT_RB);
    repo
}

#[test]
fn a_cookbook_with_a_definition_a_custom_resource_and_an_lwrp_converges_then_rests() {
    let repo = web_repo();
    let r = repo.root().display().to_string();
    let first = repo.solo(&["-o", "recipe[web]"]);
    first.ok();
    let out = first.stdout();
    // Sub-resources print one level deeper, with no recipe header; an updated custom
    // resource ends with Chef's indented empty line.
    let nested = format!(
        "  * web_site[{r}/sites/blog] action create\n    * directory[{r}/sites/blog] action create\n      - create new directory {r}/sites/blog\n"
    );
    assert!(out.contains(&nested), "{out}");
    let notified = format!(
        "    * execute[note port {r}/sites/blog] action run\n      - execute echo changed >> {r}/sites/blog/port.log\n    * execute[note port {r}/sites/blog] action nothing (skipped due to action :nothing)\n"
    );
    assert!(out.contains(&notified), "{out}");
    // A sub-resource's delayed notification to a resource around the custom resource runs
    // at the end of the custom resource's action, as in Chef's child run context.
    assert!(
        out.contains(&format!("    * execute[site changed] action run\n      - execute echo changed >> {r}/changes\n  \n  * file[{r}/trigger] action create\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  * web_counter[{r}/count] action bump\n    * file[{r}/count] action create\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  * web_site[{r}/sites/blog] action reload\n    * execute[reload {r}/sites/blog] action run\n"
        )),
        "{out}"
    );
    assert_eq!(out.matches("Recipe: ").count(), 1, "{out}");
    // Top-level: directory, site, trigger, counter, execute (5 resources); every action
    // execution counts, nested ones too: 1 + (1 + 6) + 1 + (1 + 1) + 1 + (1 + 1) = 14, all
    // but the two executes' :nothing updated.
    first.shows("Converging 5 resources").updated(12, 14);
    assert_eq!(repo.read_host("changes").as_deref(), Some("changed\n"));
    assert_eq!(repo.read_host("sites/blog/port").as_deref(), Some("8080\n"));
    assert_eq!(
        repo.read_host("sites/blog/greeting").as_deref(),
        Some("hello (plain)\n")
    );
    assert_eq!(
        repo.read_host("sites/blog/port.log").as_deref(),
        Some("changed\n")
    );
    assert_eq!(
        repo.read_host("sites/blog/reloads").as_deref(),
        Some("reloaded\n")
    );
    assert_eq!(repo.read_host("count").as_deref(), Some("one\n"));

    let second = repo.solo(&["-o", "recipe[web]"]);
    second.ok().updated(0, 10);
    let out = second.stdout();
    let rested = format!(
        "  * web_site[{r}/sites/blog] action create\n    * directory[{r}/sites/blog] action create (up to date)\n"
    );
    assert!(out.contains(&rested), "{out}");
    // With nothing updated under it, the custom resource's outcome goes on its own line.
    assert!(
        out.contains(&format!(
            "    * file[{r}/sites/blog/greeting] action create (up to date)\n     (up to date)\n"
        )),
        "{out}"
    );
    assert!(!out.contains("action reload"), "{out}");
    assert_eq!(
        repo.read_host("sites/blog/port.log").as_deref(),
        Some("changed\n")
    );
}

#[test]
fn a_sub_resource_runs_an_action_of_a_custom_resource_around_it() {
    let repo = web_repo();
    repo.write(
        "cookbooks/web/resources/site.rb",
        "property :root, String, name_property: true\n\naction :create do\n  file \"#{root}.conf\" do\n    content \"x\\n\"\n    notifies :bump, \"web_counter[#{::File.dirname(root)}/count]\", :immediately\n  end\nend\n",
    );
    put(
        &repo,
        RECIPE,
        "web_counter '{root}/count' do\n  line 'site changed'\n  action :nothing\nend\n\nweb_site '{root}/s'\n",
    );
    let r = repo.root().display().to_string();
    let first = repo.solo(&["-o", "recipe[web]"]);
    first.ok().updated(4, 5);
    let out = first.stdout();
    // The counter's :bump is compiled because a sub-resource asks for it, and runs inside the
    // site's action, its own resources one level deeper still.
    assert!(
        out.contains(&format!(
            "    * web_counter[{r}/count] action bump\n      * file[{r}/count] action create\n        - create new file {r}/count\n"
        )),
        "{out}"
    );
    assert_eq!(repo.read_host("count").as_deref(), Some("site changed\n"));
    repo.solo(&["-o", "recipe[web]"]).ok().updated(0, 3);
}

#[test]
fn custom_resources_nest_and_one_that_declares_itself_is_refused() {
    let repo = web_repo();
    repo.write(
        "cookbooks/web/resources/pair.rb",
        "property :dir, String, name_property: true\n\naction :create do\n  %w(a b).each do |side|\n    web_counter \"#{dir}/#{side}\" do\n      line side\n    end\n  end\nend\n",
    );
    put(&repo, RECIPE, "web_pair '{root}'\n");
    let r = repo.root().display().to_string();
    let run = repo.solo(&["-o", "recipe[web]"]);
    run.ok().updated(5, 5);
    assert!(
        run.stdout().contains(&format!(
            "  * web_pair[{r}] action create\n    * web_counter[{r}/a] action bump\n      * file[{r}/a] action create\n"
        )),
        "{}",
        run.stdout()
    );
    assert_eq!(repo.read_host("b").as_deref(), Some("b\n"));
    repo.solo(&["-o", "recipe[web]"]).ok().updated(0, 5);

    repo.write(
        "cookbooks/web/resources/pair.rb",
        "property :dir, String, name_property: true\n\naction :create do\n  web_pair \"#{dir}/x\"\nend\n",
    );
    let run = repo.solo(&["-o", "recipe[web]"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("resources/pair.rb:4:3")
        .shows("resources of type web_pair nest more than 20 deep");
}

#[test]
fn templates_in_an_action_come_from_the_cookbook_that_uses_the_resource() {
    let repo = web_repo();
    repo.write(
        "cookbooks/web/resources/page.rb",
        "property :path, String, name_property: true\n\naction :create do\n  template new_resource.path do\n    source 'page.erb'\n    variables(title: 'home')\n  end\n  template \"#{path}.own\" do\n    source 'page.erb'\n    cookbook 'web'\n    variables(title: 'own')\n  end\nend\n",
    );
    repo.write(
        "cookbooks/web/templates/default/page.erb",
        "web <%= @title %>\n",
    );
    repo.write(
        "cookbooks/app/metadata.rb",
        "name 'app'\nversion '1.0.0'\ndepends 'web'\n",
    );
    repo.write(
        "cookbooks/app/templates/default/page.erb",
        "app <%= @title %>\n",
    );
    put(
        &repo,
        "cookbooks/app/recipes/default.rb",
        "web_page '{root}/index'\n",
    );
    repo.solo(&["-o", "recipe[app]"]).ok().updated(3, 3);
    assert_eq!(repo.read_host("index").as_deref(), Some("app home\n"));
    assert_eq!(repo.read_host("index.own").as_deref(), Some("web own\n"));
}

#[test]
fn a_custom_resource_takes_guards_subscribes_and_ignore_failure() {
    let repo = web_repo();
    put(
        &repo,
        RECIPE,
        "web_counter '{root}/skipped' do\n  not_if 'true'\nend\n\nweb_counter '{root}/gone' do\n  action :nothing\n  subscribes :clear, 'file[{root}/trigger]', :immediately\nend\n\nfile '{root}/gone' do\n  content 'x'\nend\n\nfile '{root}/trigger' do\n  content 'go'\nend\n\nweb_counter '{root}/missing/dir/x' do\n  ignore_failure true\nend\n",
    );
    let r = repo.root().display().to_string();
    let run = repo.solo(&["-o", "recipe[web]"]);
    run.ok()
        .shows(&format!(
            "  * web_counter[{r}/skipped] action bump (skipped due to not_if)\n"
        ))
        .shows(&format!(
            "  * web_counter[{r}/gone] action clear\n    * file[{r}/gone] action delete\n"
        ));
    assert!(!repo.root().join("skipped").exists());
    assert!(!repo.root().join("gone").exists(), "{}", run.stdout());
    assert!(repo.root().join("trigger").exists());
}

#[test]
fn why_run_reports_what_the_custom_resource_would_do() {
    let repo = web_repo();
    let run = repo.solo(&["-o", "recipe[web]", "--why-run"]);
    run.ok();
    assert!(!repo.root().join("sites").exists());
    assert!(run.stdout().contains("      - Would create new directory"));
}

#[test]
fn every_formatter_counts_nested_actions() {
    let repo = web_repo();
    repo.solo(&["-o", "recipe[web]", "-F", "min"])
        .ok()
        .updated(12, 14);
    let run = repo.solo(&["-o", "recipe[web]", "-F", "json"]);
    run.ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).expect("a JSON report");
    let text = report.to_string();
    assert!(text.contains("web_site"), "{text}");
    assert!(text.contains("note port"), "{text}");
}

/// A cookbook whose recipe declares `web_site` as `declaration`.
fn declaring(declaration: &str) -> Repo {
    let repo = web_repo();
    put(&repo, "cookbooks/web/recipes/default.rb", declaration);
    repo
}

fn assert_refused(repo: &Repo, file: &str, place: &str, reason: &str) {
    let run = repo.solo(&["-o", "recipe[web]"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    let wanted = format!("{}:{place}", repo.path().join(Path::new(file)).display());
    run.shows(&wanted).shows(reason);
    assert!(
        !repo.root().join("x").exists(),
        "nothing converged:\n{}",
        run.all()
    );
}

const RECIPE: &str = "cookbooks/web/recipes/default.rb";

#[test]
fn an_unknown_property_is_refused_at_its_line() {
    let repo = declaring("web_site '{root}/x' do\n  greeting 'hi'\n  colour 'red'\nend\n");
    assert_refused(
        &repo,
        RECIPE,
        "3:3",
        "unknown property `colour` for resource type `web_site`; valid properties: action, flavour, greeting,",
    );
}

#[test]
fn a_value_of_the_wrong_type_is_refused_at_its_line() {
    let repo = declaring("web_site '{root}/x' do\n  greeting 'hi'\n  port 'eighty'\nend\n");
    assert_refused(
        &repo,
        RECIPE,
        "3:3",
        "Property port must be one of: Integer!  You passed \"eighty\".",
    );
    let repo = declaring("web_site '{root}/x' do\n  greeting 'hi'\n  flavour 'odd'\nend\n");
    assert_refused(
        &repo,
        RECIPE,
        "3:3",
        "Option flavour must be equal to one of: \"plain\", \"fancy\"!  You passed \"odd\".",
    );
}

#[test]
fn a_missing_required_property_is_refused_at_the_declaration() {
    let repo = declaring("log 'first'\nweb_site '{root}/x' do\n  port 81\nend\n");
    assert_refused(
        &repo,
        RECIPE,
        "2:1",
        "greeting is a required property of web_site[",
    );
}

#[test]
fn an_action_the_type_does_not_define_is_refused_where_it_is_asked_for() {
    let repo = declaring("web_site '{root}/x' do\n  greeting 'hi'\n  action :explode\nend\n");
    assert_refused(
        &repo,
        RECIPE,
        "3:3",
        "Option action must be equal to one of: nothing, create, reload, remove!  You passed :explode.",
    );
    let repo = declaring(
        "web_site '{root}/x' do\n  greeting 'hi'\nend\nlog 'x' do\n  notifies :explode, 'web_site[{root}/x]'\nend\n",
    );
    assert_refused(
        &repo,
        RECIPE,
        "5:3",
        "action :explode is not defined by resource type web_site (it defines: create, reload, remove)",
    );
}

#[test]
fn a_sub_resource_notifying_a_missing_resource_is_refused_at_its_line() {
    let repo = web_repo();
    repo.write(
        "cookbooks/web/resources/site.rb",
        "property :root, String, name_property: true\n\naction :create do\n  file \"#{root}/x\" do\n    notifies :restart, 'service[nowhere]'\n  end\nend\n",
    );
    put(&repo, RECIPE, "web_site '{root}/x'\n");
    assert_refused(
        &repo,
        "cookbooks/web/resources/site.rb",
        "5:5",
        "but service[nowhere] cannot be found in the resource collection",
    );
}

#[test]
fn converge_time_ruby_in_an_action_is_refused_when_the_type_loads() {
    let repo = web_repo();
    put(
        &repo,
        "cookbooks/web/resources/site.rb",
        "property :root, String\n\naction :create do\n  converge_by 'write' do\n    ::File.write(root, 'x')\n  end\nend\n",
    );
    assert_refused(
        &repo,
        "cookbooks/web/resources/site.rb",
        "4:3",
        "`converge_by` runs a block of Ruby at converge time",
    );
}

#[test]
fn skillet_check_compiles_custom_resources() {
    let repo = web_repo();
    repo.run(&["check", "-c", "solo.json"]).ok();
    put(
        &repo,
        "cookbooks/web/recipes/default.rb",
        "web_site '/x' do\n  greeting 'hi'\n  port 'eighty'\nend\n",
    );
    let run = repo.run(&["check", "-c", "solo.json"]);
    assert_eq!(run.code(), 1, "{}", run.all());
    run.shows("default.rb:3:3")
        .shows("Property port must be one of");
}

#[test]
fn an_action_template_takes_helpers_and_lazy_values_that_see_new_resource() {
    let repo = web_repo();
    repo.write(
        "cookbooks/web/resources/banner.rb",
        r##"property :path, String, name_property: true
property :title, String, default: 'home'

def suffix
  '!'
end

action :create do
  template new_resource.path do
    source 'banner.erb'
    variables(title: new_resource.title, later: lazy { "#{new_resource.title}-#{title.size}" })
    helpers do
      def shout(s)
        s.upcase
      end
    end
  end
  file "#{path}.#{suffix}" do
    content suffix
  end
end
"##,
    );
    repo.write(
        "cookbooks/web/templates/default/banner.erb",
        "<%= shout(@title) %> <%= @later %>\n",
    );
    put(
        &repo,
        "cookbooks/web/recipes/default.rb",
        "web_banner '{root}/banner' do\n  title 'news'\nend\n",
    );
    repo.solo(&["-o", "recipe[web]"]).ok().updated(3, 3);
    assert_eq!(repo.read_host("banner").as_deref(), Some("NEWS news-4\n"));
    assert_eq!(repo.read_host("banner.!").as_deref(), Some("!"));
    repo.solo(&["-o", "recipe[web]"]).ok().updated(0, 3);
}

#[test]
fn a_lazy_property_of_a_custom_resource_is_refused_at_its_place() {
    let repo = declaring("web_site '{root}/x' do\n  greeting lazy { 'hi' }\nend\n");
    assert_refused(
        &repo,
        RECIPE,
        "2:12",
        "a custom resource's properties cannot be `lazy`",
    );
}

/// A resource whose properties coerce what they are given and check it with callbacks, as
/// community cookbooks write them.
const SERVICE_PORT: &str = r##"property :path, String, name_property: true
property :title, String, name_property: true, coerce: proc { |n| ::File.basename(n) }
property :port, Integer, coerce: proc { |p| p.to_i }, callbacks: {
  'should be above 1024' => ->(p) { p > 1024 },
}
property :users, Array, default: 'root', coerce: ->(u) { Array(u) }

action :create do
  file new_resource.path do
    content "#{title} #{port} #{users.join(',')}\n"
  end
end
"##;

#[test]
fn coerce_and_callbacks_shape_and_check_what_a_declaration_gives() {
    let repo = declaring("web_service_port '{root}/port' do\n  port '8080'\nend\n");
    repo.write("cookbooks/web/resources/service_port.rb", SERVICE_PORT);
    let run = repo.solo(&["-o", "recipe[web]"]);
    assert_eq!(run.code(), 0, "{}", run.all());
    assert_eq!(
        std::fs::read_to_string(repo.root().join("port")).unwrap(),
        "port 8080 root\n",
        "the String became an Integer, the default a list, the name its last part"
    );
    repo.solo(&["-o", "recipe[web]"])
        .ok()
        .shows("0/2 resources updated");

    put(
        &repo,
        RECIPE,
        "web_service_port '{root}/x' do\n  port '80'\nend\n",
    );
    assert_refused(
        &repo,
        RECIPE,
        "2:3",
        "Option port's value 80 should be above 1024!",
    );
}
