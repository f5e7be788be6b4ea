//! Tests of the query language and matching (Chef's search as chef-zero, which chef-solo's
//! local mode runs, answers it).

use super::*;
use serde_json::json;

fn node(name: &str, env: &str, run_list: &[&str], automatic: Value) -> Document {
    node_document(
        name,
        &json!({
            "name": name,
            "chef_environment": env,
            "run_list": run_list,
            "default": {"mysql": {"server_id": 9, "port": 3306}},
            "normal": {"tags": ["blue"]},
            "automatic": automatic,
        }),
    )
}

fn nodes() -> Vec<Document> {
    vec![
        node(
            "web1",
            "prod",
            &["role[web]", "recipe[nginx::default]"],
            json!({"ipaddress": "10.0.0.1", "platform": "debian", "fqdn": "web1.example.com",
                   "roles": ["web", "base"], "recipes": ["nginx", "nginx::default"],
                   "mysql": {"server_id": 1}}),
        ),
        node(
            "web2",
            "staging",
            &["role[web]"],
            json!({"ipaddress": "10.0.0.2", "platform": "ubuntu", "fqdn": "web2.example.com",
                   "roles": ["web"], "uptime": "3 days"}),
        ),
        node(
            "db-1",
            "prod",
            &["role[db]", "mysql"],
            json!({"ipaddress": "10.0.1.1", "platform": "debian", "fqdn": "db-1.example.com",
                   "roles": ["db"], "memory": {"total": "16384kB"}}),
        ),
    ]
}

/// Names of the nodes matching `q`.
fn names(q: &str) -> Vec<String> {
    let query = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    search(nodes(), &query, &Page::default())
        .iter()
        .map(|n| n["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn everything_and_the_empty_query_match_all_in_name_order() {
    assert_eq!(names("*:*"), ["db-1", "web1", "web2"]);
    assert_eq!(names(""), ["db-1", "web1", "web2"]);
}

#[test]
fn a_field_matches_a_whole_word_of_its_value_case_insensitively() {
    assert_eq!(names("name:web1"), ["web1"]);
    assert_eq!(names("name:WEB1"), ["web1"]);
    assert_eq!(names("name:web"), Vec::<String>::new());
    // `-` is not a word character: db-1 has the words `db` and `1`.
    assert_eq!(names("name:db"), ["db-1"]);
    assert_eq!(names("platform:debian"), ["db-1", "web1"]);
    assert_eq!(names("uptime:days"), ["web2"]);
    // `.` is: the fqdn is one word.
    assert_eq!(names("fqdn:example"), Vec::<String>::new());
    assert_eq!(names("fqdn:web1.example.com"), ["web1"]);
}

#[test]
fn wildcards_stand_for_word_characters() {
    assert_eq!(names("name:web*"), ["web1", "web2"]);
    assert_eq!(names("name:web?"), ["web1", "web2"]);
    assert_eq!(names("name:w*1"), ["web1"]);
    assert_eq!(names("fqdn:*.example.com"), ["db-1", "web1", "web2"]);
    assert_eq!(names("ipaddress:10.0.0.*"), ["web1", "web2"]);
    assert_eq!(names("name:*"), ["db-1", "web1", "web2"]);
}

#[test]
fn nested_attributes_are_fields_joined_by_underscores_and_on_their_own() {
    // Automatic wins over default when the levels are merged.
    assert_eq!(names("mysql_server_id:1"), ["web1"]);
    assert_eq!(names("mysql_server_id:9"), ["db-1", "web2"]);
    assert_eq!(names("server_id:1"), ["web1"]);
    assert_eq!(names("memory_total:16384kB"), ["db-1"]);
    assert_eq!(names("mysql_port:3306"), ["db-1", "web1", "web2"]);
    assert_eq!(names("tags:blue"), ["db-1", "web1", "web2"]);
    // A field may be a pattern too.
    assert_eq!(names("mysql_*:1"), ["web1"]);
}

#[test]
fn run_list_roles_recipes_and_environment_are_fields() {
    assert_eq!(names("role:web"), ["web1", "web2"]);
    assert_eq!(names("roles:base"), ["web1"]);
    assert_eq!(names("recipe:mysql"), ["db-1"]);
    assert_eq!(names("recipes:nginx"), ["web1"]);
    assert_eq!(names("recipe:nginx\\:\\:default"), ["web1"]);
    assert_eq!(names("chef_environment:prod"), ["db-1", "web1"]);
    assert_eq!(names("run_list:recipe\\[mysql\\]"), ["db-1"]);
    assert_eq!(names("run_list:role\\[db\\]"), ["db-1"]);
}

#[test]
fn boolean_operators_and_their_precedence() {
    assert_eq!(names("role:web AND chef_environment:prod"), ["web1"]);
    assert_eq!(names("role:web && chef_environment:prod"), ["web1"]);
    assert_eq!(
        names("role:db OR chef_environment:staging"),
        ["db-1", "web2"]
    );
    assert_eq!(
        names("role:db || chef_environment:staging"),
        ["db-1", "web2"]
    );
    // AND binds tighter than OR.
    assert_eq!(
        names("role:db OR role:web AND chef_environment:staging"),
        ["db-1", "web2"]
    );
    assert_eq!(
        names("(role:db OR role:web) AND chef_environment:staging"),
        ["web2"]
    );
    // Side by side means OR.
    assert_eq!(names("name:web1 name:web2"), ["web1", "web2"]);
}

#[test]
fn negation_in_every_spelling() {
    assert_eq!(names("NOT role:web"), ["db-1"]);
    assert_eq!(names("-role:web"), ["db-1"]);
    assert_eq!(names("!role:web"), ["db-1"]);
    assert_eq!(names("platform:debian AND NOT role:db"), ["web1"]);
    // A prohibited clause excludes from what precedes it.
    assert_eq!(names("platform:debian -role:db"), ["web1"]);
    assert_eq!(names("platform:debian NOT role:db"), ["web1"]);
    assert_eq!(names("role:(NOT web)"), ["db-1"]);
}

#[test]
fn a_field_may_apply_to_a_group() {
    assert_eq!(names("name:(web1 OR db*)"), ["db-1", "web1"]);
    assert_eq!(names("platform:(debian AND NOT ubuntu)"), ["db-1", "web1"]);
}

#[test]
fn quoted_phrases_match_words_in_order() {
    assert_eq!(names("uptime:\"3 days\""), ["web2"]);
    assert_eq!(names("uptime:\"days 3\""), Vec::<String>::new());
    assert_eq!(names("fqdn:\"web1.example.com\""), ["web1"]);
}

#[test]
fn ranges_are_inclusive_or_exclusive_and_numeric_when_both_sides_are_numbers() {
    assert_eq!(names("mysql_server_id:[1 TO 9]"), ["db-1", "web1", "web2"]);
    assert_eq!(names("mysql_server_id:{1 TO 9}"), Vec::<String>::new());
    assert_eq!(names("mysql_server_id:[2 TO *]"), ["db-1", "web2"]);
    assert_eq!(names("name:[a TO web1]"), ["db-1", "web1"]);
}

#[test]
fn a_bare_term_searches_every_field() {
    assert_eq!(names("ubuntu"), ["web2"]);
    assert_eq!(names("10.0.1.1"), ["db-1"]);
}

#[test]
fn escaped_characters_are_literal() {
    assert_eq!(names("name:db\\-1"), ["db-1"]);
    assert_eq!(names("fqdn:web1.example.com\\*"), Vec::<String>::new());
}

#[test]
fn bad_queries_are_errors_naming_the_place() {
    for (q, offset, text) in [
        ("role:(web", 5, "never closed"),
        ("role:web)", 8, "unexpected `)`"),
        ("role:", 5, "ends where a value was expected"),
        ("name:\"web", 5, "never closed"),
        ("x:[1 TO", 7, "upper bound"),
        ("x:[1 2]", 5, "TO"),
        ("AND", 0, "expected a value"),
        ("name:web\\", 8, "backslash"),
    ] {
        let e = parse(q).expect_err(q);
        assert_eq!(e.offset, offset, "{q}: {e}");
        assert!(e.message.contains(text), "{q}: {e}");
    }
    // Deep nesting is refused, not a stack overflow.
    let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(parse(&deep).is_err());
    let nots = format!("{}a", "-".repeat(10_000));
    assert!(parse(&nots).is_err());
    let long = vec!["a:b"; 5_000].join(" AND ");
    assert!(parse(&long)
        .unwrap_err()
        .message
        .contains("too many clauses"));
    let most = vec!["name:web1"; 1_000].join(" AND ");
    assert_eq!(names(&most), ["web1"]);
}

#[test]
fn rows_start_and_filter_result_page_and_shape_the_results() {
    let query = parse("*:*").unwrap();
    let page = Page {
        start: 1,
        rows: Some(1),
        filter: None,
    };
    let rows = search(nodes(), &query, &page);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "web1");

    let page = Page {
        filter: Some(vec![
            ("ip".into(), vec!["ipaddress".into()]),
            ("sid".into(), vec!["mysql".into(), "server_id".into()]),
            ("none".into(), vec!["no".into(), "such".into()]),
        ]),
        ..Page::default()
    };
    let rows = search(nodes(), &parse("role:web").unwrap(), &page);
    assert_eq!(
        rows,
        vec![
            json!({"ip": "10.0.0.1", "sid": 1, "none": null}),
            json!({"ip": "10.0.0.2", "sid": 9, "none": null}),
        ]
    );
}

#[test]
fn a_node_document_merges_levels_and_normalizes_its_run_list() {
    let doc = node_document(
        "n",
        &json!({"run_list": ["base", "role[web]"], "default": {"a": {"b": 1, "c": 2}},
                "override": {"a": {"b": 3}}}),
    );
    assert_eq!(doc.value["a"], json!({"b": 3, "c": 2}));
    assert_eq!(doc.value["run_list"], json!(["recipe[base]", "role[web]"]));
    assert_eq!(doc.value["recipe"], json!(["base"]));
    assert_eq!(doc.value["role"], json!(["web"]));
    assert_eq!(doc.value["chef_environment"], "_default");
    assert_eq!(doc.value["name"], "n");
}

#[test]
fn data_bag_items_are_searched_as_they_are() {
    let items = vec![
        item_document(
            "alice",
            json!({"id": "alice", "groups": ["admin"], "shell": "/bin/zsh"}),
        ),
        item_document(
            "bob",
            json!({"id": "bob", "groups": ["dev"], "shell": "/bin/bash"}),
        ),
    ];
    let rows = search(
        items.clone(),
        &parse("groups:admin").unwrap(),
        &Page::default(),
    );
    assert_eq!(rows, vec![items[0].value.clone()]);
    let rows = search(items.clone(), &parse("id:b*").unwrap(), &Page::default());
    assert_eq!(rows, vec![items[1].value.clone()]);
    // `/` separates words.
    let rows = search(items, &parse("shell:zsh").unwrap(), &Page::default());
    assert_eq!(rows.len(), 1);
}
