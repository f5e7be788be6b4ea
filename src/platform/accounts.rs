//! User and group names of the host, read from `/etc/passwd` and `/etc/group`.
//!
//! Reading the files (rather than asking NSS) keeps the no-op path free of library calls that
//! may load modules; it is what file ownership checks need: name → id and id → name.

use std::path::Path;

/// One `name:…:id:…` entry of `/etc/passwd` or `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    id: u32,
}

/// Names and ids of the host's users and groups.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    users: Vec<Entry>,
    groups: Vec<Entry>,
}

impl Accounts {
    /// Reads `/etc/passwd` and `/etc/group`; a missing or unreadable file counts as empty.
    pub fn load() -> Self {
        Self::load_from(Path::new("/etc/passwd"), Path::new("/etc/group"))
    }

    /// Reads the given passwd and group files.
    pub fn load_from(passwd: &Path, group: &Path) -> Self {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        Self {
            users: parse_entries(&read(passwd)),
            groups: parse_entries(&read(group)),
        }
    }

    /// The uid of user `name`.
    pub fn uid(&self, name: &str) -> Option<u32> {
        find_id(&self.users, name)
    }

    /// The name of the user with `uid`.
    pub fn user_name(&self, uid: u32) -> Option<&str> {
        find_name(&self.users, uid)
    }

    /// The gid of group `name`.
    pub fn gid(&self, name: &str) -> Option<u32> {
        find_id(&self.groups, name)
    }

    /// The name of the group with `gid`.
    pub fn group_name(&self, gid: u32) -> Option<&str> {
        find_name(&self.groups, gid)
    }
}

/// Both files share the layout `name:password:id:…`; comment and malformed lines are skipped.
fn parse_entries(text: &str) -> Vec<Entry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?.trim();
            let _password = fields.next()?;
            let id = fields.next()?.trim().parse().ok()?;
            (!name.is_empty()).then(|| Entry {
                name: name.to_string(),
                id,
            })
        })
        .collect()
}

fn find_id(entries: &[Entry], name: &str) -> Option<u32> {
    entries.iter().find(|e| e.name == name).map(|e| e.id)
}

fn find_name(entries: &[Entry], id: u32) -> Option<&str> {
    entries.iter().find(|e| e.id == id).map(|e| e.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_and_group_lines() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        let group = dir.path().join("group");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\nbob:x:1000:1000::/home/bob:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(&group, "root:x:0:\nstaff:x:50:bob,alice\n").unwrap();
        let a = Accounts::load_from(&passwd, &group);
        assert_eq!(a.uid("bob"), Some(1000));
        assert_eq!(a.user_name(0), Some("root"));
        assert_eq!(a.gid("staff"), Some(50));
        assert_eq!(a.group_name(50), Some("staff"));
        assert_eq!(a.uid("nobody-here"), None);
    }
}
