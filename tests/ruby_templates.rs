//! ERB templates and Ruby config files through the public API, with real files on disk.

use serde_json::{json, Map, Value};
use skillet::ruby::erb::ErbTemplate;
use skillet::ruby::eval_dsl_calls;
use skillet::template::TemplateEngine;
use std::time::Instant;

const UPSTREAM: &str = "\
upstream <%= @name %> {
<% @servers.each do |server| -%>
  server <%= server['host'] %>:<%= server['port'] || 80 %><%= ' backup' if server['backup'] %>;
<% end -%>
}
server {
  listen <%= node['nginx']['port'] %>;
  server_name <%= node['fqdn'] %> <%= @aliases.join(' ') %>;
<% if node['nginx']['gzip'] -%>
  gzip on;
  gzip_types <%= node['nginx']['gzip_types'].sort.join(' ') %>;
<% end -%>
<% node['nginx']['locations'].each_pair do |path, conf| -%>
  location <%= path %> { proxy_pass <%= conf['to'] %>; }
<% end -%>
}
";

fn big_node() -> Value {
    let mut automatic = Map::new();
    for i in 0..2000 {
        automatic.insert(
            format!("key{i}"),
            json!({"a": i, "b": [1, 2, 3], "c": "text"}),
        );
    }
    automatic.insert("fqdn".into(), json!("lb1.example"));
    automatic.insert(
        "nginx".into(),
        json!({"port": 80, "gzip": true, "gzip_types": ["text/css", "application/json", "text/plain"],
               "locations": {"/": {"to": "http://app"}, "/static": {"to": "http://static"}}}),
    );
    Value::Object(automatic)
}

fn variables() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "name": "app",
        "aliases": ["www.example.com", "example.com"],
        "servers": [{"host": "10.0.0.1", "port": 8080}, {"host": "10.0.0.2"}, {"host": "10.0.0.3", "backup": true}]
    }) else {
        unreachable!()
    };
    map
}

#[test]
fn a_template_file_from_disk_renders_with_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nginx.conf.erb");
    std::fs::write(&path, UPSTREAM).unwrap();
    let source = std::fs::read_to_string(&path).unwrap();
    let template = ErbTemplate::compile(&path, &source).unwrap();
    let out = template.render(&variables(), &big_node()).unwrap();
    assert_eq!(
        out,
        "\
upstream app {
  server 10.0.0.1:8080;
  server 10.0.0.2:80;
  server 10.0.0.3:80 backup;
}
server {
  listen 80;
  server_name lb1.example www.example.com example.com;
  gzip on;
  gzip_types application/json text/css text/plain;
  location / { proxy_pass http://app; }
  location /static { proxy_pass http://static; }
}
"
    );
}

#[test]
fn a_cookbook_metadata_file_reads_its_readme() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "Long text\n").unwrap();
    let path = dir.path().join("metadata.rb");
    let source = "name 'web'\nversion '1.2.3'\ndepends 'nginx', '~> 2.0'\nlong_description IO.read(File.join(File.dirname(__FILE__), 'README.md'))\n";
    std::fs::write(&path, source).unwrap();
    let calls = eval_dsl_calls(&path, source).unwrap();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[3].method, "long_description");
    assert_eq!(calls[3].args, [json!("Long text\n")]);
}

/// Run with `cargo test --release --test ruby_templates -- --ignored` to see the render cost.
#[test]
#[ignore = "timing; run by hand in release mode"]
fn hundred_renders_are_fast() {
    let node = big_node();
    let variables = variables();
    let big = UPSTREAM.repeat(3);
    let compile_start = Instant::now();
    let templates: Vec<ErbTemplate> = (0..100)
        .map(|i| {
            let source = if i < 50 { UPSTREAM } else { big.as_str() };
            if i == 50 {
                println!("50 small compiles: {:?}", compile_start.elapsed());
            }
            ErbTemplate::compile(std::path::Path::new(&format!("/t{i}.erb")), source).unwrap()
        })
        .collect();
    println!("100 compiles: {:?}", compile_start.elapsed());
    let start = Instant::now();
    for template in &templates {
        template.render(&variables, &node).unwrap();
    }
    let elapsed = start.elapsed();
    println!("100 renders: {elapsed:?}");
    assert!(elapsed.as_millis() < 20, "{elapsed:?}");
}
