//! Users and groups of the host, read from `/etc/passwd`, `/etc/group` and `/etc/shadow`.
//!
//! Reading the files (rather than asking NSS) keeps the no-op path free of library calls that
//! may load modules; NSS is asked only for a name the files do not have. [`Accounts`] is what file ownership checks need (name → id and id → name);
//! [`AccountDatabase`] holds whole entries for the `user` and `group` resources, and
//! [`AccountsCache`] keeps one database per run, dropped after a change.

use crate::error::{Error, Result};
use crate::platform::command::{CommandEnv, CommandLine, CommandOutput, CommandSpec};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

    /// The uid of user `name`: from the files, else from NSS (LDAP or SSSD users, as Chef's
    /// `Etc.getpwnam` finds them).
    pub fn uid(&self, name: &str) -> Option<u32> {
        find_id(&self.users, name).or_else(|| {
            nix::unistd::User::from_name(name)
                .ok()
                .flatten()
                .map(|u| u.uid.as_raw())
        })
    }

    /// The name of the user with `uid`.
    pub fn user_name(&self, uid: u32) -> Option<&str> {
        find_name(&self.users, uid)
    }

    /// The gid of group `name`: from the files, else from NSS.
    pub fn gid(&self, name: &str) -> Option<u32> {
        find_id(&self.groups, name).or_else(|| {
            nix::unistd::Group::from_name(name)
                .ok()
                .flatten()
                .map(|g| g.gid.as_raw())
        })
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

/// One line of `/etc/passwd`: `name:password:uid:gid:gecos:home:shell`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    /// The login name.
    pub name: String,
    /// The password field (`x` when the hash is in /etc/shadow).
    pub password: String,
    /// The numeric user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// The comment (GECOS) field.
    pub comment: String,
    /// The home directory.
    pub home: String,
    /// The login shell.
    pub shell: String,
}

impl PasswdEntry {
    /// Parses one passwd line; `None` for comments, blank and malformed lines.
    pub fn parse(line: &str) -> Option<Self> {
        if line.trim_start().starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || f[0].is_empty() {
            return None;
        }
        Some(Self {
            name: f[0].to_string(),
            password: f[1].to_string(),
            uid: f[2].trim().parse().ok()?,
            gid: f[3].trim().parse().ok()?,
            comment: f[4].to_string(),
            home: f[5].to_string(),
            shell: f[6..].join(":"),
        })
    }

    /// The line as it appears in /etc/passwd.
    pub fn to_line(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}:{}:{}",
            self.name, self.password, self.uid, self.gid, self.comment, self.home, self.shell
        )
    }
}

/// One line of `/etc/group`: `name:password:gid:member,member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// The group name.
    pub name: String,
    /// The numeric group id.
    pub gid: u32,
    /// Supplementary members, in file order.
    pub members: Vec<String>,
}

impl GroupEntry {
    /// Parses one group line; `None` for comments, blank and malformed lines.
    pub fn parse(line: &str) -> Option<Self> {
        if line.trim_start().starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 || f[0].is_empty() {
            return None;
        }
        Some(Self {
            name: f[0].to_string(),
            gid: f[2].trim().parse().ok()?,
            members: split_members(f[3]),
        })
    }

    /// The line as it appears in /etc/group.
    pub fn to_line(&self) -> String {
        format!("{}:x:{}:{}", self.name, self.gid, self.members.join(","))
    }
}

/// One line of `/etc/shadow`: the password hash and ageing fields Chef reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowEntry {
    /// The login name.
    pub name: String,
    /// The password hash (`!`/`*` prefixed when locked or unset).
    pub hash: String,
    /// Days after expiry until the account is disabled (`inactive`).
    pub inactive: Option<i64>,
    /// Days since the epoch when the account expires (`expire_date`).
    pub expire: Option<i64>,
}

impl ShadowEntry {
    /// Parses one shadow line; `None` for malformed lines.
    pub fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 2 || f[0].is_empty() || f[0].starts_with('#') {
            return None;
        }
        let number = |i: usize| f.get(i).and_then(|v| v.trim().parse().ok());
        Some(Self {
            name: f[0].to_string(),
            hash: f[1].to_string(),
            inactive: number(6),
            expire: number(7),
        })
    }

    /// Whether the password is locked (`usermod -L` puts a `!` in front of the hash).
    pub fn is_locked(&self) -> bool {
        self.hash.starts_with('!')
    }
}

/// Members as written in a group line: comma separated, blanks dropped.
fn split_members(field: &str) -> Vec<String> {
    field
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whole entries of passwd, group and shadow, for the `user` and `group` resources.
#[derive(Debug, Clone, Default)]
pub struct AccountDatabase {
    /// /etc/passwd, in file order.
    pub users: Vec<PasswdEntry>,
    /// /etc/group, in file order.
    pub groups: Vec<GroupEntry>,
    /// /etc/shadow, in file order (empty when unreadable).
    pub shadow: Vec<ShadowEntry>,
}

impl AccountDatabase {
    /// Reads `<root>/etc/{passwd,group,shadow}`; a missing file counts as empty.
    pub fn load(root: &Path) -> Self {
        let read =
            |name: &str| std::fs::read_to_string(root.join("etc").join(name)).unwrap_or_default();
        Self::parse(&read("passwd"), &read("group"), &read("shadow"))
    }

    /// Parses the text of the three files.
    pub fn parse(passwd: &str, group: &str, shadow: &str) -> Self {
        Self {
            users: passwd.lines().filter_map(PasswdEntry::parse).collect(),
            groups: group.lines().filter_map(GroupEntry::parse).collect(),
            shadow: shadow.lines().filter_map(ShadowEntry::parse).collect(),
        }
    }

    /// The passwd entry of `name` (the first one, as getpwnam answers).
    pub fn user(&self, name: &str) -> Option<&PasswdEntry> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The group entry of `name`.
    pub fn group(&self, name: &str) -> Option<&GroupEntry> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The shadow entry of `name`.
    pub fn shadow(&self, name: &str) -> Option<&ShadowEntry> {
        self.shadow.iter().find(|s| s.name == name)
    }
}

/// The run's copy of the account files, read on first use and dropped after a change.
#[derive(Debug, Clone, Default)]
pub struct AccountsCache {
    loaded: Option<(PathBuf, Arc<AccountDatabase>)>,
}

impl AccountsCache {
    /// The database under `root`, reading the files only the first time.
    pub fn database(&mut self, root: &Path) -> Arc<AccountDatabase> {
        if let Some((at, db)) = &self.loaded {
            if at == root {
                return Arc::clone(db);
            }
        }
        let db = Arc::new(AccountDatabase::load(root));
        self.loaded = Some((root.to_path_buf(), Arc::clone(&db)));
        db
    }

    /// Forgets what was read, so the next read sees a change just made.
    pub fn invalidate(&mut self) {
        self.loaded = None;
    }
}

/// One of shadow-utils' account tools (`useradd`, `usermod`, `gpasswd`...), told to work on the
/// files under `root` when that is not `/` (`-R`/`--root`; gpasswd spells it `-Q`).
#[derive(Debug, Clone)]
pub struct AccountTool {
    program: &'static str,
    args: Vec<String>,
}

impl AccountTool {
    /// A tool invocation with its arguments (without the root option).
    pub fn new(program: &'static str, args: Vec<String>) -> Self {
        Self { program, args }
    }

    /// The argv that runs under `root`.
    pub fn argv(&self, root: &Path) -> Vec<String> {
        let mut argv = vec![self.program.to_string()];
        if root != Path::new("/") {
            let flag = if self.program == "gpasswd" {
                "-Q"
            } else {
                "-R"
            };
            argv.push(flag.to_string());
            argv.push(root.display().to_string());
        }
        argv.extend(self.args.iter().cloned());
        argv
    }

    /// Runs the tool; a failure is Mixlib::ShellOut's error with what the tool said.
    pub fn run(&self, root: &Path, env: &CommandEnv) -> Result<CommandOutput> {
        self.run_accepting(root, env, &[0])
    }

    /// Runs the tool, accepting the exit codes in `ok` (usermod's 12: "home exists").
    pub fn run_accepting(
        &self,
        root: &Path,
        env: &CommandEnv,
        ok: &[i32],
    ) -> Result<CommandOutput> {
        let argv = self.argv(root);
        let spec = CommandSpec::new(CommandLine::Argv(argv.clone()));
        let out = spec.run(env)?;
        if !out.timed_out && ok.contains(&out.code()) {
            return Ok(out);
        }
        let codes: Vec<String> = ok.iter().map(i32::to_string).collect();
        Err(Error::resource(
            "Mixlib::ShellOut::ShellCommandFailed",
            format!(
                "Expected process to exit with [{}], but received '{}'\n---- Begin output of {} ----\nSTDOUT: {}\nSTDERR: {}\n---- End output of {} ----",
                codes.join(", "),
                out.code(),
                argv.join(" "),
                String::from_utf8_lossy(&out.stdout).trim_end(),
                String::from_utf8_lossy(&out.stderr).trim_end(),
                argv.join(" ")
            ),
        ))
    }

    /// The program run (`useradd`, `gpasswd`...).
    pub fn program(&self) -> &'static str {
        self.program
    }
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

    #[test]
    fn passwd_line_fields_and_round_trip() {
        let line = "bob:x:1000:100:Bob B,,,:/home/bob:/bin/bash";
        let e = PasswdEntry::parse(line).unwrap();
        assert_eq!((e.uid, e.gid), (1000, 100));
        assert_eq!(e.comment, "Bob B,,,");
        assert_eq!(e.home, "/home/bob");
        assert_eq!(e.shell, "/bin/bash");
        assert_eq!(e.to_line(), line);
        assert!(PasswdEntry::parse("# bob:x:1:1::/:/bin/sh").is_none());
        assert!(PasswdEntry::parse("bob:x:notanumber:1::/:/bin/sh").is_none());
        assert!(PasswdEntry::parse("bob:x:1:1").is_none());
    }

    #[test]
    fn group_line_members_split_on_commas() {
        let g = GroupEntry::parse("adm:x:4:syslog,bob").unwrap();
        assert_eq!(g.gid, 4);
        assert_eq!(g.members, ["syslog", "bob"]);
        assert!(GroupEntry::parse("adm:x:4:").unwrap().members.is_empty());
        assert_eq!(g.to_line(), "adm:x:4:syslog,bob");
        assert!(GroupEntry::parse("adm:x:4").is_none());
    }

    #[test]
    fn shadow_line_hash_lock_and_ageing() {
        let s = ShadowEntry::parse("bob:!$6$salt$hash:19000:0:99999:7:30:20000:").unwrap();
        assert!(s.is_locked());
        assert_eq!(s.inactive, Some(30));
        assert_eq!(s.expire, Some(20000));
        let open = ShadowEntry::parse("root:*:19000:0:99999:7:::").unwrap();
        assert!(!open.is_locked());
        assert_eq!(open.expire, None);
    }

    #[test]
    fn tools_get_the_root_option_only_for_another_root() {
        let t = AccountTool::new("useradd", vec!["bob".into()]);
        assert_eq!(t.argv(Path::new("/")), ["useradd", "bob"]);
        assert_eq!(
            t.argv(Path::new("/tmp/r")),
            ["useradd", "-R", "/tmp/r", "bob"]
        );
        let g = AccountTool::new("gpasswd", vec!["-a".into(), "bob".into(), "adm".into()]);
        assert_eq!(g.argv(Path::new("/tmp/r"))[1], "-Q");
    }

    #[test]
    fn cache_reads_once_until_invalidated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        let passwd = dir.path().join("etc/passwd");
        std::fs::write(&passwd, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
        let mut cache = AccountsCache::default();
        assert!(cache.database(dir.path()).user("root").is_some());
        std::fs::write(&passwd, "").unwrap();
        assert!(cache.database(dir.path()).user("root").is_some());
        cache.invalidate();
        assert!(cache.database(dir.path()).user("root").is_none());
    }
}
