//! `skillet ohai [ATTRIBUTE_PATH...]`: the automatic attributes as pretty JSON, like `ohai`.
//!
//! With no path the whole tree is printed; with paths, each value is printed inside a
//! one-element array as `ohai` does, and only the groups those paths start with are gathered.

use super::OhaiArgs;
use crate::ohai::{value_at, Collector, Group, MINIMAL};
use serde_json::Value;

/// Prints the attributes and returns the exit code (1 when a path has no value).
pub fn run(args: &OhaiArgs) -> i32 {
    let groups = groups_for(args);
    let tree = Value::Object(Collector::new().collect(&groups));
    if args.paths.is_empty() {
        return print(&tree);
    }
    for path in &args.paths {
        match value_at(&tree, path) {
            Some(value) => {
                let code = print(&Value::Array(vec![value.clone()]));
                if code != 0 {
                    return code;
                }
            }
            None => {
                eprintln!("skillet ohai: no attribute at `{path}`");
                return 1;
            }
        }
    }
    0
}

/// The groups to gather: the minimal set with `-m`, else those the paths start with, else all.
fn groups_for(args: &OhaiArgs) -> Vec<Group> {
    if args.minimal_ohai {
        return MINIMAL.to_vec();
    }
    if args.paths.is_empty() {
        return Group::ALL.to_vec();
    }
    let firsts = args
        .paths
        .iter()
        .filter_map(|p| p.split('/').find(|s| !s.is_empty()));
    Group::for_keys(firsts)
}

fn print(value: &Value) -> i32 {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            0
        }
        Err(e) => {
            eprintln!("skillet ohai: {e}");
            1
        }
    }
}
