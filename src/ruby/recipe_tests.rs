//! Tests of the Ruby recipe DSL against a recording host.

use super::*;
use crate::compile::decl::ResourceDecl;
use crate::compile::{RecipeHost, RepoData};
use crate::error::{Error, Result, SourceLocation};
use crate::repo::data_bag::DataBags;
use crate::resource::{Context, Guard, GuardCommand, GuardKind, GuardOptions};
use serde_json::{json, Value as Json};
use std::path::Path;
use std::sync::Arc;

/// What a recipe handed to the compiler, in order.
#[derive(Debug)]
enum Step {
    Declare(ResourceDecl, Vec<Guard>),
    Include(String, SourceLocation),
}

/// A compiler stand-in: a plain attribute map (one level) and the steps it was given.
struct Recorder {
    node: Json,
    steps: Vec<Step>,
    bags: Arc<BagsOnly>,
    /// `declare` fails for this resource name (as the real builder does on a bad property).
    refuse: Option<String>,
    /// Definitions recipes may call.
    definitions: Vec<Arc<crate::ruby::definition::Definition>>,
    /// The template helpers declarations kept, by resource name.
    helpers: Vec<(String, Vec<String>)>,
}

impl Recorder {
    fn new(node: Json) -> Self {
        Self {
            node,
            steps: Vec::new(),
            bags: Arc::new(BagsOnly(DataBags::new(Path::new("/nonexistent")))),
            refuse: None,
            definitions: Vec::new(),
            helpers: Vec::new(),
        }
    }

    fn decls(&self) -> Vec<&ResourceDecl> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Declare(d, _) => Some(d),
                Step::Include(..) => None,
            })
            .collect()
    }

    fn decl(&self, name: &str) -> &ResourceDecl {
        self.decls()
            .into_iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("no resource {name} in {:?}", self.steps))
    }

    fn guards(&self, name: &str) -> Vec<Guard> {
        self.steps
            .iter()
            .find_map(|s| match s {
                Step::Declare(d, g) if d.name == name => Some(g.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }
}

fn walk<'j>(mut at: &'j Json, path: &[String]) -> Option<&'j Json> {
    for key in path {
        at = at.get(key)?;
    }
    Some(at)
}

impl NodeAccess for Recorder {
    fn read(&self, path: &[String]) -> Option<Json> {
        walk(&self.node, path).cloned()
    }

    fn read_level(&self, _level: WriteLevel, path: &[String]) -> Option<Json> {
        self.read(path)
    }

    fn write(&mut self, write: AttributeWrite) -> std::result::Result<(), String> {
        if write.op == WriteOp::SetUnless && self.read(&write.path).is_some() {
            return Ok(());
        }
        let Some((last, parents)) = write.path.split_last() else {
            return Err("empty path".into());
        };
        let mut at = &mut self.node;
        for key in parents {
            at = at
                .as_object_mut()
                .ok_or("not a map")?
                .entry(key.clone())
                .or_insert_with(|| json!({}));
        }
        at.as_object_mut()
            .ok_or("not a map")?
            .insert(last.clone(), write.value);
        Ok(())
    }

    fn include_attribute(&mut self, _name: &str) -> std::result::Result<(), String> {
        Err("not here".into())
    }
}

/// Data bags from a directory, and no search.
#[derive(Debug)]
struct BagsOnly(DataBags);

impl RepoData for BagsOnly {
    fn data_bag(&self, bag: &str) -> Result<Vec<String>> {
        self.0.items(bag)
    }

    fn data_bag_item(&self, bag: &str, id: &str) -> Result<Json> {
        self.0.item(bag, id)
    }

    fn search(
        &self,
        index: &str,
        _query: &str,
        _parsed: &crate::search::Query,
        _page: &crate::search::Page,
    ) -> Result<Vec<Json>> {
        Err(Error::input(
            "NotImplementedError",
            format!("search(:{index}) is not available here"),
        ))
    }
}

impl RecipeHost for Recorder {
    fn declare(&mut self, decl: ResourceDecl, block_guards: Vec<Guard>) -> Result<()> {
        if self.refuse.as_deref() == Some(decl.name.as_str()) {
            return Err(Error::compile(
                decl.location.clone(),
                "refused by the builder",
            ));
        }
        self.steps.push(Step::Declare(decl, block_guards));
        Ok(())
    }

    fn declare_code(
        &mut self,
        decl: ResourceDecl,
        code: crate::compile::decl::DeclCode,
    ) -> Result<()> {
        if !code.lazy.is_empty() {
            return Err(Error::compile(decl.location.clone(), "no lazy values here"));
        }
        let names = code.helpers.iter().map(|h| h.name().to_string()).collect();
        self.helpers.push((decl.name.clone(), names));
        self.declare(decl, code.guards)
    }

    fn include_recipe(&mut self, name: &str, location: &SourceLocation) -> Result<()> {
        self.steps
            .push(Step::Include(name.to_string(), location.clone()));
        Ok(())
    }

    fn repo_data(&self) -> Option<Arc<dyn RepoData>> {
        Some(self.bags.clone())
    }

    fn definition(&self, name: &str) -> Option<Arc<crate::ruby::definition::Definition>> {
        self.definitions.iter().find(|d| d.name == name).cloned()
    }
}

const FILE: &str = "/cb/recipes/default.rb";

fn run_with(host: &mut Recorder, source: &str) -> Result<()> {
    eval_recipe(Path::new(FILE), source, "cb", "default", host)
}

fn run(source: &str) -> Recorder {
    let mut host = Recorder::new(
        json!({"platform": "ubuntu", "platform_family": "debian", "platform_version": "22.04"}),
    );
    run_with(&mut host, source).unwrap_or_else(|e| panic!("{source}\n{e}"));
    host
}

fn error(source: &str) -> String {
    let mut host = Recorder::new(json!({}));
    match run_with(&mut host, source) {
        Ok(()) => panic!("expected an error from {source:?}"),
        Err(e) => e.to_string(),
    }
}

fn prop<'d>(decl: &'d ResourceDecl, name: &str) -> &'d Json {
    &decl
        .properties
        .get(name)
        .unwrap_or_else(|| panic!("{} has no {name}: {:?}", decl.name, decl.properties))
        .value
}

#[test]
fn a_declaration_records_type_name_properties_and_their_lines() {
    let host = run("file '/etc/motd' do\n  mode '0644'\n  owner 'root'\n  content \"hi\\n\"\nend\ndirectory '/srv'\n");
    let file = host.decl("/etc/motd");
    assert_eq!(
        (
            file.kind.as_str(),
            file.cookbook.as_str(),
            file.recipe.as_str()
        ),
        ("file", "cb", "default")
    );
    assert_eq!((file.location.line, file.location.column), (1, 1));
    assert_eq!(prop(file, "mode"), "0644");
    assert_eq!(prop(file, "content"), "hi\n");
    assert_eq!(file.properties["owner"].location.line, 3);
    assert_eq!(file.properties["owner"].location.column, 3);
    let keys: Vec<&String> = file.properties.keys().collect();
    assert_eq!(keys, ["mode", "owner", "content"]);
    let dir = host.decl("/srv");
    assert_eq!(dir.kind, "directory");
    assert!(dir.properties.is_empty());
}

#[test]
fn symbols_become_strings_and_hashes_and_arrays_become_json() {
    let host = run(
        "template '/t' do\n  variables(port: 80, list: %w(a b), kind: :web, 'x' => 1.5)\n  action [:create, :touch]\n  mode 0644\nend\nexecute 'e' do\n  action :nothing\nend\n",
    );
    let t = host.decl("/t");
    assert_eq!(
        prop(t, "variables"),
        &json!({"port": 80, "list": ["a", "b"], "kind": "web", "x": 1.5})
    );
    assert_eq!(prop(t, "action"), &json!(["create", "touch"]));
    assert_eq!(prop(t, "mode"), 420, "Ruby's 0644 is octal");
    assert_eq!(prop(host.decl("e"), "action"), "nothing");
}

#[test]
fn resource_names_may_be_any_expression_including_loop_variables() {
    let host = run(
        "base = '/srv'\n%w(a b).each do |d|\n  directory \"#{base}/#{d}\" do\n    mode '0755'\n  end\nend\n{ 'x' => 1 }.each { |k, v| file \"/f/#{k}#{v}\" }\n",
    );
    let names: Vec<&str> = host.decls().iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["/srv/a", "/srv/b", "/f/x1"]);
}

#[test]
fn notifications_take_chefs_list_of_maps_shape_with_delayed_as_default() {
    let host = run(
        "template '/t' do\n  notifies :restart, 'service[nginx]'\n  notifies :run, 'execute[x]', :immediately\n  notifies :reload, resources(service: 'apache2'), :before\nend\nservice 'nginx' do\n  subscribes :restart, ['template[/t]', 'file[/f]'], :immediate\nend\n",
    );
    assert_eq!(
        prop(host.decl("/t"), "notifies"),
        &json!([
            {"action": "restart", "resource": "service[nginx]", "timing": "delayed"},
            {"action": "run", "resource": "execute[x]", "timing": "immediately"},
            {"action": "reload", "resource": "service[apache2]", "timing": "before"},
        ])
    );
    assert_eq!(
        prop(host.decl("nginx"), "subscribes"),
        &json!([
            {"action": "restart", "resource": "template[/t]", "timing": "immediate"},
            {"action": "restart", "resource": "file[/f]", "timing": "immediate"},
        ])
    );
}

#[test]
fn a_notification_timing_outside_chefs_four_is_an_argument_error_at_its_line() {
    let e = error("file '/x' do\n  notifies :run, 'execute[y]', :later\nend\n");
    assert!(e.starts_with(&format!("{FILE}:2:3")), "{e}");
    assert!(
        e.contains("timing must be :delayed, :immediately, :immediate or :before"),
        "{e}"
    );
    let e = error("file '/x' do\n  notifies :run, 'nginx'\nend\n");
    assert!(
        e.contains("expects a resource like \"service[nginx]\""),
        "{e}"
    );
    let e = error("file '/x' do\n  notifies :run\nend\n");
    assert!(
        e.contains("wrong number of arguments (given 1, expected 2..3)"),
        "{e}"
    );
}

#[test]
fn string_guards_become_data_with_their_options() {
    let host = run(
        "execute 'e' do\n  not_if 'test -f /x'\n  only_if 'id bob', cwd: '/tmp', environment: { 'A' => '1' }\n  not_if ['test', '-d', '/y']\nend\n",
    );
    let e = host.decl("e");
    assert_eq!(
        prop(e, "not_if"),
        &json!([{"command": "test -f /x"}, {"command": ["test", "-d", "/y"]}])
    );
    assert_eq!(
        prop(e, "only_if"),
        &json!([{"command": "id bob", "cwd": "/tmp", "environment": {"A": "1"}}])
    );
    assert!(host.guards("e").is_empty());
}

fn context(node: Json) -> Context {
    let mut cx = Context::new(Path::new("/nonexistent-cache"));
    cx.node = Arc::new(node);
    cx
}

#[test]
fn block_guards_run_at_converge_time_with_the_variables_they_saw() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    let source = format!(
        "path = '{}'\nexecute 'e' do\n  not_if {{ ::File.exist?(path) }}\n  only_if {{ node['app']['enabled'] }}\nend\npath = '/elsewhere'\n",
        marker.display()
    );
    let host = run(&source);
    let guards = host.guards("e");
    assert_eq!(guards.len(), 2);
    assert_eq!(guards[0].kind, GuardKind::NotIf);
    assert_eq!(guards[0].location.line, 3);
    let GuardCommand::Block(block) = &guards[0].command else {
        panic!("expected a block guard: {:?}", guards[0]);
    };
    assert_eq!(block.source, "not_if { ::File.exist?(path) }");
    let mut cx = context(json!({"app": {"enabled": true}}));
    let inherited = GuardOptions::default();
    // The file does not exist yet: not_if allows; it is looked up only when the guard runs.
    assert!(guards[0].allows(&inherited, &mut cx).unwrap());
    std::fs::write(&marker, "").unwrap();
    assert!(!guards[0].allows(&inherited, &mut cx).unwrap());
    assert!(guards[1].allows(&inherited, &mut cx).unwrap());
    let mut off = context(json!({"app": {"enabled": false}}));
    assert!(!guards[1].allows(&inherited, &mut off).unwrap());
}

#[test]
fn a_block_guard_that_raises_fails_with_its_location() {
    let host = run("execute 'e' do\n  only_if { node['missing']['x'] }\nend\n");
    let guards = host.guards("e");
    let mut cx = context(json!({}));
    let err = guards[0]
        .allows(&GuardOptions::default(), &mut cx)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&format!("{FILE}:2:")), "{err}");
    assert!(err.contains("undefined method `[]` for nil"), "{err}");
}

#[test]
fn a_guard_block_that_would_call_what_converge_time_lacks_is_refused_at_compile_time() {
    let e = error("execute 'e' do\n  not_if { shell_out('id').stdout.include?('x') }\nend\n");
    assert!(e.starts_with(&format!("{FILE}:2:12")), "{e}");
    assert!(
        e.contains("runs a command while the recipe compiles"),
        "{e}"
    );
    let e = error(
        "execute 'e' do\n  only_if do\n    %w(a b).any? { |x| helper_of_mine(x) }\n  end\nend\n",
    );
    assert!(e.starts_with(&format!("{FILE}:3:")), "{e}");
    assert!(
        e.contains("`helper_of_mine` is not available in a block run at converge time"),
        "{e}"
    );
    let host = run("x = 1\nexecute 'e' do\n  only_if { platform?('ubuntu') && node['a'].nil? && ::File.directory?('/') && x == Integer('1') }\nend\n");
    assert_eq!(host.guards("e").len(), 1);
}

#[test]
fn a_guard_takes_a_command_or_a_block_not_both() {
    let e = error("execute 'e' do\n  only_if('true') { true }\nend\n");
    assert!(e.contains("takes a command or a block, not both"), "{e}");
    let e = error("execute 'e' do\n  only_if 1\nend\n");
    assert!(e.contains("takes a command String"), "{e}");
}

#[test]
fn include_recipe_keeps_its_place_between_declarations() {
    let host =
        run("log 'a'\ninclude_recipe 'other::setup'\nlog 'b'\ninclude_recipe '::local', 'x'\n");
    let order: Vec<String> = host
        .steps
        .iter()
        .map(|s| match s {
            Step::Declare(d, _) => format!("declare {}", d.name),
            Step::Include(r, at) => format!("include {r} at {}", at.line),
        })
        .collect();
    assert_eq!(
        order,
        [
            "declare a",
            "include other::setup at 2",
            "declare b",
            "include ::local at 4",
            "include x at 4"
        ]
    );
}

#[test]
fn node_writes_in_recipes_name_a_precedence_level_and_later_reads_see_them() {
    let host = run(
        "node.default['app']['port'] = 80\nnode.override['app']['name'] = 'web'\nnode.normal['seen'] = true\nnode.default_unless['app']['port'] = 1\nnode.set['legacy'] = 1\nfile '/p' do\n  content \"#{node['app']['port']}:#{node[:app][:name]}\"\nend\n",
    );
    assert_eq!(host.node["app"], json!({"port": 80, "name": "web"}));
    assert_eq!(host.node["seen"], true);
    assert_eq!(prop(host.decl("/p"), "content"), "80:web");
    let e = error("node['x'] = 1\n");
    assert!(e.contains("Node attributes are read-only"), "{e}");
    let e = error("default['x'] = 1\n");
    assert!(
        e.contains("undefined"),
        "bare `default` is for attribute files: {e}"
    );
}

#[test]
fn platform_helpers_read_the_node() {
    let host = run(
        "if platform?('ubuntu', 'debian') && platform_family?('debian')\n  log 'deb'\nend\nlog value_for_platform('ubuntu' => { '22.04' => 'jammy', 'default' => 'x' }, 'default' => 'y')\nlog value_for_platform_family(%w(rhel fedora) => 'rpm', 'debian' => 'apt')\nlog 'v' if node['platform_version'].to_f >= 20\n",
    );
    let names: Vec<&str> = host.decls().iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["deb", "jammy", "apt", "v"]);
}

#[test]
fn properties_read_back_inside_the_block() {
    let host = run("file '/a' do\n  owner 'bob'\n  group owner\n  content name\nend\n");
    let a = host.decl("/a");
    assert_eq!(prop(a, "group"), "bob");
    assert_eq!(prop(a, "content"), "/a");
}

#[test]
fn constructs_skillet_does_not_run_are_refused_with_the_reason_and_place() {
    for (source, wanted) in [
        (
            "ruby_block 'x' do\n  block { 1 }\nend\n",
            "`ruby_block` runs arbitrary Ruby",
        ),
        (
            "partial_search(:node, 'role:web')\n",
            "use `search` with `filter_result:`",
        ),
        (
            "x = shell_out('id')\n",
            "runs a command while the recipe compiles",
        ),
        ("define :x do\nend\n", "definition"),
        (
            "file '/x' do\n  block do\n    1\n  end\nend\n",
            "a block given to `block`",
        ),
        ("data_bag_item('a', 'b', 'secret')\n", "encrypted data bags"),
        ("x = Chef::Config[:file_cache_path]\n", "`Chef::Config`"),
    ] {
        let e = error(source);
        assert!(e.contains(wanted), "{source}: {e}");
        assert!(e.starts_with(FILE), "{source}: {e}");
    }
    // `rescue` cannot skip a refusal.
    let e = error("begin\n  ruby_block 'x'\nrescue\n  log 'rescued'\nend\n");
    assert!(e.contains(&format!("{FILE}:2:3")), "{e}");
}

#[test]
fn a_builder_error_is_reported_as_is_and_cannot_be_rescued() {
    let mut host = Recorder::new(json!({}));
    host.refuse = Some("/bad".into());
    let err = run_with(
        &mut host,
        "begin\n  file '/bad' do\n    mode '0644'\n  end\nrescue\nend\nlog 'after'\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{FILE}:2:3: refused by the builder")
    );
    assert!(host.decls().is_empty());
}

#[test]
fn a_block_that_raises_declares_nothing() {
    let mut host = Recorder::new(json!({}));
    let err = run_with(
        &mut host,
        "file '/a' do\n  mode '0644'\n  raise 'boom'\nend\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("boom"), "{err}");
    assert!(host.decls().is_empty());
}

#[test]
fn data_bags_are_read_from_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("users")).unwrap();
    std::fs::write(
        dir.path().join("users/bob.json"),
        r#"{"id": "bob", "shell": "/bin/zsh"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("users/al.json"),
        r#"{"id": "al", "shell": "/bin/sh"}"#,
    )
    .unwrap();
    let mut host = Recorder::new(json!({}));
    host.bags = Arc::new(BagsOnly(DataBags::new(dir.path())));
    run_with(
        &mut host,
        "data_bag('users').each do |id|\n  u = data_bag_item('users', id)\n  file \"/home/#{id}\" do\n    content u['shell']\n  end\nend\n",
    )
    .unwrap();
    assert_eq!(prop(host.decl("/home/al"), "content"), "/bin/sh");
    assert_eq!(prop(host.decl("/home/bob"), "content"), "/bin/zsh");
}

#[test]
fn syntax_errors_and_unknown_names_are_located() {
    let e = error("file '/x' do\n  mode '0644'\n");
    assert!(e.starts_with(&format!("{FILE}:2:")), "{e}");
    assert!(e.contains("syntax error"), "{e}");
    let e = error("log 'a'\nfrobnicate\n");
    assert!(e.starts_with(&format!("{FILE}:2:1")), "{e}");
    assert!(
        e.contains("undefined local variable or method `frobnicate`"),
        "{e}"
    );
}

#[test]
fn a_resource_without_a_name_is_named_empty_as_in_chef_16() {
    let host = run("log do\n  message 'hi'\nend\nlog\n");
    let names: Vec<(&str, &str)> = host
        .decls()
        .iter()
        .map(|d| (d.kind.as_str(), d.name.as_str()))
        .collect();
    assert_eq!(names, [("log", ""), ("log", "")]);
    let e = error("not_a_type\n");
    assert!(
        e.contains("undefined local variable or method `not_a_type`"),
        "{e}"
    );
}

#[test]
fn common_properties_outside_a_resource_block_are_named_as_such() {
    let e = error("log 'a'\nnotifies :run, 'execute[x]'\n");
    assert!(e.starts_with(&format!("{FILE}:2:1")), "{e}");
    assert!(e.contains("`notifies` is a resource property"), "{e}");
}

#[test]
fn words_refused_at_top_level_are_properties_inside_a_block() {
    let host = run("user 'svc' do\n  system true\nend\n");
    assert_eq!(prop(host.decl("svc"), "system"), true);
    let e = error("system('id')\n");
    assert!(
        e.contains("runs a command while the recipe compiles"),
        "{e}"
    );
}

#[test]
fn helpers_name_the_cookbook_and_recipe() {
    let host = run("log \"#{cookbook_name}::#{recipe_name}\"\n");
    assert_eq!(host.decls()[0].name, "cb::default");
}

#[test]
fn a_package_named_by_a_list_installs_the_list_and_prints_it_joined() {
    let host = run(
        "package %w(less procps)\napt_package ['a', 'b'] do\n  package_name 'c'\nend\nfile 'x'\n",
    );
    let both = host.decl("less, procps");
    assert_eq!(
        both.properties["package_name"].value,
        json!(["less", "procps"])
    );
    // A `package_name` written in the block wins, as in Chef.
    assert_eq!(
        host.decl("a, b").properties["package_name"].value,
        json!("c")
    );
    assert!(!host.decl("x").properties.contains_key("package_name"));
}

const DEFINITIONS: &str = "/cb/definitions/site.rb";

fn with_definitions(definitions: &str) -> Recorder {
    let mut host = Recorder::new(json!({"app": {"root": "/srv"}}));
    host.definitions =
        crate::ruby::definition::load_definitions(Path::new(DEFINITIONS), definitions)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(Arc::new)
            .collect();
    host
}

const SITE: &str = "define :site, port: 80, docroot: nil do\n  dir = params[:docroot] || \"#{node['app']['root']}/#{params[:name]}\"\n  directory dir\n  file \"#{dir}/port\" do\n    content params['port'].to_s\n    not_if { params[:port] == 0 }\n  end\nend\n";

#[test]
fn a_definition_expands_in_place_with_params() {
    let mut host = with_definitions(SITE);
    run_with(
        &mut host,
        "directory '/before'\nsite 'blog' do\n  port 8080\nend\nsite 'wiki'\ndirectory '/after'\n",
    )
    .unwrap();
    let names: Vec<&str> = host.decls().iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "/before",
            "/srv/blog",
            "/srv/blog/port",
            "/srv/wiki",
            "/srv/wiki/port",
            "/after"
        ]
    );
    assert_eq!(prop(host.decl("/srv/blog/port"), "content"), "8080");
    assert_eq!(prop(host.decl("/srv/wiki/port"), "content"), "80");
    // Resources keep the calling recipe, and the line of the definition that declares them.
    let port = host.decl("/srv/blog/port");
    assert_eq!(
        (port.cookbook.as_str(), port.recipe.as_str()),
        ("cb", "default")
    );
    assert_eq!(port.location.to_string(), format!("{DEFINITIONS}:4:3"));
    assert_eq!(host.guards("/srv/blog/port").len(), 1);
}

#[test]
fn a_definition_that_calls_itself_is_an_error_not_a_crash() {
    let mut host = with_definitions("define :again do\n  again params[:name]\nend\n");
    let err = run_with(&mut host, "\nagain 'x'\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`again` expands itself"), "{err}");
}

#[test]
fn an_error_in_a_definition_body_names_the_definition_file() {
    let mut host = with_definitions(
        "define :broken do\n  file params[:name] do\n    mode(1, 2, nil.upcase)\n  end\nend\n",
    );
    let err = run_with(&mut host, "broken 'x'\n").unwrap_err().to_string();
    assert!(err.starts_with(&format!("{DEFINITIONS}:3:")), "{err}");
    assert!(error("define :x do\nend\n").contains("definitions/ directory"));
}

#[test]
fn an_action_body_reads_new_resource_bare_properties_and_helpers_even_in_guards() {
    let dir = tempfile::tempdir().unwrap();
    let rtype = crate::ruby::custom_resource::load_resource_file(
        Path::new("/cb/resources/site.rb"),
        "property :root, String, name_property: true\nproperty :port, Integer, default: 80\n\naction_class do\n  def conf\n    \"#{new_resource.root}/site.conf\"\n  end\nend\n\naction :create do\n  file conf do\n    content \"port #{port} for #{new_resource.name} #{property_is_set?(:root)} #{new_resource.property_is_set?(:port)}\"\n    not_if { ::File.exist?(\"#{root}/hush\") }\n    only_if { new_resource.port > 0 }\n  end\nend\n",
        "cb",
    )
    .unwrap();
    let root = dir.path().display().to_string();
    let resource = NewResource {
        kind: "cb_site".into(),
        name: "blog".into(),
        properties: [
            ("root".to_string(), json!(root)),
            ("port".to_string(), json!(8080)),
        ]
        .into_iter()
        .collect(),
        cookbook: "app".into(),
        recipe: "web".into(),
        set: vec!["root".to_string()],
    };
    let mut host = Recorder::new(json!({}));
    eval_custom_action(&rtype, "create", resource, &mut host).unwrap();
    let conf = format!("{root}/site.conf");
    let decl = host.decl(&conf);
    assert_eq!(prop(decl, "content"), "port 8080 for blog true false");
    // Sub-resources belong to the recipe that declared the custom resource, as in Chef (its
    // templates come from that cookbook).
    assert_eq!(
        (decl.cookbook.as_str(), decl.recipe.as_str()),
        ("app", "web")
    );
    let guards = host.guards(&conf);
    let mut cx = context(json!({}));
    let inherited = GuardOptions::default();
    assert!(guards
        .iter()
        .all(|g| g.allows(&inherited, &mut cx).unwrap()));
    std::fs::write(dir.path().join("hush"), "").unwrap();
    assert!(!guards[0].allows(&inherited, &mut cx).unwrap());
}

#[test]
fn new_resource_has_no_setters_and_no_unknown_properties() {
    let rtype = crate::ruby::custom_resource::load_resource_file(
        Path::new("/cb/resources/site.rb"),
        "property :root, String\naction :create do\n  log new_resource.colour\nend\naction :delete do\n  new_resource.root('x')\nend\n",
        "cb",
    )
    .unwrap();
    let resource = || NewResource {
        kind: "cb_site".into(),
        name: "blog".into(),
        properties: [("root".to_string(), Json::Null)].into_iter().collect(),
        cookbook: "cb".into(),
        recipe: "default".into(),
        set: Vec::new(),
    };
    let mut host = Recorder::new(json!({}));
    let err = eval_custom_action(&rtype, "create", resource(), &mut host).unwrap_err();
    assert!(
        err.to_string().starts_with("/cb/resources/site.rb:3:"),
        "{err}"
    );
    assert!(err.to_string().contains("has no such property"), "{err}");
    let err = eval_custom_action(&rtype, "delete", resource(), &mut host).unwrap_err();
    assert!(err.to_string().contains("use a local variable"), "{err}");
    let rtype = crate::ruby::custom_resource::load_resource_file(
        Path::new("/cb/providers/x.rb"),
        "action :create do\n  new_resource.updated_by_last_action(true)\nend\n",
        "cb",
    )
    .unwrap();
    let err = eval_custom_action(&rtype, "create", resource(), &mut host).unwrap_err();
    assert!(
        err.to_string().starts_with("/cb/providers/x.rb:2:"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("depends on what happened at converge time"),
        "{err}"
    );
}

#[test]
fn a_def_in_a_recipe_is_a_method_of_the_recipe_and_one_in_helpers_is_the_templates() {
    let host = run(
        "def conf(name)\n  \"/etc/#{name}.conf\"\nend\ntemplate conf('app') do\n  helpers do\n    def shout(s)\n      s.upcase\n    end\n  end\nend\nfile conf('db')\n",
    );
    assert_eq!(host.decls()[0].name, "/etc/app.conf");
    assert_eq!(host.decls()[1].name, "/etc/db.conf");
    assert_eq!(
        host.helpers[0],
        ("/etc/app.conf".to_string(), vec!["shout".to_string()])
    );
    // The template's helper is not a method of the recipe.
    let e = error(
        "template 'x' do\n  helpers do\n    def loud\n      'A'\n    end\n  end\nend\nlog loud\n",
    );
    assert!(
        e.contains("8:5: undefined local variable or method `loud`"),
        "{e}"
    );
}
