//! Which groups a run's cookbooks read, so `solo` gathers only those.
//!
//! A cookbook reads automatic attributes by their top-level key (`node['ipaddress']`,
//! `node[:network]`, `node.memory`, `{{node.cpu.total}}`) in its attribute files, recipes,
//! templates and libraries. The sources of every cookbook in the run are scanned for those keys
//! as whole words; a group is gathered when one of its keys appears. A word that only looks like
//! a read (in a comment, say) costs a group's collection, never a missing value. Code that walks
//! the whole node (`node.to_hash`, `node.automatic`, `to_json`) gets every group.

use super::{Group, MINIMAL};
use std::collections::HashSet;
use std::path::Path;

/// Directories of a cookbook whose files can read node attributes.
const SOURCE_DIRS: &[&str] = &[
    "attributes",
    "recipes",
    "templates",
    "libraries",
    "resources",
    "providers",
    "definitions",
];

/// Words that mean the whole node is read, not one key.
const WHOLE_NODE: &[&str] = &["to_hash", "to_h", "to_json", "automatic", "automatic_attrs"];

/// Files larger than this are not sources (images, archives shipped in `files/`).
const MAX_SOURCE_BYTES: u64 = 1 << 20;

/// Groups every run gathers beyond Chef's minimal set: the saved node is what other nodes'
/// `search` reads, and what they read from it is its addresses (`ipaddress`, `macaddress`).
const READ_BY_PEERS: &[Group] = &[Group::Network];

/// The groups the cookbooks rooted at `roots` read, plus Chef's minimal set (the node's name
/// and file specificity need it) and what peers read from the saved node.
pub fn groups_read_by<'a>(roots: impl IntoIterator<Item = &'a Path>) -> Vec<Group> {
    let mut words = HashSet::new();
    for root in roots {
        for dir in SOURCE_DIRS {
            collect_words(&root.join(dir), &mut words, 0);
        }
        for file in ["attributes.rb", "recipe.rb", "recipe.yml", "recipe.yaml"] {
            add_file_words(&root.join(file), &mut words);
        }
    }
    groups_for_words(&words)
}

/// The groups whose keys are among `words` (every group when the whole node is read).
fn groups_for_words(words: &HashSet<String>) -> Vec<Group> {
    if WHOLE_NODE.iter().any(|w| words.contains(*w)) {
        return Group::ALL.to_vec();
    }
    Group::ALL
        .iter()
        .copied()
        .filter(|g| {
            MINIMAL.contains(g)
                || READ_BY_PEERS.contains(g)
                || g.keys().iter().any(|k| words.contains(*k))
        })
        .collect()
}

fn collect_words(dir: &Path, words: &mut HashSet<String>, depth: usize) {
    if depth > 6 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect_words(&path, words, depth + 1),
            Ok(t) if t.is_file() => add_file_words(&path, words),
            _ => {}
        }
    }
}

fn add_file_words(path: &Path, words: &mut HashSet<String>) {
    let small = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= MAX_SOURCE_BYTES);
    if !small {
        return;
    }
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    let text = String::from_utf8_lossy(&bytes);
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if !word.is_empty() && !words.contains(word) {
            words.insert(word.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookbook(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_cookbook_reading_nothing_gets_the_minimal_set_and_the_addresses_peers_search_for() {
        let cb = cookbook(&[("recipes/default.yml", "resources: []\n")]);
        let mut groups = groups_read_by([cb.path()]);
        groups.sort_by_key(|g| format!("{g:?}"));
        let mut minimal = [MINIMAL, READ_BY_PEERS].concat();
        minimal.sort_by_key(|g| format!("{g:?}"));
        assert_eq!(groups, minimal);
    }

    #[test]
    fn keys_read_anywhere_in_the_sources_pull_their_groups() {
        let cb = cookbook(&[
            (
                "attributes/default.rb",
                "default['a']['addr'] = node['ipaddress']\n",
            ),
            ("templates/default/x.erb", "<%= node[:memory][:total] %>\n"),
            ("recipes/default.rb", "log node.cpu['total'].to_s\n"),
        ]);
        let groups = groups_read_by([cb.path()]);
        for g in [Group::Network, Group::Memory, Group::Cpu] {
            assert!(groups.contains(&g), "{g:?} in {groups:?}");
        }
        assert!(!groups.contains(&Group::BlockDevice));
        assert!(!groups.contains(&Group::Filesystem));
    }

    #[test]
    fn parts_of_longer_words_do_not_count() {
        let cb = cookbook(&[("recipes/default.yml", "# kernelspace and memory_limit\n")]);
        let groups = groups_read_by([cb.path()]);
        assert!(!groups.contains(&Group::Kernel));
        assert!(!groups.contains(&Group::Memory));
    }

    #[test]
    fn reading_the_whole_node_gets_every_group() {
        let cb = cookbook(&[(
            "templates/default/dump.erb",
            "<%= node.to_hash.to_json %>\n",
        )]);
        assert_eq!(groups_read_by([cb.path()]), Group::ALL.to_vec());
    }
}
