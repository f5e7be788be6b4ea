//! Tests of ERB: Erubis' trim rules (CHEF_SEMANTICS.md section l), Ruby output semantics,
//! error positions.

use super::*;
use serde_json::json;

fn render_with(source: &str, variables: Json, node: Json) -> String {
    let template = ErbTemplate::compile(Path::new("/cb/templates/t.erb"), source)
        .unwrap_or_else(|e| panic!("compile {source:?}: {e}"));
    let Json::Object(variables) = variables else {
        panic!("variables must be an object");
    };
    template
        .render(&variables, &node)
        .unwrap_or_else(|e| panic!("render {source:?}: {e}"))
}

fn render(source: &str) -> String {
    render_with(source, json!({}), json!({}))
}

fn render_error(source: &str, variables: Json, node: Json) -> String {
    let template = ErbTemplate::compile(Path::new("/cb/templates/t.erb"), source).unwrap();
    let Json::Object(variables) = variables else {
        panic!("variables must be an object");
    };
    match template.render(&variables, &node) {
        Ok(out) => panic!("expected an error, got {out:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_documented_example_renders_exactly() {
    let source =
        "port=<%= @port %>\n<% if @debug -%>\ndebug=1\n<% end -%>\nhost=<%= node[\"fqdn\"] %>\n";
    let out = render_with(
        source,
        json!({"port": 80, "debug": false}),
        json!({"fqdn": "host.example"}),
    );
    assert_eq!(out, "port=80\nhost=host.example\n");
    let out = render_with(
        source,
        json!({"port": 80, "debug": true}),
        json!({"fqdn": "host.example"}),
    );
    assert_eq!(out, "port=80\ndebug=1\nhost=host.example\n");
}

#[test]
fn trim_rule_statement_alone_on_a_line_produces_no_line() {
    assert_eq!(render("a\n<% x = 1 %>\nb\n"), "a\nb\n");
    assert_eq!(render("a\n  \t<% if true %>  \nb\n  <% end %>\n"), "a\nb\n");
}

#[test]
fn trim_rule_dash_statement_tags_alone_on_a_line_produce_no_line() {
    assert_eq!(render("a\n<%- if true -%>\nb\n<%- end -%>\nc"), "a\nb\nc");
}

#[test]
fn trim_rule_comment_alone_on_a_line_produces_no_line() {
    assert_eq!(render("a\n<%# a comment %>\nb\n"), "a\nb\n");
    assert_eq!(render("a\n  <%# two\nlines %>\nb\n"), "a\nb\n");
    assert_eq!(render("a <%# note %> b\n"), "a  b\n");
}

#[test]
fn trim_rule_statement_inside_text_keeps_the_text() {
    assert_eq!(render("x <% y = 1 %> z\n"), "x  z\n");
    assert_eq!(render("x <% y = 1 -%>\nz"), "x \nz");
}

#[test]
fn trim_rule_dash_after_expression_eats_the_newline() {
    assert_eq!(render("a=<%= 1 -%>\nb=<%= 2 %>\n"), "a=1b=2\n");
}

#[test]
fn trim_rule_expression_keeps_its_line_and_indentation() {
    assert_eq!(render("  <%= 'v' %>\n"), "  v\n");
    assert_eq!(render("<%= nil %>\n"), "\n");
}

#[test]
fn trim_rule_double_percent_is_a_literal_tag() {
    assert_eq!(render("<%% if x %>\n"), "<% if x %>\n");
    assert_eq!(render("a <%%= b %> c"), "a <%= b %> c");
}

#[test]
fn double_equals_escapes_html() {
    assert_eq!(
        render_with(
            "<%== @v %>|<%= @v %>",
            json!({"v": "<a href=\"x\">&'</a>"}),
            json!({})
        ),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#039;&lt;/a&gt;|<a href=\"x\">&'</a>"
    );
}

#[test]
fn output_uses_ruby_to_s() {
    let variables = json!({
        "nil": null, "int": 42, "float": 1.0, "big": 1.5e20, "t": true, "f": false,
        "list": ["a", 1, null, 2.5], "map": {"a": 1, "b": [true]}, "empty": {}
    });
    let source = "<%= @nil %>|<%= @int %>|<%= @float %>|<%= @big %>|<%= @t %>|<%= @f %>|<%= @list %>|<%= @map %>|<%= @empty %>|<%= @missing %>|<%= :sym %>";
    assert_eq!(
        render_with(source, variables, json!({})),
        r#"|42|1.0|1.5e+20|true|false|["a", 1, nil, 2.5]|{"a" => 1, "b" => [true]}|{}||sym"#
    );
}

#[test]
fn node_is_a_method_and_an_instance_variable() {
    let node = json!({"fqdn": "h.example", "nginx": {"port": 80, "sites": ["a", "b"]}});
    let source = "<%= node['fqdn'] %> <%= node[:nginx][:port] %> <%= @node['nginx']['sites'].join(',') %> <%= node.dig('nginx', 'port') %>";
    assert_eq!(render_with(source, json!({}), node), "h.example 80 a,b 80");
}

#[test]
fn blocks_and_methods_in_templates() {
    let variables = json!({
        "servers": [{"host": "b", "port": 2}, {"host": "a", "port": 1}],
        "opts": {"z": "1", "a": "2"},
        "words": "one two three"
    });
    let source = "\
<% @servers.sort_by { |s| s['host'] }.each_with_index do |s, i| -%>
<%= i %>:<%= s['host'] %>:<%= s.fetch('port', 0) + 1 %>
<% end -%>
<% @opts.keys.sort.each do |k| -%>
<%= k %>=<%= @opts[k] %>
<% end -%>
<% @opts.each_pair do |k, v| %><%= k %><%= v %>,<% end %>
<%= @words.split.map(&:capitalize).join(' ') %>
<%= @servers.map { |s| s['port'] }.sum %> <%= @servers.select { |s| s['port'] > 1 }.length %> <%= @servers.reject { |s| s['port'] > 1 }.first['host'] %>
<%= (1..3).map { |n| n * n }.join(',') %> <%= [3, nil, 1].compact.min %> <%= %w(b a b).uniq.sort %>
<%= @opts.key?('a') ? 'has-a' : 'no-a' %> <%= @words.include?('two') && !@words.empty? %> <%= @missing.nil? %>
<%= \"#{@words.length}-#{@words.upcase.sub('ONE', '1')}\" %> <%= @servers.first['host'].to_sym.inspect %>
";
    let expected = "\
0:a:2
1:b:3
a=2
z=1
z1,a2,
One Two Three
3 1 a
1,4,9 1 [\"a\", \"b\"]
has-a true true
13-1 TWO THREE :b
";
    assert_eq!(render_with(source, variables, json!({})), expected);
}

#[test]
fn case_and_unless_in_templates() {
    let source = "\
<% case node['platform'] -%>
<% when 'debian', 'ubuntu' -%>
apt
<% else -%>
yum
<% end -%>
<% unless @quiet -%>
loud
<% end -%>
";
    assert_eq!(
        render_with(
            source,
            json!({"quiet": false}),
            json!({"platform": "ubuntu"})
        ),
        "apt\nloud\n"
    );
}

#[test]
fn nginx_style_template() {
    let source = "\
# Generated by Chef for <%= node['fqdn'] %>
upstream <%= @name %> {
<% if @least_conn -%>
  least_conn;
<% end -%>
<% @servers.each do |server| -%>
  server <%= server['host'] %>:<%= server['port'] || 80 %><% if server['backup'] %> backup<% end %>;
<% end -%>
}

server {
  listen <%= @port %><%= ' default_server' if @default %>;
  server_name <%= @server_names.join(' ') %>;
<% @locations.each_pair do |path, target| -%>
  location <%= path %> {
    proxy_pass http://<%= target %>;
  }
<% end -%>
<%# access logs go to syslog -%>
  access_log <%= node['nginx']['log_dir'] %>/access.log;
}
";
    let variables = json!({
        "name": "app",
        "least_conn": true,
        "servers": [
            {"host": "10.0.0.1", "port": 8080},
            {"host": "10.0.0.2"},
            {"host": "10.0.0.3", "port": 8080, "backup": true}
        ],
        "port": 80,
        "default": true,
        "server_names": ["example.com", "www.example.com"],
        "locations": {"/": "app", "/static": "static"}
    });
    let node = json!({"fqdn": "lb1.example", "nginx": {"log_dir": "/var/log/nginx"}});
    let expected = "\
# Generated by Chef for lb1.example
upstream app {
  least_conn;
  server 10.0.0.1:8080;
  server 10.0.0.2:80;
  server 10.0.0.3:8080 backup;
}

server {
  listen 80 default_server;
  server_name example.com www.example.com;
  location / {
    proxy_pass http://app;
  }
  location /static {
    proxy_pass http://static;
  }
  access_log /var/log/nginx/access.log;
}
";
    assert_eq!(render_with(source, variables, node), expected);
}

#[test]
fn syntax_errors_point_at_the_tag_in_the_template() {
    let err = ErbTemplate::compile(Path::new("/t.erb"), "line1\nline2 <% if %>\n<% end %>\n")
        .unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("/t.erb:2:"), "{message}");
    assert!(message.contains("syntax error"), "{message}");
    let err = ErbTemplate::compile(Path::new("/t.erb"), "a\n\n  <%= x.each do %>\n").unwrap_err();
    assert!(err.to_string().starts_with("/t.erb:"), "{err}");
    let err =
        ErbTemplate::compile(Path::new("/t.erb"), "ok\n  <% while true %><% end %>").unwrap_err();
    assert_eq!(
        err.to_string(),
        "/t.erb:2:6: unsupported Ruby: `while` loop"
    );
    let err = ErbTemplate::compile(Path::new("/t.erb"), "a\nb <%= 1 ").unwrap_err();
    assert_eq!(
        err.to_string(),
        "/t.erb:2:3: unterminated ERB tag: `<%` without a closing `%>`"
    );
}

#[test]
fn render_errors_point_at_the_expression() {
    let message = render_error("a\nb <%= node['a']['b'] %>\n", json!({}), json!({}));
    assert_eq!(
        message,
        "/cb/templates/t.erb:2:7: undefined method `[]` for nil (`node['a']` is nil) (NoMethodError)"
    );
    let message = render_error("<%= @port.upcase %>", json!({"port": 80}), json!({}));
    assert_eq!(
        message,
        "/cb/templates/t.erb:1:5: undefined method `upcase` for Integer (NoMethodError)"
    );
}

#[test]
fn templates_compile_once_and_render_many_times() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ErbTemplate>();
    let template = ErbTemplate::compile(Path::new("/t.erb"), "<%= @n * 2 %>").unwrap();
    for n in 0..3 {
        let mut variables = Map::new();
        variables.insert("n".to_string(), json!(n));
        assert_eq!(
            template.render(&variables, &json!({})).unwrap(),
            (n * 2).to_string()
        );
    }
}

#[test]
fn generated_ruby_keeps_template_lines() {
    let code = ErbTemplate::ruby_source("a\n<% if x %>\nb\n<% end %>\n").unwrap();
    assert_eq!(code.matches('\n').count(), 4, "{code}");
}

#[test]
fn regular_expressions_in_templates() {
    let node = json!({"platform_version": "12.5", "hostname": "web-01.prod"});
    let source = "<%= node['platform_version'][/\\A\\d+/] %> <%= node['hostname'].gsub(/[-.]/, '_') %><% if node['hostname'] =~ /prod/ %> prod<% end %>";
    assert_eq!(render_with(source, json!({}), node), "12 web_01_prod prod");
}

#[test]
fn node_methods_chef_offers_work_in_templates() {
    let node = json!({"name": "web1", "chef_environment": "prod", "platform": "debian", "platform_family": "debian", "a": {"b": 1}});
    let source = "<%= node.name %>@<%= node.chef_environment %> <%= platform?('debian', 'ubuntu') %> <%= platform_family?('rhel') %> <%= node.attribute?('a') %> <%= @node.keys.length %> <%= node['a'].to_a %>";
    assert_eq!(
        render_with(source, json!({}), node),
        r#"web1@prod true false true 5 [["b", 1]]"#
    );
    let message = render_error("<% node['x'] = 1 %>", json!({}), json!({}));
    assert!(
        message.contains("ImmutableAttributeModification"),
        "{message}"
    );
}

#[test]
#[ignore = "timing probe"]
fn compile_phase_timing() {
    let source = std::fs::read_to_string("tests/ruby_templates.rs").unwrap();
    let start = source.find("upstream <%=").unwrap();
    let end = source[start..].find("\";").unwrap() + start;
    let template = source[start..end].replace("\\\n", "\n").repeat(3);
    let t = std::time::Instant::now();
    for _ in 0..100 {
        let _ = convert(&template).unwrap();
    }
    println!("convert: {:?}", t.elapsed() / 100);
    let converted = convert(&template).unwrap();
    let t = std::time::Instant::now();
    for _ in 0..100 {
        let r = ruby_prism::parse(converted.code.as_bytes());
        assert_eq!(r.errors().count(), 0);
    }
    println!("prism: {:?}", t.elapsed() / 100);
    let spans = TemplateSpans {
        segments: &converted.segments,
        template: LineIndex::new(&template),
    };
    let t = std::time::Instant::now();
    for _ in 0..100 {
        parse_program(&converted.code, &spans, Some(&converted.texts)).unwrap();
    }
    println!(
        "parse_program: {:?} ({} bytes)",
        t.elapsed() / 100,
        converted.code.len()
    );
}

#[test]
fn trim_rules_apply_to_crlf_lines() {
    assert_eq!(
        render("a\r\n<% if true %>\r\nb\r\n  <% end -%>\r\nc=<%= 1 -%>\r\nd"),
        "a\r\nb\r\nc=1d"
    );
}
