//! Tests of partials (CHEF_SEMANTICS.md section l: `render` with `variables`, `cookbook`,
//! `local`, `source`; lookup by file specificity; a missing literal partial fails compiling).

use super::*;
use crate::repo::specificity::HostFacts;
use serde_json::json;

struct Cookbooks {
    dir: tempfile::TempDir,
}

impl Cookbooks {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn partials(&self) -> TemplateFinder {
        let cookbooks = ["app", "shared"]
            .into_iter()
            .map(|name| (name.to_string(), self.dir.path().join(name)));
        TemplateFinder::new(
            cookbooks,
            HostFacts {
                fqdn: "web1.example".into(),
                platform: "debian".into(),
                platform_version: "12.5".into(),
            },
        )
    }

    /// Compiles `app`'s template `name`, checks its partials, renders it.
    fn render(&self, name: &str, variables: Json) -> Result<String> {
        let path = self.dir.path().join("app/templates/default").join(name);
        let template = ErbTemplate::compile(&path, &std::fs::read_to_string(&path).unwrap())?;
        let partials = self.partials();
        template.check_partials(&partials, "app")?;
        let Json::Object(variables) = variables else {
            panic!("variables must be an object")
        };
        template.render_in(&RenderScope {
            variables: &variables,
            node: &json!({"fqdn": "web1.example"}),
            cookbook: "app",
            partials: Some(&partials),
            root: self.dir.path(),
            helpers: &[],
        })
    }
}

#[test]
fn a_partial_sees_the_callers_variables_by_default() {
    let cb = Cookbooks::new();
    cb.write(
        "app/templates/default/main.erb",
        "port=<%= @port %>\n<%= render 'part.erb' %>end\n",
    );
    cb.write(
        "app/templates/default/part.erb",
        "<% @port += 1 -%>\npart port=<%= @port %> <%= node['fqdn'] %>\n",
    );
    let out = cb.render("main.erb", json!({"port": 80})).unwrap();
    assert_eq!(out, "port=80\npart port=81 web1.example\nend\n");
}

#[test]
fn variables_replace_the_callers_and_cookbook_and_source_choose_the_file() {
    let cb = Cookbooks::new();
    cb.write(
        "app/templates/default/main.erb",
        "<%= render 'x.erb', cookbook: 'shared', source: 'real.erb', variables: { name: 'db', port: @port + 1 } %>",
    );
    cb.write(
        "shared/templates/default/real.erb",
        "<%= @name %>:<%= @port %> secret=<%= @secret.inspect %>",
    );
    let out = cb
        .render("main.erb", json!({"port": 5432, "secret": "s"}))
        .unwrap();
    assert_eq!(out, "db:5433 secret=nil");
}

#[test]
fn partials_are_found_by_file_specificity() {
    let cb = Cookbooks::new();
    cb.write("app/templates/default/main.erb", "<%= render 'p.erb' %>");
    cb.write("app/templates/default/p.erb", "default");
    cb.write("app/templates/debian-12/p.erb", "debian 12");
    assert_eq!(cb.render("main.erb", json!({})).unwrap(), "debian 12");
    cb.write("app/templates/host-web1.example/p.erb", "this host");
    assert_eq!(cb.render("main.erb", json!({})).unwrap(), "this host");
}

#[test]
fn a_missing_literal_partial_is_a_compile_error_at_the_render_call() {
    let cb = Cookbooks::new();
    cb.write(
        "app/templates/default/main.erb",
        "a\n<%= render 'present.erb' %>\nb <%= render 'gone.erb' %>\n",
    );
    cb.write(
        "app/templates/default/present.erb",
        "<%= render 'also_gone.erb' %>",
    );
    let err = cb.render("main.erb", json!({})).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.class(), "Chef::Exceptions::FileNotFound");
    assert!(text.contains("main.erb:3:7"), "{text}");
    assert!(text.contains("searched"), "{text}");
    // The partials of a partial are checked too, at their own `render`.
    cb.write("app/templates/default/gone.erb", "");
    let err = cb.render("main.erb", json!({})).unwrap_err().to_string();
    assert!(err.contains("present.erb:1:5"), "{err}");
    assert!(err.contains("also_gone.erb"), "{err}");
}

#[test]
fn a_syntax_error_in_a_partial_is_a_compile_error_in_that_file() {
    let cb = Cookbooks::new();
    cb.write("app/templates/default/main.erb", "<%= render 'bad.erb' %>");
    cb.write("app/templates/default/bad.erb", "ok\n<% if %>\n");
    let err = cb.render("main.erb", json!({})).unwrap_err().to_string();
    assert!(err.contains("bad.erb:2"), "{err}");
}

#[test]
fn recursion_is_bounded() {
    let cb = Cookbooks::new();
    cb.write(
        "app/templates/default/main.erb",
        "<%= render 'loop.erb', variables: { n: 0 } %>",
    );
    cb.write(
        "app/templates/default/loop.erb",
        "<%= @n %>,<%= render 'loop.erb', variables: { n: @n + 1 } %>",
    );
    let err = cb.render("main.erb", json!({})).unwrap_err().to_string();
    // Whichever comes first: the nesting limit, or the stack budget partials share.
    assert!(
        err.contains("nested more than 32 deep") || err.contains("stack level too deep"),
        "{err}"
    );
}

#[test]
fn a_partial_that_stops_recursing_renders() {
    let cb = Cookbooks::new();
    cb.write(
        "app/templates/default/main.erb",
        "<%= render 'count.erb', variables: { n: 3 } %>",
    );
    cb.write(
        "app/templates/default/count.erb",
        "<%= @n %><% if @n > 0 %>,<%= render 'count.erb', variables: { n: @n - 1 } %><% end %>",
    );
    assert_eq!(cb.render("main.erb", json!({})).unwrap(), "3,2,1,0");
}

#[test]
fn a_local_partial_is_read_from_the_host_when_rendered() {
    let cb = Cookbooks::new();
    cb.write(
        "app/templates/default/main.erb",
        "<%= render '/etc/app/part.erb', local: true %>",
    );
    let err = cb
        .render("main.erb", json!({"x": 1}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be read"), "{err}");
    cb.write("etc/app/part.erb", "x=<%= @x %>");
    assert_eq!(cb.render("main.erb", json!({"x": 1})).unwrap(), "x=1");
}

#[test]
fn a_dynamic_partial_name_is_found_when_rendered() {
    let cb = Cookbooks::new();
    cb.write(
        "app/templates/default/main.erb",
        "<%= render \"#{@kind}.erb\" %>",
    );
    cb.write("app/templates/default/web.erb", "web");
    assert_eq!(
        cb.render("main.erb", json!({"kind": "web"})).unwrap(),
        "web"
    );
    let err = cb
        .render("main.erb", json!({"kind": "db"}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("db.erb") && err.contains("main.erb:1:5"),
        "{err}"
    );
}

#[test]
fn render_outside_a_resource_is_refused() {
    let template = ErbTemplate::compile(Path::new("/t.erb"), "<%= render 'x.erb' %>").unwrap();
    let err = template
        .render(&Map::new(), &json!({}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot render partials"), "{err}");
}

#[test]
fn helpers_and_partials_that_recurse_forever_fail_instead_of_overflowing_the_stack() {
    let cb = Cookbooks::new();
    cb.write("app/templates/default/main.erb", "<%= render 'deep.erb' %>");
    // Each level of nesting is deep by itself.
    let deep = format!("{}1{}", "(".repeat(60), ")".repeat(60));
    cb.write(
        "app/templates/default/deep.erb",
        &format!("<%= {deep} %><%= render 'deep.erb' %>"),
    );
    let err = cb.render("main.erb", json!({})).unwrap_err().to_string();
    assert!(
        err.contains("nested more than") || err.contains("stack level too deep"),
        "{err}"
    );
}

#[test]
fn a_helper_that_calls_itself_forever_fails_with_a_stack_error() {
    let file: Arc<Path> = Arc::from(Path::new("/cb/recipes/default.rb"));
    let program = crate::ruby::lower::parse_program(
        "helper { |n| again(n + 1) }",
        &crate::ruby::lower::LineIndex::new("helper { |n| again(n + 1) }"),
        None,
    )
    .unwrap();
    let crate::ruby::ast::Expr::Call(call) = &program.body.expr else {
        panic!("expected a call: {:?}", program.body.expr);
    };
    let Some(crate::ruby::ast::BlockArg::Code(block)) = &call.block else {
        panic!("expected a block");
    };
    let helper = TemplateHelper::new(
        "again".into(),
        file,
        crate::ruby::frozen::CapturedBlock {
            block: block.clone(),
            frames: Vec::new(),
            ivars: Vec::new(),
        },
    );
    let template = ErbTemplate::compile(Path::new("/t.erb"), "<%= again(0) %>").unwrap();
    let err = template
        .render_in(&RenderScope {
            variables: &Map::new(),
            node: &json!({}),
            cookbook: "app",
            partials: None,
            root: Path::new("/"),
            helpers: std::slice::from_ref(&helper),
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("stack level too deep"), "{err}");
}
