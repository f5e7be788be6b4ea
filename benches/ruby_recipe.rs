//! Compiling a 1,000-line Ruby recipe: parse, evaluate (loops, conditionals, node reads and
//! writes, interpolation) and build its resources (templates with variables and notifications,
//! directories, files, executes with string and block guards), through the compile driver.

use criterion::{criterion_group, criterion_main, Criterion};
use skillet::compile::{compile, FileRecipeLoader, RepoSources};
use skillet::node::{expand, Environment, Node, RunList};
use skillet::repo::specificity::HostFacts;
use skillet::repo::{Config, Repository};
use std::fmt::Write as _;
use std::path::Path;

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// One block of the recipe (about 50 lines), numbered `i`.
fn section(out: &mut String, i: usize) {
    let _ = write!(
        out,
        r##"# Section {i}: an application with its configuration and service hooks.
app = "app{i}"
base = ::File.join(node['bench']['root'], app)
port = node['bench']['base_port'] + {i}
node.default['bench']['apps'][app]['port'] = port

directory base do
  mode '0755'
  recursive true
end

%w(conf logs data).each do |sub|
  directory "#{{base}}/#{{sub}}" do
    mode sub == 'data' ? '0700' : '0755'
  end
end

template "#{{base}}/conf/app.conf" do
  source 'app.conf.erb'
  mode '0640'
  variables(
    name: app,
    port: node['bench']['apps'][app]['port'],
    servers: %w(a b c).map {{ |s| "#{{s}}.#{{app}}.example" }},
    tuning: {{ 'workers' => port % 4 + 1, 'debug' => false }}
  )
  notifies :run, "execute[reload #{{app}}]", :delayed
end

execute "reload #{{app}}" do
  command "echo reload #{{app}} >> #{{base}}/logs/reloads"
  action :nothing
end

execute "seed #{{app}}" do
  command "touch #{{base}}/data/seeded"
  not_if {{ ::File.exist?("#{{base}}/data/seeded") }}
  only_if "test -d #{{base}}/data", cwd: base
end

case node['platform_family']
when 'debian', 'ubuntu'
  file "#{{base}}/conf/family" do
    content "debian-like #{{node['platform_version']}}\n"
  end
else
  file "#{{base}}/conf/family" do
    content "other\n"
  end
end
"##
    );
}

/// Builds the repository: a cookbook whose default recipe is about 1,000 lines of Ruby.
fn build_repo(dir: &Path) -> usize {
    let cb = dir.join("cookbooks/bench");
    write(&cb.join("metadata.rb"), "name 'bench'\nversion '1.0.0'\n");
    write(
        &cb.join("attributes/default.rb"),
        &format!(
            "default['bench']['root'] = '{}'\ndefault['bench']['base_port'] = 8000\n",
            dir.join("host").display()
        ),
    );
    write(
        &cb.join("templates/default/app.conf.erb"),
        "name=<%= @name %>\nport=<%= @port %>\n<% @servers.each do |s| -%>\nserver <%= s %>;\n<% end -%>\n",
    );
    let mut recipe = String::new();
    let mut i = 0;
    while recipe.lines().count() < 1000 {
        section(&mut recipe, i);
        i += 1;
    }
    let lines = recipe.lines().count();
    write(&cb.join("recipes/default.rb"), &recipe);
    lines
}

fn compile_once(dir: &Path) -> usize {
    let mut config = Config::load(None).expect("config");
    config.cookbook_path = vec![dir.join("cookbooks")];
    config.data_bag_path = dir.join("data_bags");
    let repo = Repository::open(&config).expect("repository");
    let run_list = RunList::from_strings(&["recipe[bench]".to_string()]).expect("run list");
    let expansion = expand(&run_list, "_default", &repo).expect("expansion");
    let mut node = Node::new("bench");
    node.apply_expansion(&expansion);
    node.set_automatic(skillet::ohai::collect_minimal());
    let sources = RepoSources::new(&repo, HostFacts::default());
    let compiled = compile(
        &repo,
        &mut node,
        &expansion,
        &Environment::default_env(),
        &FileRecipeLoader,
        &sources,
    )
    .expect("the recipe compiles");
    compiled.collection.len()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = build_repo(dir.path());
    let resources = compile_once(dir.path());
    eprintln!("ruby recipe: {lines} lines, {resources} resources");
    c.bench_function("compile_1000_line_ruby_recipe", |b| {
        b.iter(|| compile_once(dir.path()))
    });
    let path = dir.path().join("cookbooks/bench/recipes/default.rb");
    let source = std::fs::read_to_string(&path).expect("recipe");
    c.bench_function("parse_1000_line_ruby_recipe", |b| {
        b.iter(|| skillet::ruby::check(&path, &source).expect("parses"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
