//! Tests of the evaluator, attribute files and config-style files.

use super::interp::{Interp, PlainHost};
use super::*;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::path::PathBuf;

/// Evaluates Ruby and returns `inspect` of the last value.
fn ruby(source: &str) -> String {
    try_ruby(source).unwrap_or_else(|e| panic!("{source}: {e}"))
}

fn try_ruby(source: &str) -> crate::Result<String> {
    let path = PathBuf::from("/t/test.rb");
    let program = parse_file(&path, source)?;
    let mut host = PlainHost;
    let mut interp = Interp::new(&path, &mut host);
    interp
        .run(&program)
        .map(|v| v.inspect())
        .map_err(|f| fault_to_error(&path, f))
}

fn error(source: &str) -> String {
    match try_ruby(source) {
        Ok(v) => panic!("expected an error from {source:?}, got {v}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn arithmetic_follows_ruby_precedence_and_integer_rules() {
    assert_eq!(ruby("1 + 2 * 3"), "7");
    assert_eq!(ruby("(1 + 2) * 3"), "9");
    assert_eq!(ruby("2 ** 10 - 1"), "1023");
    assert_eq!(ruby("7 / 2"), "3");
    assert_eq!(ruby("-7 / 2"), "-4");
    assert_eq!(ruby("-7 % 3"), "2");
    assert_eq!(ruby("1.0 / 4"), "0.25");
    assert_eq!(ruby("3 * 1.5"), "4.5");
    assert_eq!(ruby("10.0"), "10.0");
    assert_eq!(ruby("1_000 + 0x10"), "1016");
    assert!(error("1 / 0").contains("divided by 0"));
}

#[test]
fn strings_interpolate_and_have_ruby_methods() {
    assert_eq!(ruby("x = 'w'; \"a#{x}b#{1 + 1}\""), "\"awb2\"");
    assert_eq!(
        ruby("'a,b,c'.split(',').map(&:upcase).join('-')"),
        "\"A-B-C\""
    );
    assert_eq!(ruby("'hello world'.gsub('o', '0')"), "\"hell0 w0rld\"");
    assert_eq!(ruby("'hello'.sub('l', 'L')"), "\"heLlo\"");
    assert_eq!(ruby("'  pad  '.strip.capitalize"), "\"Pad\"");
    assert_eq!(
        ruby("'nginx.conf'.end_with?('.conf') && 'x'.start_with?('x')"),
        "true"
    );
    assert_eq!(ruby("'80'.to_i + '1.5'.to_f"), "81.5");
    assert_eq!(ruby("'ab' * 2 + 'c'"), "\"ababc\"");
    assert_eq!(ruby("'%05.1f|%s' % [3.14159, :x]"), "\"003.1|x\"");
    assert_eq!(ruby("format('%-3s|', 'a')"), "\"a  |\"");
    assert_eq!(ruby("'abc'[1..]"), "\"bc\"");
    assert_eq!(ruby("'abc'[0]"), "\"a\"");
    assert_eq!(ruby(":sym.to_s + 'x'.to_sym.inspect"), "\"sym:x\"");
}

#[test]
fn literals_cover_words_symbols_heredocs_and_hashes() {
    assert_eq!(ruby("%w(a b c)"), r#"["a", "b", "c"]"#);
    assert_eq!(ruby("%i(a b)"), "[:a, :b]");
    assert_eq!(
        ruby("{ 'a' => 1, b: [nil, true], 'c-d': 2.0 }"),
        r#"{"a" => 1, b: [nil, true], "c-d": 2.0}"#
    );
    assert_eq!(
        ruby("x = 3\n<<~EOS\n  one #{x}\n    two\nEOS\n"),
        r#""one 3\n  two\n""#
    );
    assert_eq!(ruby("(1..4).to_a"), "[1, 2, 3, 4]");
    assert_eq!(ruby("(1...4).map { |i| i * 2 }"), "[2, 4, 6]");
    assert_eq!(ruby("__FILE__"), "\"/t/test.rb\"");
    assert_eq!(ruby("__dir__"), "\"/t\"");
}

#[test]
fn control_flow_matches_ruby() {
    assert_eq!(
        ruby("x = 5\nif x > 3 then 'big' elsif x > 1 then 'mid' else 'small' end"),
        "\"big\""
    );
    assert_eq!(ruby("x = 2\nunless x == 2 then 'a' else 'b' end"), "\"b\"");
    assert_eq!(ruby("y = 1\ny = 2 if false\ny"), "1");
    assert_eq!(ruby("y = 1\ny += 1 unless nil\ny"), "2");
    assert_eq!(ruby("nil || 'd'"), "\"d\"");
    assert_eq!(ruby("1 && nil"), "nil");
    assert_eq!(ruby("!nil && !false"), "true");
    assert_eq!(ruby("true ? 1 : 2"), "1");
    assert_eq!(ruby("a ||= 4\na"), "4");
    assert_eq!(
        ruby("case 'ubuntu'\nwhen 'debian', 'ubuntu' then 'deb'\nwhen 'centos' then 'rpm'\nelse 'x'\nend"),
        "\"deb\""
    );
    assert_eq!(
        ruby("case 7\nwhen 1..5 then 'low'\nwhen 6..10 then 'high'\nend"),
        "\"high\""
    );
    assert_eq!(
        ruby("case 'x'\nwhen Integer then 'int'\nwhen String then 'str'\nend"),
        "\"str\""
    );
    assert_eq!(ruby("a, b = [1, 2]\nb"), "2");
    assert_eq!(
        ruby("begin\n  raise 'boom'\nrescue => e\n  \"caught #{e}\"\nend"),
        "\"caught boom\""
    );
    assert_eq!(ruby("(raise 'x') rescue 'fallback'"), "\"fallback\"");
}

#[test]
fn blocks_see_and_change_outer_locals() {
    assert_eq!(ruby("sum = 0\n[1, 2, 3].each { |x| sum += x }\nsum"), "6");
    assert_eq!(ruby("[3, 1, 2].sort_by { |x| -x }"), "[3, 2, 1]");
    assert_eq!(ruby("[1, 2, 3, 4].select(&:even?)"), "[2, 4]");
    assert_eq!(ruby("[1, 2, 3].reject { |x| x == 2 }"), "[1, 3]");
    assert_eq!(ruby("[1, 2, 3].inject(0) { |m, x| m + x }"), "6");
    assert_eq!(
        ruby("[1, 2, 3].map { |x| next 0 if x == 2; x }"),
        "[1, 0, 3]"
    );
    assert_eq!(ruby("[1, 2, 3].each { |x| break x * 10 if x == 2 }"), "20");
    assert_eq!(
        ruby("r = []\n{ 'a' => 1, 'b' => 2 }.each { |k, v| r << \"#{k}=#{v}\" }\nr"),
        r#"["a=1", "b=2"]"#
    );
    assert_eq!(
        ruby("r = []\n%w(x y).each_with_index { |v, i| r << \"#{i}#{v}\" }\nr"),
        r#"["0x", "1y"]"#
    );
    assert_eq!(
        ruby("%w(a b).each_with_index.map { |x, i| \"#{i}#{x}\" }"),
        r#"["0a", "1b"]"#
    );
    assert_eq!(
        ruby("%w(a b).map.with_index(1) { |x, i| \"#{i}#{x}\" }"),
        r#"["1a", "2b"]"#
    );
    assert_eq!(
        ruby("%w(a b).each.with_index.to_a"),
        r#"[["a", 0], ["b", 1]]"#
    );
    assert_eq!(
        ruby("{ 'k' => 1 }.each_with_index.map { |(k, v), i| [k, v, i] }"),
        r#"[["k", 1, 0]]"#
    );
    assert_eq!(ruby("3.times.map { |i| i * 2 }"), "[0, 2, 4]");
    assert_eq!(ruby("(1..3).each_slice(2).to_a"), "[[1, 2], [3]]");
    assert_eq!(
        ruby("{ 'b' => 2, 'a' => 1 }.sort.map { |k, v| k }"),
        r#"["a", "b"]"#
    );
    assert_eq!(
        ruby("{ 'a' => 1, 'b' => 2 }.select { |k, v| v > 1 }"),
        r#"{"b" => 2}"#
    );
    assert_eq!(ruby("3.times.to_a"), "[0, 1, 2]");
    assert_eq!(ruby("[[1, 2], [3, 4]].map { |(a, b)| a + b }"), "[3, 7]");
}

#[test]
fn collection_methods_match_ruby() {
    assert_eq!(ruby("[3, 1, nil, 3].compact.uniq.sort"), "[1, 3]");
    assert_eq!(ruby("[[1, [2]], 3].flatten"), "[1, 2, 3]");
    assert_eq!(ruby("[1, 5, 2].max + [1, 5, 2].min"), "6");
    assert_eq!(ruby("[1, 2].include?(2) && [].empty?"), "true");
    assert_eq!(ruby("[1, 2, 3].first(2) + [1, 2, 3].last(1)"), "[1, 2, 3]");
    assert_eq!(ruby("{ 'a' => { 'b' => 1 } }.dig('a', 'b')"), "1");
    assert_eq!(ruby("{ 'a' => 1 }.fetch('x', 5)"), "5");
    assert_eq!(ruby("{ 'a' => 1 }.merge('b' => 2).keys"), r#"["a", "b"]"#);
    assert_eq!(
        ruby("{ 'a' => 1 }.key?('a') && !{ 'a' => 1 }.has_key?('b')"),
        "true"
    );
    assert_eq!(ruby("{ a: 1 }.to_a"), "[[:a, 1]]");
    assert_eq!(ruby("[1, 2, 3].each_slice(2).to_a"), "[[1, 2], [3]]");
    assert_eq!(ruby("%w(a b a).group_by { |x| x }.keys"), r#"["a", "b"]"#);
    assert_eq!(ruby("[1, 2].zip([3, 4])"), "[[1, 3], [2, 4]]");
    assert!(error("{ 'a' => 1 }.fetch('x')").contains("key not found: \"x\""));
}

#[test]
fn methods_defined_with_def_have_their_own_scope() {
    assert_eq!(
        ruby("x = 10\ndef twice(n)\n  return n * 2 if n > 0\n  0\nend\n[twice(x), twice(-1)]"),
        "[20, 0]"
    );
    assert_eq!(ruby("def greet(who)\n  \"hi #{who}\"\nend"), ":greet");
    assert!(
        error("x = 1\ndef peek\n  x\nend\npeek").contains("undefined local variable or method `x`")
    );
    assert!(error("def one(a)\n  a\nend\none")
        .contains("wrong number of arguments (given 0, expected 1)"));
}

#[test]
fn unsupported_constructs_are_refused_with_their_position() {
    assert_eq!(
        error("x = 1\nwhile x < 3\n  x += 1\nend\n"),
        "/t/test.rb:2:1: unsupported Ruby: `while` loop"
    );
    assert_eq!(
        error("module Helpers\nend"),
        "/t/test.rb:1:1: unsupported Ruby: module definition (`module Helpers`); modules are read only from a cookbook's libraries/, as template helpers"
    );
    assert_eq!(
        error("def helper(a = 1)\n  a\nend"),
        "/t/test.rb:1:1: unsupported Ruby: method parameters other than plain names"
    );
    assert_eq!(
        error("def self.helper\n  1\nend"),
        "/t/test.rb:1:1: unsupported Ruby: a method defined on an object (`def self.x`)"
    );
    assert_eq!(
        error("x = 1\n  $stdout"),
        "/t/test.rb:2:3: unsupported Ruby: global variable"
    );
    assert_eq!(
        error("a = 'x'.frobnicate"),
        "/t/test.rb:1:5: undefined method `frobnicate` for String"
    );
    assert_eq!(
        error("a = 1\nb = missing_thing"),
        "/t/test.rb:2:5: undefined local variable or method `missing_thing`"
    );
    assert_eq!(
        error("nil.upcase"),
        "/t/test.rb:1:1: undefined method `upcase` for nil"
    );
    assert_eq!(
        error("h = {}\nh['a']['b']"),
        "/t/test.rb:2:1: undefined method `[]` for nil (`h['a']` is nil)"
    );
    assert_eq!(
        error("'x' + 1"),
        "/t/test.rb:1:1: no implicit conversion of Integer into String"
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let message = error("a = 1\nif a\n  b = [1,\n");
    assert!(message.starts_with("/t/test.rb:"), "{message}");
    assert!(message.contains("syntax error"), "{message}");
    let message = error("x = )");
    assert!(message.starts_with("/t/test.rb:1:"), "{message}");
}

#[test]
fn odd_input_never_panics() {
    for source in [
        "",
        "\0",
        "<<~",
        "\"#{",
        "[1,2,3][",
        "x = 9999999999999999999999",
        "a.b.c.d",
        "%w(",
        "def",
        "1..",
        "::Foo",
        "'é'.upcase * 3",
        "{ a: } ",
        "->(x) { x }",
        "`ls`",
        "/re/ =~ 'x'",
        "BEGIN { }",
        "[].first.first",
    ] {
        let _ = try_ruby(source);
    }
    assert!(error("x = 9999999999999999999999").contains("64 bits"));
}

/// An in-memory node for attribute file tests: levels plus automatic attributes.
#[derive(Default)]
struct TestNode {
    automatic: Json,
    levels: HashMap<&'static str, Json>,
    writes: Vec<AttributeWrite>,
    included: Vec<String>,
}

fn level_name(level: WriteLevel) -> &'static str {
    match level {
        WriteLevel::Default => "default",
        WriteLevel::ForceDefault => "force_default",
        WriteLevel::Normal => "normal",
        WriteLevel::Override => "override",
        WriteLevel::ForceOverride => "force_override",
    }
}

fn lookup<'j>(json: &'j Json, path: &[String]) -> Option<&'j Json> {
    path.iter().try_fold(json, |j, k| j.get(k))
}

fn merge(onto: &mut Json, with: &Json) {
    match (onto, with) {
        (Json::Object(a), Json::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (onto, with) => *onto = with.clone(),
    }
}

impl TestNode {
    fn with_automatic(automatic: Json) -> Self {
        Self {
            automatic,
            ..Self::default()
        }
    }

    fn merged(&self) -> Json {
        let mut out = json!({});
        for level in [
            "default",
            "force_default",
            "normal",
            "override",
            "force_override",
        ] {
            if let Some(l) = self.levels.get(level) {
                merge(&mut out, l);
            }
        }
        merge(&mut out, &self.automatic);
        out
    }

    fn level(&self, level: &str) -> Json {
        self.levels.get(level).cloned().unwrap_or(json!({}))
    }
}

impl NodeAccess for TestNode {
    fn read(&self, path: &[String]) -> Option<Json> {
        lookup(&self.merged(), path).cloned()
    }

    fn read_level(&self, level: WriteLevel, path: &[String]) -> Option<Json> {
        self.levels
            .get(level_name(level))
            .and_then(|l| lookup(l, path))
            .cloned()
    }

    fn write(&mut self, write: AttributeWrite) -> Result<(), String> {
        if write.path.first().is_some_and(|k| k == "forbidden") {
            return Err("writes to `forbidden` are refused".to_string());
        }
        let present = self
            .read_level(write.level, &write.path)
            .is_some_and(|v| !v.is_null());
        self.writes.push(write.clone());
        if write.op == WriteOp::SetUnless && present {
            return Ok(());
        }
        let mut cursor = self
            .levels
            .entry(level_name(write.level))
            .or_insert_with(|| json!({}));
        let Some((last, parents)) = write.path.split_last() else {
            return Err("empty path".to_string());
        };
        for key in parents {
            if !cursor.get(key).is_some_and(Json::is_object) {
                cursor[key.as_str()] = json!({});
            }
            cursor = &mut cursor[key.as_str()];
        }
        cursor[last.as_str()] = write.value;
        Ok(())
    }

    fn include_attribute(&mut self, name: &str) -> Result<(), String> {
        if name == "missing::default" {
            return Err("could not find attribute file `missing::default`".to_string());
        }
        self.included.push(name.to_string());
        Ok(())
    }
}

fn attributes(source: &str, node: &mut TestNode) -> crate::Result<()> {
    eval_attribute_file(Path::new("/cb/attributes/default.rb"), source, node)
}

fn debian() -> TestNode {
    TestNode::with_automatic(json!({
        "platform": "debian", "platform_family": "debian", "platform_version": "12.5",
        "fqdn": "web1.example", "memory": {"total": "2048kB"}
    }))
}

#[test]
fn attribute_files_write_every_precedence_level() {
    let mut node = debian();
    let source = "\
default['a']['b'] = 'x'
default[:sym][:key] = :value
force_default['fd'] = 1
normal['n'] = 2
set['s'] = 3
override['o'] = 4
force_override['fo'] = 5
node.default['nd'] = 1.5
node.override['no'] = true
node.set['ns'] = nil
node.normal['nn'] = [1, 'two', :three]
";
    attributes(source, &mut node).unwrap();
    assert_eq!(
        node.level("default"),
        json!({"a": {"b": "x"}, "sym": {"key": "value"}, "nd": 1.5})
    );
    assert_eq!(node.level("force_default"), json!({"fd": 1}));
    assert_eq!(
        node.level("normal"),
        json!({"n": 2, "s": 3, "ns": null, "nn": [1, "two", "three"]})
    );
    assert_eq!(node.level("override"), json!({"o": 4, "no": true}));
    assert_eq!(node.level("force_override"), json!({"fo": 5}));
    assert_eq!(node.writes[0].path, ["a", "b"]);
    assert_eq!(node.writes[0].op, WriteOp::Set);
}

#[test]
fn unless_and_bang_writers_pass_their_operation() {
    let mut node = debian();
    let source = "\
default['keep'] = 'first'
default_unless['keep'] = 'second'
default_unless['new'] = 'third'
normal_unless['nu'] = 1
set_unless['su'] = 2
override_unless['ou'] = 3
node.default!['replaced'] = { 'x' => 1 }
node.force_default!['forced'] = 2
node.force_override!['fo'] = 3
";
    attributes(source, &mut node).unwrap();
    assert_eq!(node.level("default")["keep"], json!("first"));
    assert_eq!(node.level("default")["new"], json!("third"));
    let ops: Vec<(WriteLevel, WriteOp)> = node.writes.iter().map(|w| (w.level, w.op)).collect();
    assert_eq!(ops[1], (WriteLevel::Default, WriteOp::SetUnless));
    assert_eq!(ops[3], (WriteLevel::Normal, WriteOp::SetUnless));
    assert_eq!(ops[4], (WriteLevel::Normal, WriteOp::SetUnless));
    assert_eq!(ops[5], (WriteLevel::Override, WriteOp::SetUnless));
    assert_eq!(ops[6], (WriteLevel::Default, WriteOp::Replace));
    assert_eq!(ops[7], (WriteLevel::ForceDefault, WriteOp::ForceReplace));
    assert_eq!(ops[8], (WriteLevel::ForceOverride, WriteOp::ForceReplace));
}

#[test]
fn attribute_values_cover_ruby_literals() {
    let mut node = debian();
    let source = "\
default['app']['hash'] = { 'k' => 'v', sym: :val, 'n' => { 'deep' => [1, 2.5] } }
default['app']['words'] = %w(a b c)
default['app']['syms'] = %i(x y)
default['app']['range'] = (1..3)
default['app']['motd'] = <<~EOS
  Welcome to #{node['fqdn']}
EOS
default['app']['float'] = 1.0
default['app']['neg'] = -3
";
    attributes(source, &mut node).unwrap();
    assert_eq!(
        node.level("default")["app"],
        json!({
            "hash": {"k": "v", "sym": "val", "n": {"deep": [1, 2.5]}},
            "words": ["a", "b", "c"], "syms": ["x", "y"], "range": [1, 2, 3],
            "motd": "Welcome to web1.example\n", "float": 1.0, "neg": -3
        })
    );
}

#[test]
fn node_reads_see_merged_attributes_and_earlier_writes() {
    let mut node = debian();
    let source = "\
default['a'] = 'base'
default['b'] = \"#{node['a']}-x\"
default['mem'] = node['memory']['total'].to_i / 1024
default['plat'] = node['platform'] == 'debian' ? 'deb' : 'other'
default['own'] = default['a'] + '!'
default['c'] = node.platform
default['d'] = node['missing'].nil?
";
    attributes(source, &mut node).unwrap();
    let d = node.level("default");
    assert_eq!(d["b"], json!("base-x"));
    assert_eq!(d["mem"], json!(2));
    assert_eq!(d["plat"], json!("deb"));
    assert_eq!(d["own"], json!("base!"));
    assert_eq!(d["c"], json!("debian"));
    assert_eq!(d["d"], json!(true));
}

#[test]
fn reading_through_a_missing_attribute_is_a_clear_error() {
    let mut node = debian();
    let err = attributes("x = 1\ndefault['v'] = node['nope']['deeper']", &mut node).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/cb/attributes/default.rb:2:16: undefined method `[]` for nil (`node['nope']` is nil)"
    );
    assert_eq!(err.class(), "NoMethodError");
}

#[test]
fn writing_to_the_merged_view_is_immutable_attribute_modification() {
    let mut node = debian();
    let err = attributes("node['platform_x'] = 1", &mut node).unwrap_err();
    assert_eq!(
        err.class(),
        "Chef::Exceptions::ImmutableAttributeModification"
    );
    let err = attributes("node['memory']['total'] = 1", &mut node).unwrap_err();
    assert_eq!(
        err.class(),
        "Chef::Exceptions::ImmutableAttributeModification"
    );
    assert!(
        err.to_string()
            .starts_with("/cb/attributes/default.rb:1:1: "),
        "{err}"
    );
    attributes(
        "m = node['memory'].dup\nm['extra'] = 1\ndefault['m'] = m",
        &mut node,
    )
    .unwrap();
    assert_eq!(
        node.level("default")["m"],
        json!({"total": "2048kB", "extra": 1})
    );
}

#[test]
fn platform_helpers_read_automatic_attributes() {
    let mut node = debian();
    let source = "\
default['is_debian'] = platform?('debian')
default['is_rhel'] = platform?('centos', 'redhat')
default['family'] = platform_family?('rhel', 'debian')
default['pkg'] = value_for_platform_family('debian' => 'apache2', %w(rhel fedora) => 'httpd')
default['fallback'] = value_for_platform_family('rhel' => 'x', 'default' => 'y')
default['ver'] = value_for_platform(
  'debian' => { '>= 12' => 'new', 'default' => 'old' },
  %w(ubuntu) => { 'default' => 'u' }
)
default['exact'] = value_for_platform('debian' => { '12.5' => 'exact', '>= 1' => 'c' })
";
    attributes(source, &mut node).unwrap();
    let d = node.level("default");
    assert_eq!(d["is_debian"], json!(true));
    assert_eq!(d["is_rhel"], json!(false));
    assert_eq!(d["family"], json!(true));
    assert_eq!(d["pkg"], json!("apache2"));
    assert_eq!(d["fallback"], json!("y"));
    assert_eq!(d["ver"], json!("new"));
    assert_eq!(d["exact"], json!("exact"));
}

#[test]
fn attribute_files_support_locals_conditionals_and_case() {
    let mut node = debian();
    let source = "\
port = 8080
ports = [port, port + 1]
if platform_family?('debian')
  default['svc']['user'] = 'www-data'
elsif platform_family?('rhel')
  default['svc']['user'] = 'apache'
end
default['svc']['group'] = 'adm' unless node['platform'] == 'centos'
default['svc']['ports'] = ports.map { |p| p.to_s }
case node['platform']
when 'debian', 'ubuntu'
  default['svc']['conf'] = '/etc/svc'
else
  default['svc']['conf'] = '/opt/svc'
end
default['svc']['list'] = []
default['svc']['list'] << 'one'
default['svc']['list'].push('two')
default['svc']['opt'] ||= 'set-once'
default['svc']['opt'] ||= 'ignored'
default['svc']['count'] = 1
default['svc']['count'] += 1
default['svc']['env'] = { 'A' => '1' }
default['svc']['env'].merge!('B' => '2')
";
    attributes(source, &mut node).unwrap();
    assert_eq!(
        node.level("default")["svc"],
        json!({
            "user": "www-data", "group": "adm", "ports": ["8080", "8081"], "conf": "/etc/svc",
            "list": ["one", "two"], "opt": "set-once", "count": 2,
            "env": {"A": "1", "B": "2"}
        })
    );
}

#[test]
fn include_attribute_and_early_return() {
    let mut node = debian();
    attributes(
        "include_attribute 'base::default'\nreturn if platform?('debian')\ndefault['never'] = 1",
        &mut node,
    )
    .unwrap();
    assert_eq!(node.included, ["base::default"]);
    assert_eq!(node.level("default"), json!({}));
    let err = attributes("\n  include_attribute 'missing::default'", &mut node).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/cb/attributes/default.rb:2:3: could not find attribute file `missing::default`"
    );
}

#[test]
fn refused_writes_become_errors_at_the_write() {
    let mut node = debian();
    let err = attributes("a = 1\ndefault['forbidden']['x'] = a", &mut node).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/cb/attributes/default.rb:2:1: writes to `forbidden` are refused"
    );
}

#[test]
fn unsupported_code_in_attribute_files_names_the_construct() {
    let mut node = debian();
    let err = attributes("default['a'] = 1\nclass Foo; end", &mut node).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/cb/attributes/default.rb:2:1: unsupported Ruby: class definition"
    );
    let err = attributes("default['a'] = undefined_helper('x')", &mut node).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/cb/attributes/default.rb:1:16: undefined method `undefined_helper`"
    );
}

#[test]
fn metadata_rb_becomes_calls_with_arguments() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "# nginx\nInstalls nginx.\n").unwrap();
    let path = dir.path().join("metadata.rb");
    let source = "\
name             'nginx'
maintainer       'Ops'
version          '2.1.0'
description      'Installs nginx'
long_description IO.read(File.join(File.dirname(__FILE__), 'README.md'))
depends          'apt', '>= 2.0'
depends          'logrotate'
%w(debian ubuntu).each do |os|
  supports os
end
recipe 'nginx::default', 'Installs the package'
chef_version '>= 15' if true
issues_url \"https://example.com/#{'nginx'}/issues\"
gem 'x', version: '1.0', require: false
";
    let calls = eval_dsl_calls(&path, source).unwrap();
    let summary: Vec<(String, Vec<Json>)> = calls
        .iter()
        .map(|c| (c.method.clone(), c.args.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("name".to_string(), vec![json!("nginx")]),
            ("maintainer".to_string(), vec![json!("Ops")]),
            ("version".to_string(), vec![json!("2.1.0")]),
            ("description".to_string(), vec![json!("Installs nginx")]),
            (
                "long_description".to_string(),
                vec![json!("# nginx\nInstalls nginx.\n")]
            ),
            ("depends".to_string(), vec![json!("apt"), json!(">= 2.0")]),
            ("depends".to_string(), vec![json!("logrotate")]),
            ("supports".to_string(), vec![json!("debian")]),
            ("supports".to_string(), vec![json!("ubuntu")]),
            (
                "recipe".to_string(),
                vec![json!("nginx::default"), json!("Installs the package")]
            ),
            ("chef_version".to_string(), vec![json!(">= 15")]),
            (
                "issues_url".to_string(),
                vec![json!("https://example.com/nginx/issues")]
            ),
            (
                "gem".to_string(),
                vec![json!("x"), json!({"version": "1.0", "require": false})]
            ),
        ]
    );
    assert_eq!(calls[5].location, SourceLocation::new(&path, 6, 1));
    assert_eq!(calls[7].location, SourceLocation::new(&path, 9, 3));
}

#[test]
fn readme_is_read_relative_to_the_metadata_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "docs").unwrap();
    let calls = eval_dsl_calls(
        &dir.path().join("metadata.rb"),
        "long_description IO.read('README.md')",
    )
    .unwrap();
    assert_eq!(calls[0].args, [json!("docs")]);
    let err = eval_dsl_calls(
        &dir.path().join("metadata.rb"),
        "long_description File.read('NOPE.md')",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("metadata.rb:1:18: cannot read"),
        "{err}"
    );
}

#[test]
fn solo_rb_paths_env_and_conditions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("solo.rb");
    let root = dir.path().to_string_lossy().into_owned();
    std::env::set_var("SKILLET_TEST_SOLO_LEVEL", "debug");
    let source = "\
repo = File.dirname(__FILE__)
cookbook_path [File.join(File.dirname(__FILE__), 'cookbooks')]
role_path File.join(repo, 'roles')
data_bag_path File.expand_path('../bags', __FILE__)
file_cache_path \"#{__dir__}/cache\"
log_level (ENV['SKILLET_TEST_SOLO_LEVEL'] || 'info').to_sym
verbose_logging false unless ENV['SKILLET_UNSET_VAR']
ssl_verify_mode :verify_peer
";
    let calls = eval_dsl_calls(&path, source).unwrap();
    let args: HashMap<String, Vec<Json>> = calls.into_iter().map(|c| (c.method, c.args)).collect();
    assert_eq!(
        args["cookbook_path"],
        [json!([format!("{root}/cookbooks")])]
    );
    assert_eq!(args["role_path"], [json!(format!("{root}/roles"))]);
    assert_eq!(args["data_bag_path"], [json!(format!("{root}/bags"))]);
    assert_eq!(args["file_cache_path"], [json!(format!("{root}/cache"))]);
    assert_eq!(args["log_level"], [json!("debug")]);
    assert_eq!(args["verbose_logging"], [json!(false)]);
    assert_eq!(args["ssl_verify_mode"], [json!("verify_peer")]);
}

#[test]
fn dsl_files_refuse_blocks_and_bare_names() {
    let path = Path::new("/r/solo.rb");
    let err = eval_dsl_calls(path, "config_context :knife do\nend").unwrap_err();
    assert_eq!(
        err.to_string(),
        "/r/solo.rb:1:1: unsupported Ruby: a block passed to `config_context`"
    );
    let err = eval_dsl_calls(path, "name 'x'\nbogus").unwrap_err();
    assert_eq!(
        err.to_string(),
        "/r/solo.rb:2:1: undefined local variable or method `bogus`"
    );
}

#[test]
fn deep_nesting_is_refused_not_a_crash() {
    for n in [40usize, 2_000, 20_000] {
        let sources = [
            format!("{}1{}", "[".repeat(n), "]".repeat(n)),
            format!("{}1{}", "(".repeat(n), ")".repeat(n)),
            format!("x = 1{}", " + 1".repeat(n)),
            format!("{}1{}", "if true then ".repeat(n), " end".repeat(n)),
            format!("{}1{}", "[1].map { |x| ".repeat(n), " }".repeat(n)),
            format!("{}true", "!".repeat(n)),
        ];
        for source in sources {
            let _ = try_ruby(&source);
        }
    }
    assert!(error(&format!(
        "{}1{}",
        "[1].map { |x| ".repeat(300),
        " }".repeat(300)
    ))
    .contains("deep"));
    assert_eq!(
        ruby(&format!("{}1{}", "[".repeat(8), "]".repeat(8))),
        "[[[[[[[[1]]]]]]]]"
    );
}

#[test]
fn containers_that_contain_themselves_do_not_recurse_forever() {
    assert!(ruby("a = [1]\na << a\na.inspect").contains("[...]"));
    assert_eq!(ruby("a = []\na << a\na == a"), "true");
    assert_eq!(ruby("a = []\na << a\nb = []\nb << b\na == b"), "false");
    assert!(error("a = []\na << a\na.to_json").contains("nested more than"));
    assert!(ruby("h = {}\nh['self'] = h\nh.to_s").contains("{...}"));
}

/// A tiny deterministic generator for mutation tests.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(self.0 >> 33).unwrap_or(0) % bound.max(1)
    }
}

const FUZZ_CORPUS: [&str; 6] = [
    "x = [1, 'two', :three, { a: 1 }]\nx.each_with_index { |v, i| y = \"#{i}:#{v}\" }\ncase x.size when 1..3 then 'a' else x.map(&:to_s).join(',') end",
    "default['a']['b'] = node['x'] ? 1 : %w(a b)\nh = { 'k' => [1.5, nil] }\nh.fetch('k', []).compact.sum rescue nil",
    "s = 'abc'.upcase.gsub('B', 'x') * 2\nn = (1..5).select(&:even?).inject(:+)\nunless n > 3 then s[1..] else format('%05d', n) end",
    "a, b = [1, 2]\na ||= 3\nb += a\n[[1, 2], [3, 4]].map { |(p, q)| p * q }.max_by { |v| -v }",
    "name 'cb'\ndepends 'apt', '>= 1.0'\nlong_description \"x#{1 + 1}\"\nsupports 'debian' if true",
    "begin\n  raise 'x'\nrescue => e\n  e.to_s.length\nensure\n  z = 1\nend\n{ b: 2 }.merge('c' => 3).to_a.flatten.uniq",
];

const FUZZ_PIECES: [&str; 24] = [
    "(", ")", "[", "]", "{", "}", "|", "\"", "'", "#{", "end", "do", "nil", "<<~X\n", "%w(", "::",
    "..", "&.", "=", "\n", "-", "**", "if ", "@",
];

fn mutate(source: &str, rng: &mut Lcg) -> String {
    let mut bytes: Vec<u8> = source.as_bytes().to_vec();
    for _ in 0..=rng.next(4) {
        let at = rng.next(bytes.len() + 1);
        match rng.next(3) {
            0 if !bytes.is_empty() => {
                let end = (at + rng.next(6)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            1 => {
                let piece = FUZZ_PIECES[rng.next(FUZZ_PIECES.len())];
                bytes.splice(at..at, piece.bytes());
            }
            _ => {
                let from = rng.next(bytes.len());
                let chunk: Vec<u8> = bytes
                    .iter()
                    .skip(from)
                    .take(rng.next(12))
                    .copied()
                    .collect();
                bytes.splice(at.min(bytes.len())..at.min(bytes.len()), chunk);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn mutated_programs_never_panic() {
    let mut rng = Lcg(7);
    for round in 0..1500 {
        let source = mutate(FUZZ_CORPUS[round % FUZZ_CORPUS.len()], &mut rng);
        let _ = try_ruby(&source);
        let _ = attributes(&source, &mut debian());
        let _ = eval_dsl_calls(Path::new("/r/metadata.rb"), &source);
        let template = format!("a <%= {source} %>\n<% {source} -%>\nb");
        if let Ok(t) = erb::ErbTemplate::compile(Path::new("/t.erb"), &template) {
            use crate::template::TemplateEngine;
            let _ = t.render(&serde_json::Map::new(), &json!({"x": 1}));
        }
    }
}

#[test]
fn string_and_json_mutation_through_variables_is_kept() {
    assert_eq!(ruby("s = 'a'\ns << 'b' << 'c'\ns.upcase!\ns"), "\"ABC\"");
    assert_eq!(
        ruby("@s = +'x'\n@s.concat('y')\n@s.gsub!('x', 'z')\n@s"),
        "\"zy\""
    );
    assert_eq!(
        ruby("s = 'ab'\nt = s.sub('a', 'x')\n[s, t]"),
        r#"["ab", "xb"]"#
    );
}

#[test]
fn non_mutating_string_methods_leave_the_variable_alone() {
    assert_eq!(
        ruby("s = 'abc'\nt = s.delete('b')\n[s, t]"),
        r#"["abc", "ac"]"#
    );
}

#[test]
fn regular_expressions_follow_ruby() {
    assert_eq!(ruby("'12.5' =~ /\\A12/"), "0");
    assert_eq!(ruby("'ab12' =~ /\\d/"), "2");
    assert_eq!(ruby("'abc' =~ /z/"), "nil");
    assert_eq!(ruby("'Ubuntu'.match?(/ubuntu/i)"), "true");
    assert_eq!(ruby("'a-b_c d'.gsub(/[^a-z]/, '_')"), "\"a_b_c_d\"");
    assert_eq!(
        ruby("'john smith'.sub(/(\\w+) (\\w+)/, '\\2, \\1')"),
        "\"smith, john\""
    );
    assert_eq!(
        ruby("'a1b22'.gsub(/\\d+/) { |m| (m.to_i * 2).to_s }"),
        "\"a2b44\""
    );
    assert_eq!(
        ruby("'k=v; x=y'.scan(/(\\w)=(\\w)/)"),
        r#"[["k", "v"], ["x", "y"]]"#
    );
    assert_eq!(ruby("'a, b,c'.split(/,\\s*/)"), r#"["a", "b", "c"]"#);
    assert_eq!(ruby("'v1.2'[/\\d+\\.\\d+/]"), "\"1.2\"");
    assert_eq!(
        ruby("m = 'key: val'.match(/(?<k>\\w+): (\\w+)/)\nm[2]"),
        "\"val\""
    );
    assert_eq!(
        ruby("case 'centos-7'\nwhen /^debian/ then 'deb'\nwhen /^centos/ then 'rpm'\nend"),
        "\"rpm\""
    );
    assert_eq!(ruby("%w(eth0 lo eth1).grep(/^eth/)"), r#"["eth0", "eth1"]"#);
    assert_eq!(ruby("x = 'ab'\n/#{x}c/.match?('abc')"), "true");
    assert_eq!(ruby("Regexp.escape('a.b*c')"), r#""a\\.b\\*c""#);
    assert_eq!(ruby("Regexp.new('^x', true).match?('X1')"), "true");
    assert_eq!(ruby("/a\\/b/i"), "/a\\/b/i");
    assert_eq!(ruby("'line1\nline2' =~ /^line2$/"), "6");
    assert_eq!(
        error("x = 1\n'a' =~ /(?=a)/"),
        "/t/test.rb:2:8: unsupported regular expression /(?=a)/: look-around, including look-ahead and look-behind, is not supported (look-around and back-references are not supported)"
    );
}

#[test]
fn flattening_a_recursive_array_is_an_error() {
    assert!(error("a = [1]\na << a\na.flatten").contains("tried to flatten recursive array"));
    assert_eq!(
        error("x = 1\nx.y ||= 2"),
        "/t/test.rb:2:1: unsupported Ruby: `x.y ||= 2`"
    );
    assert_eq!(ruby("@a = 1\n@a &&= 2\n@a"), "2");
    assert_eq!(
        error("x = 1\nBEGIN { x }"),
        "/t/test.rb:2:1: unsupported Ruby: `BEGIN` block"
    );
    assert_eq!(
        error("x = [1]\n{ **x, y: 1 } in {y:}"),
        "/t/test.rb:2:1: unsupported Ruby: pattern matching (`=>` / `in`)"
    );
}

#[test]
fn in_place_changes_on_levels_are_written_or_refused() {
    let mut node = debian();
    let err = attributes("default['l'] = [1, 2]\ndefault['l'].delete(1)", &mut node).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/cb/attributes/default.rb:2:1: unsupported Ruby: in-place `delete` on node attributes; assign the new value instead"
    );
}

#[test]
fn a_community_style_attribute_file_evaluates() {
    let mut node = TestNode::with_automatic(json!({
        "platform": "ubuntu", "platform_family": "debian", "platform_version": "22.04",
        "cpu": {"total": 4}, "fqdn": "web1.example"
    }));
    let source = r#"
# Cookbook:: nginx
# Attributes:: default
default['nginx']['version'] = '1.24.0'
default['nginx']['dir'] = '/etc/nginx'
default['nginx']['log_dir_perm'] = '0750'
default['nginx']['install_method'] = 'package'

case node['platform_family']
when 'debian'
  default['nginx']['user']       = 'www-data'
  default['nginx']['init_style'] = if platform?('ubuntu') && node['platform_version'].to_f <= 14.04
                                     'upstart'
                                   else
                                     'systemd'
                                   end
when 'rhel', 'fedora', 'amazon'
  default['nginx']['user'] = 'nginx'
else
  default['nginx']['user'] = 'www-data'
end

default['nginx']['group'] = node['nginx']['user']
default['nginx']['gzip_types'] = %w(
  text/plain
  text/css
  application/x-javascript
)
default['nginx']['worker_processes'] = node['cpu'] && node['cpu']['total'] ? node['cpu']['total'] : 1
default['nginx']['worker_connections'] = 1_024
default['nginx']['extra_configs'] = Hash.new
default['nginx']['sysctl']['net.core.somaxconn'] = 1024
default['nginx']['source']['url'] = "http://nginx.org/download/nginx-#{node['nginx']['version']}.tar.gz"
default['nginx']['source']['checksum'] = nil
default['nginx']['listen'] = ::File.join(node['nginx']['dir'], 'conf.d')
default['nginx']['server_names'] = [node['fqdn'], "www.#{node['fqdn']}"].uniq
default['nginx']['major'] = node['nginx']['version'].split('.').first(2).join('.')
default['nginx']['secret'] = ENV.fetch('SKILLET_NO_SUCH_VAR', 'changeme')
default['nginx']['ports'] = Array.new(2) { |i| 8000 + i }
"#;
    attributes(source, &mut node).unwrap();
    let nginx = &node.level("default")["nginx"];
    assert_eq!(nginx["init_style"], json!("systemd"));
    assert_eq!(nginx["group"], json!("www-data"));
    assert_eq!(
        nginx["gzip_types"],
        json!(["text/plain", "text/css", "application/x-javascript"])
    );
    assert_eq!(nginx["worker_processes"], json!(4));
    assert_eq!(nginx["extra_configs"], json!({}));
    assert_eq!(
        nginx["source"]["url"],
        json!("http://nginx.org/download/nginx-1.24.0.tar.gz")
    );
    assert_eq!(nginx["listen"], json!("/etc/nginx/conf.d"));
    assert_eq!(
        nginx["server_names"],
        json!(["web1.example", "www.web1.example"])
    );
    assert_eq!(nginx["major"], json!("1.24"));
    assert_eq!(nginx["secret"], json!("changeme"));
    assert_eq!(nginx["ports"], json!([8000, 8001]));
}

#[test]
fn constructors_of_core_classes() {
    assert_eq!(
        ruby("h = Hash.new(0)\n%w(a b a).each { |w| h[w] += 1 }\nh"),
        r#"{"a" => 2, "b" => 1}"#
    );
    assert_eq!(ruby("Array.new(3, 'x')"), r#"["x", "x", "x"]"#);
    assert_eq!(ruby("Array.new(2) { |i| i * 10 }"), "[0, 10]");
    assert_eq!(ruby("String.new('s') + String.new"), "\"s\"");
}

#[test]
fn check_reports_problems_without_running_code() {
    assert!(check(
        Path::new("/r/x.rb"),
        "raise 'not run'\nundefined_method_call(1)"
    )
    .is_ok());
    let err = check(Path::new("/r/x.rb"), "a = 1\nuntil a > 2\n  a += 1\nend").unwrap_err();
    assert_eq!(
        err.to_string(),
        "/r/x.rb:2:1: unsupported Ruby: `until` loop"
    );
}

#[test]
fn role_files_are_dsl_calls_too() {
    let source = "\
name 'web'
description 'Web servers'
run_list 'role[base]', 'recipe[nginx]'
env_run_lists 'prod' => ['recipe[nginx::prod]'], '_default' => []
default_attributes 'nginx' => { 'port' => 80 }
override_attributes(nginx: { workers: 4 })
";
    let calls = eval_dsl_calls(Path::new("/r/roles/web.rb"), source).unwrap();
    let args: HashMap<String, Vec<Json>> = calls.into_iter().map(|c| (c.method, c.args)).collect();
    assert_eq!(
        args["run_list"],
        [json!("role[base]"), json!("recipe[nginx]")]
    );
    assert_eq!(
        args["env_run_lists"],
        [json!({"prod": ["recipe[nginx::prod]"], "_default": []})]
    );
    assert_eq!(args["default_attributes"], [json!({"nginx": {"port": 80}})]);
    assert_eq!(
        args["override_attributes"],
        [json!({"nginx": {"workers": 4}})]
    );
}

#[test]
fn rescue_never_hides_unsupported_code() {
    assert!(error("x = [1].sample rescue 0").contains("unsupported Ruby: `sample`"));
    assert!(error("begin\n  lambda { 1 }\nrescue\n  2\nend").contains("unsupported Ruby: `lambda`"));
    // `->` is `lambda` with a block: only a resource file keeps it (for `coerce:`).
    assert!(error("f = ->(x) { x + 1 }").contains("unsupported Ruby: `lambda`"));
    assert_eq!(
        ruby("begin\n  nil.upcase\nrescue\n  'rescued'\nend"),
        "\"rescued\""
    );
}

#[test]
fn format_with_named_references() {
    assert_eq!(
        ruby("'%{host}:%{port}' % { host: 'h', port: 80 }"),
        "\"h:80\""
    );
    assert_eq!(
        ruby("format('%<n>05.1f|%<s>s', n: 2.25, s: 'x')"),
        "\"002.2|x\""
    );
    assert!(error("'%{missing}' % { a: 1 }").contains("key<missing> not found"));
}
