//! etc (passwd, group), current_user, root_group and shells, from the account files in /etc.

use super::{Host, Map};
use serde_json::{json, Value};

/// One /etc/passwd entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PasswdEntry {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u64,
    /// Primary group id.
    pub gid: u64,
    /// GECOS (full name) field.
    pub gecos: String,
    /// Home directory.
    pub dir: String,
    /// Login shell.
    pub shell: String,
}

/// One /etc/group entry.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupEntry {
    /// Group name.
    pub name: String,
    /// Group id.
    pub gid: u64,
    /// Supplementary members.
    pub members: Vec<String>,
}

/// The well-formed lines of /etc/passwd (`name:x:uid:gid:gecos:dir:shell`).
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let [name, _, uid, gid, gecos, dir, shell] = fields.as_slice() else {
                return None;
            };
            Some(PasswdEntry {
                name: name.to_string(),
                uid: uid.parse().ok()?,
                gid: gid.parse().ok()?,
                gecos: gecos.to_string(),
                dir: dir.to_string(),
                shell: shell.to_string(),
            })
        })
        .collect()
}

/// The well-formed lines of /etc/group (`name:x:gid:member,member`).
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let [name, _, gid, members] = fields.as_slice() else {
                return None;
            };
            Some(GroupEntry {
                name: name.to_string(),
                gid: gid.parse().ok()?,
                members: members
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

fn passwd_entries(host: &Host) -> Vec<PasswdEntry> {
    host.read("/etc/passwd")
        .map(|t| parse_passwd(&t))
        .unwrap_or_default()
}

fn group_entries(host: &Host) -> Vec<GroupEntry> {
    host.read("/etc/group")
        .map(|t| parse_group(&t))
        .unwrap_or_default()
}

/// etc.passwd (first entry of a name wins), etc.group (last wins) and current_user.
pub fn passwd(host: &Host, out: &mut Map) {
    let users = passwd_entries(host);
    let mut passwd = Map::new();
    for user in &users {
        if !passwd.contains_key(&user.name) {
            passwd.insert(
                user.name.clone(),
                json!({"dir": user.dir, "gid": user.gid, "uid": user.uid,
                       "shell": user.shell, "gecos": user.gecos}),
            );
        }
    }
    let mut group = Map::new();
    for entry in group_entries(host) {
        group.insert(
            entry.name,
            json!({"gid": entry.gid, "members": entry.members}),
        );
    }
    out.insert("etc".into(), json!({"passwd": passwd, "group": group}));
    let euid = u64::from(nix::unistd::geteuid().as_raw());
    let name = users
        .iter()
        .find(|u| u.uid == euid)
        .map(|u| u.name.clone())
        .or_else(|| {
            let uid = nix::unistd::Uid::from_raw(u32::try_from(euid).ok()?);
            nix::unistd::User::from_uid(uid)
                .ok()
                .flatten()
                .map(|u| u.name)
        });
    if let Some(name) = name {
        out.insert("current_user".into(), Value::from(name));
    }
}

/// root_group: the name of root's primary group.
pub fn root_group(host: &Host, out: &mut Map) {
    let gid = passwd_entries(host)
        .into_iter()
        .find(|u| u.name == "root")
        .map_or(0, |u| u.gid);
    let name = group_entries(host)
        .into_iter()
        .find(|g| g.gid == gid)
        .map(|g| g.name);
    if let Some(name) = name {
        out.insert("root_group".into(), Value::from(name));
    }
}

/// shells: the lines of /etc/shells that start with `/`.
pub fn shells(host: &Host, out: &mut Map) {
    if let Some(text) = host.read("/etc/shells") {
        let shells: Vec<&str> = text.lines().filter(|l| l.starts_with('/')).collect();
        out.insert("shells".into(), Value::from(shells));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines() {
        let users = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\nbad\nsync:x:4:65534:sync:/bin:/bin/sync\n",
        );
        assert_eq!(users.len(), 2);
        assert_eq!(users[1].gid, 65534);
        assert_eq!(users[1].shell, "/bin/sync");
    }

    #[test]
    fn group_lines_and_members() {
        let groups = parse_group("root:x:0:\nsudo:x:27:alice,bob\n");
        assert_eq!(groups[0].members, Vec::<String>::new());
        assert_eq!(groups[1].members, vec!["alice", "bob"]);
    }

    #[test]
    fn etc_tree_root_group_and_shells() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\nroot:x:9:9:dup:/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "wheel:x:0:root\n").unwrap();
        std::fs::write(dir.path().join("etc/shells"), "# c\n/bin/sh\n\n/bin/bash\n").unwrap();
        let host = Host::at(dir.path());
        let mut out = Map::new();
        passwd(&host, &mut out);
        root_group(&host, &mut out);
        shells(&host, &mut out);
        assert_eq!(
            out["etc"]["passwd"]["root"],
            json!({"dir": "/root", "gid": 0, "uid": 0, "shell": "/bin/bash", "gecos": "root"})
        );
        assert_eq!(
            out["etc"]["group"]["wheel"],
            json!({"gid": 0, "members": ["root"]})
        );
        assert_eq!(out["root_group"], json!("wheel"));
        assert_eq!(out["shells"], json!(["/bin/sh", "/bin/bash"]));
    }
}
