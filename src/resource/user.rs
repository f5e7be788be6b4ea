//! `user` (`linux_user` on Linux): creates, alters, removes, locks and unlocks a local account
//! (Chef's `Chef::Provider::User::Linux`).
//!
//! The current account comes from /etc/passwd and /etc/shadow (read once per run through
//! [`Context::accounts`]); [`compare_user`] is Chef's `compare_user`: only the properties the
//! recipe sets are compared, `home` after path cleanup, the rest as strings. Changes go through
//! useradd, usermod and userdel.

use super::build::Sources;
use super::properties::{value_u32, Properties};
use super::{Action, Change, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, Result};
use crate::platform::accounts::{AccountDatabase, AccountTool};
use crate::platform::command::CommandEnv;
use serde_json::Value;
use std::path::{Component, Path, PathBuf};

/// Properties of `user`.
pub const PROPERTIES: &[&str] = &[
    "username",
    "comment",
    "home",
    "shell",
    "password",
    "salt",
    "uid",
    "gid",
    "system",
    "manage_home",
    "non_unique",
    "force",
    "expire_date",
    "inactive",
];

/// Actions of `user`.
pub const ACTIONS: &[Action] = &[
    Action::Create,
    Action::Remove,
    Action::Modify,
    Action::Manage,
    Action::Lock,
    Action::Unlock,
];

/// The properties a recipe may set on an account; `None` is "not specified".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSpec {
    /// `username`.
    pub username: String,
    /// `comment` (GECOS).
    pub comment: Option<String>,
    /// `home`.
    pub home: Option<String>,
    /// `shell`.
    pub shell: Option<String>,
    /// `password`: a crypt(3) hash.
    pub password: Option<String>,
    /// `uid`, as written.
    pub uid: Option<String>,
    /// `gid`: a number, or a group name resolved when loading.
    pub gid: Option<String>,
    /// `expire_date` (`YYYY-MM-DD`).
    pub expire_date: Option<String>,
    /// `inactive` days.
    pub inactive: Option<String>,
}

/// The account as it is on the host, in the same shape as [`UserSpec`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentUser {
    /// The passwd fields and shadow hash/ageing, as strings.
    pub fields: UserSpec,
    /// The shadow hash starts with `!`.
    pub locked: bool,
}

impl CurrentUser {
    /// Reads `name` from the database; `None` when the user does not exist. `password` is
    /// the passwd field, replaced by the shadow hash when it is `x` and a password is wanted.
    pub fn load(db: &AccountDatabase, name: &str, want_password: bool) -> Option<Self> {
        let entry = db.user(name)?;
        let shadow = db.shadow(name);
        let mut password = entry.password.clone();
        if want_password && password == "x" {
            if let Some(s) = shadow {
                password = s.hash.clone();
            }
        }
        Some(Self {
            fields: UserSpec {
                username: entry.name.clone(),
                comment: Some(entry.comment.clone()),
                home: Some(entry.home.clone()),
                shell: Some(entry.shell.clone()),
                password: Some(password),
                uid: Some(entry.uid.to_string()),
                gid: Some(entry.gid.to_string()),
                expire_date: shadow.and_then(|s| s.expire).map(date_from_days),
                inactive: shadow.and_then(|s| s.inactive).map(|d| d.to_string()),
            },
            locked: shadow.is_some_and(|s| s.is_locked()),
        })
    }
}

/// Chef's `compare_user` (with the Linux provider's `expire_date` and `inactive`): one
/// `change X from CUR to NEW` line per specified property that differs.
pub fn compare_user(want: &UserSpec, current: &UserSpec, sensitive: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let cur = |v: &Option<String>| v.clone().unwrap_or_default();
    if let Some(home) = &want.home {
        if clean_path(home) != clean_path(&cur(&current.home)) {
            lines.push(format!(
                "change homedir from {} to {home}",
                cur(&current.home)
            ));
        }
    }
    let compared = [
        ("comment", &want.comment, &current.comment),
        ("shell", &want.shell, &current.shell),
        ("password", &want.password, &current.password),
        ("uid", &want.uid, &current.uid),
        ("gid", &want.gid, &current.gid),
        ("expire_date", &want.expire_date, &current.expire_date),
        ("inactive", &want.inactive, &current.inactive),
    ];
    for (name, new, old) in compared {
        let Some(new) = new else { continue };
        if *new == cur(old) {
            continue;
        }
        if name == "password" && sensitive {
            lines.push("change password from ******** to ********".to_string());
        } else {
            lines.push(format!("change {name} from {} to {new}", cur(old)));
        }
    }
    lines
}

/// Ruby's `Pathname#cleanpath`: drops `.`, empty components and a trailing slash, folds `..`.
pub fn clean_path(path: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for part in Path::new(path).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A day count since 1970-01-01 as `YYYY-MM-DD` (how Chef prints shadow's expiry).
pub fn date_from_days(days: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `user "bob"`.
#[derive(Debug)]
pub struct UserResource {
    id: ResourceId,
    common: Common,
    spec: UserSpec,
    system: bool,
    manage_home: bool,
    non_unique: bool,
    force: bool,
}

/// Builds a `user` (or `linux_user`); `username` defaults to the name.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    _sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    let id_text = |name: &str| -> Result<Option<String>> {
        match props.get(name) {
            None => Ok(None),
            Some(p) => match &p.value {
                Value::String(s) => Ok(Some(s.clone())),
                v => value_u32(v)
                    .map(|n| Some(n.to_string()))
                    .ok_or_else(|| super::properties::type_error(name, "a string or integer", p)),
            },
        }
    };
    let spec = UserSpec {
        username: props
            .string("username")?
            .unwrap_or_else(|| decl.name.clone()),
        comment: props.string("comment")?,
        home: props.string("home")?,
        shell: props.string("shell")?,
        password: props.string("password")?,
        uid: id_text("uid")?,
        gid: id_text("gid")?,
        expire_date: props.string("expire_date")?,
        inactive: id_text("inactive")?,
    };
    Ok(Box::new(UserResource {
        id: ResourceId::new(decl.kind.clone(), &decl.name),
        common,
        spec,
        system: props.bool("system")?.unwrap_or(false),
        manage_home: props.bool("manage_home")?.unwrap_or(false),
        non_unique: props.bool("non_unique")?.unwrap_or(false),
        force: props.bool("force")?.unwrap_or(false),
    }))
}

/// What `apply` runs, decided in `check`.
#[derive(Debug)]
struct UserPlan {
    tools: Vec<AccountTool>,
}

impl UserResource {
    /// The wanted spec with a group name in `gid` turned into its number; `Err` with Chef's
    /// message when the group does not exist.
    fn resolved_spec(&self, db: &AccountDatabase) -> std::result::Result<UserSpec, Error> {
        let mut spec = self.spec.clone();
        if let Some(gid) = &self.spec.gid {
            if gid.parse::<u32>().is_err() {
                let found = db.group(gid).ok_or_else(|| {
                    Error::resource(
                        "Chef::Exceptions::User",
                        format!("Couldn't lookup integer GID for group name {gid}"),
                    )
                })?;
                spec.gid = Some(found.gid.to_string());
            }
        }
        Ok(spec)
    }

    fn name(&self) -> &str {
        &self.spec.username
    }

    /// Chef's `should_set?`: specified and different from the current value.
    fn universal_options(&self, want: &UserSpec, current: Option<&UserSpec>) -> Vec<String> {
        let cur = |f: fn(&UserSpec) -> &Option<String>| current.and_then(|c| f(c).clone());
        let mut opts = Vec::new();
        let mut set = |flag: &str, new: &Option<String>, old: Option<String>| {
            if let Some(v) = new {
                if old.as_deref() != Some(v.as_str()) {
                    opts.push(flag.to_string());
                    opts.push(v.clone());
                }
            }
        };
        set("-c", &want.comment, cur(|c| &c.comment));
        set("-e", &want.expire_date, None);
        set("-g", &want.gid, cur(|c| &c.gid));
        set("-f", &want.inactive, None);
        set("-p", &want.password, cur(|c| &c.password));
        set("-s", &want.shell, cur(|c| &c.shell));
        set("-u", &want.uid, cur(|c| &c.uid));
        if self.updating_home(want, current) {
            opts.push("-d".into());
            opts.push(want.home.clone().unwrap_or_default());
        }
        if self.non_unique {
            opts.push("-o".into());
        }
        opts
    }

    fn updating_home(&self, want: &UserSpec, current: Option<&UserSpec>) -> bool {
        match (&want.home, current.and_then(|c| c.home.as_ref())) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(new), Some(old)) => clean_path(new) != clean_path(old),
        }
    }

    fn useradd(&self, want: &UserSpec) -> AccountTool {
        let mut args = self.universal_options(want, None);
        if self.system {
            args.push("-r".into());
        }
        args.push(if self.manage_home { "-m" } else { "-M" }.into());
        args.push(self.name().to_string());
        AccountTool::new("useradd", args)
    }

    fn usermod(&self, want: &UserSpec, current: &UserSpec) -> AccountTool {
        let mut args = self.universal_options(want, Some(current));
        if self.non_unique {
            if let Some(uid) = &want.uid {
                args.push("-u".into());
                args.push(uid.clone());
            }
        }
        if self.updating_home(want, Some(current)) && self.manage_home {
            args.push("-m".into());
        }
        args.push(self.name().to_string());
        AccountTool::new("usermod", args)
    }

    fn userdel(&self) -> AccountTool {
        let mut args = Vec::new();
        if self.manage_home {
            args.push("-r".to_string());
        }
        if self.force {
            args.push("-f".to_string());
        }
        args.push(self.name().to_string());
        AccountTool::new("userdel", args)
    }

    /// Runs a tool; usermod's exit 12 (could not move the home directory) is Chef's
    /// "Unable to modify home directory" unless usermod said the home already exists.
    fn run_tool(&self, tool: &AccountTool, root: &Path, env: &CommandEnv) -> Result<()> {
        if tool.program() != "usermod" {
            return tool.run(root, env).map(|_| ());
        }
        let out = tool.run_accepting(root, env, &[0, 12])?;
        if out.code() == 12 && !String::from_utf8_lossy(&out.stderr).contains("exists") {
            return Err(Error::resource(
                "Chef::Exceptions::User",
                format!("Unable to modify home directory for {}", self.name()),
            ));
        }
        Ok(())
    }

    fn missing_user(&self, why: &str) -> Error {
        Error::resource("Chef::Exceptions::User", why.to_string())
    }

    /// The change lines and tools for `action`, given the current account.
    fn decide(
        &self,
        action: Action,
        want: &UserSpec,
        current: Option<&CurrentUser>,
        why_run: bool,
    ) -> Result<(Vec<String>, Vec<AccountTool>)> {
        let name = self.name();
        let diff = |c: &CurrentUser| compare_user(want, &c.fields, self.common.sensitive);
        let altered = |verb: &str, c: &CurrentUser| {
            let lines = diff(c);
            if lines.is_empty() {
                return (Vec::new(), Vec::new());
            }
            let mut all = vec![format!("{verb} user {name}")];
            all.extend(lines);
            (all, vec![self.usermod(want, &c.fields)])
        };
        let lock = |flag: &str| AccountTool::new("usermod", vec![flag.into(), name.into()]);
        Ok(match (action, current) {
            (Action::Create, None) => (
                vec![format!("create user {name}")],
                vec![self.useradd(want)],
            ),
            (Action::Create, Some(c)) => altered("alter", c),
            (Action::Remove, Some(_)) => {
                (vec![format!("remove user {name}")], vec![self.userdel()])
            }
            (Action::Manage, Some(c)) => altered("manage", c),
            (Action::Modify, Some(c)) => altered("modify", c),
            (Action::Lock, Some(c)) if !c.locked => {
                (vec![format!("lock the user {name}")], vec![lock("-L")])
            }
            (Action::Unlock, Some(c)) if c.locked => {
                (vec![format!("unlock user {name}")], vec![lock("-U")])
            }
            (Action::Modify, None) if !why_run => {
                return Err(
                    self.missing_user(&format!("Cannot modify user {name} - does not exist!"))
                )
            }
            (Action::Lock | Action::Unlock, None) if !why_run => {
                return Err(self.missing_user(&format!(
                    "User {name} does not exist when checking lock status for {}",
                    self.id
                )))
            }
            _ => (Vec::new(), Vec::new()),
        })
    }
}

impl Resource for UserResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn display_kind(&self) -> &str {
        "linux_user"
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        let db = cx.accounts.database(&cx.root);
        let current = CurrentUser::load(&db, self.name(), self.spec.password.is_some());
        let want = match self.resolved_spec(&db) {
            Ok(spec) => spec,
            Err(_) if cx.why_run || matches!(action, Action::Remove) => self.spec.clone(),
            Err(e) => return Err(e),
        };
        let (lines, tools) = self.decide(action, &want, current.as_ref(), cx.why_run)?;
        let mut plan = Plan::up_to_date();
        for line in lines {
            plan.push(Change::new(line));
        }
        if !plan.is_empty() {
            plan.set_payload(UserPlan { tools });
        }
        Ok(plan)
    }

    fn apply(&self, _action: Action, mut plan: Plan, cx: &mut Context) -> Result<()> {
        let Some(user_plan) = plan.take_payload::<UserPlan>() else {
            return Err(Error::resource(
                "Chef::Exceptions::Internal",
                format!("no user plan for {}", self.id),
            ));
        };
        let env = cx.command_env();
        let result = user_plan
            .tools
            .iter()
            .try_for_each(|tool| self.run_tool(tool, &cx.root, &env));
        cx.accounts.invalidate();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::Host;
    use serde_json::json;

    fn current() -> UserSpec {
        UserSpec {
            username: "root".into(),
            comment: Some("root".into()),
            home: Some("/root".into()),
            shell: Some("/bin/bash".into()),
            password: Some("x".into()),
            uid: Some("0".into()),
            gid: Some("0".into()),
            expire_date: None,
            inactive: None,
        }
    }

    #[test]
    fn only_specified_properties_are_compared_and_home_is_cleaned() {
        let want = UserSpec {
            username: "root".into(),
            home: Some("/root/".into()),
            shell: Some("/bin/bash".into()),
            uid: Some("0".into()),
            ..UserSpec::default()
        };
        assert!(compare_user(&want, &current(), false).is_empty());
        assert_eq!(clean_path("/home//bob/./x/../"), PathBuf::from("/home/bob"));
    }

    #[test]
    fn differences_are_chefs_change_lines_in_chefs_order() {
        let want = UserSpec {
            username: "root".into(),
            home: Some("/srv/root".into()),
            shell: Some("/bin/sh".into()),
            uid: Some("10".into()),
            password: Some("$6$x".into()),
            ..UserSpec::default()
        };
        assert_eq!(
            compare_user(&want, &current(), false),
            [
                "change homedir from /root to /srv/root",
                "change shell from /bin/bash to /bin/sh",
                "change password from x to $6$x",
                "change uid from 0 to 10",
            ]
        );
        assert_eq!(
            compare_user(&want, &current(), true)[2],
            "change password from ******** to ********"
        );
    }

    #[test]
    fn shadow_days_print_as_dates() {
        assert_eq!(date_from_days(0), "1970-01-01");
        assert_eq!(date_from_days(19_723), "2024-01-01");
        assert_eq!(date_from_days(20_000), "2024-10-04");
    }

    fn accounts_host() -> Host {
        let host = Host::new();
        host.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
        host.write("/etc/group", "root:x:0:\nusers:x:100:\n");
        host.write("/etc/shadow", "root:*:19000:0:99999:7:::\n");
        host.write("/etc/gshadow", "root:*::\nusers:*::\n");
        host
    }

    #[test]
    fn state_is_read_from_the_files_under_the_root() {
        let mut host = accounts_host();
        let r = host
            .build("user", "root", json!({"shell": "/bin/zsh", "gid": "users"}))
            .unwrap();
        assert_eq!(r.display_kind(), "linux_user");
        assert_eq!(
            host.check(r.as_ref(), Action::Create),
            [
                "alter user root",
                "change shell from /bin/bash to /bin/zsh",
                "change gid from 0 to 100"
            ]
        );
        let absent = host.build("user", "nobody1", json!({})).unwrap();
        assert!(host.check(absent.as_ref(), Action::Remove).is_empty());
        assert!(host.check(absent.as_ref(), Action::Manage).is_empty());
        let err = absent.check(Action::Modify, &mut host.cx).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cannot modify user nobody1 - does not exist!"
        );
    }

    #[test]
    fn unknown_group_name_for_gid_fails_except_in_why_run() {
        let mut host = accounts_host();
        let r = host
            .build("user", "root", json!({"gid": "nosuch"}))
            .unwrap();
        let err = r.check(Action::Create, &mut host.cx).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Couldn't lookup integer GID for group name nosuch"
        );
        host.cx.why_run = true;
        assert!(r.check(Action::Create, &mut host.cx).is_ok());
    }

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn useradd_usermod_userdel_under_a_temp_root() {
        if !is_root() {
            eprintln!("skipped: useradd --root needs root");
            return;
        }
        let mut host = accounts_host();
        let bob = host
            .build(
                "user",
                "bob",
                json!({"uid": 1500, "gid": "users", "shell": "/bin/sh", "home": "/home/bob", "comment": "Bob",
                        "password": "$6$salt$hash"}),
            )
            .unwrap();
        assert_eq!(
            host.converge(bob.as_ref(), Action::Create).unwrap(),
            ["create user bob"]
        );
        assert!(host
            .read("/etc/passwd")
            .contains("bob:x:1500:100:Bob:/home/bob:/bin/sh"));
        assert!(host.check(bob.as_ref(), Action::Create).is_empty());

        let lock = host.build("user", "bob", json!({})).unwrap();
        assert!(host.read("/etc/shadow").contains("bob:$6$salt$hash:"));
        assert_eq!(
            host.converge(lock.as_ref(), Action::Lock).unwrap(),
            ["lock the user bob"]
        );
        assert!(host.check(lock.as_ref(), Action::Lock).is_empty());
        assert!(host.read("/etc/shadow").contains("bob:!$6$salt$hash:"));
        assert_eq!(
            host.converge(lock.as_ref(), Action::Unlock).unwrap(),
            ["unlock user bob"]
        );

        let zsh = host
            .build("user", "bob", json!({"shell": "/bin/zsh"}))
            .unwrap();
        assert_eq!(
            host.converge(zsh.as_ref(), Action::Create).unwrap(),
            ["alter user bob", "change shell from /bin/sh to /bin/zsh"]
        );
        assert!(host.check(zsh.as_ref(), Action::Create).is_empty());

        assert_eq!(
            host.converge(lock.as_ref(), Action::Remove).unwrap(),
            ["remove user bob"]
        );
        assert!(!host.read("/etc/passwd").contains("bob:"));
        assert!(host.check(lock.as_ref(), Action::Remove).is_empty());
    }

    #[test]
    fn useradd_refusal_is_reported_with_what_it_said() {
        if !is_root() {
            eprintln!("skipped: useradd --root needs root");
            return;
        }
        let mut host = accounts_host();
        let r = host.build("user", "Bad:Name", json!({})).unwrap();
        let err = host.converge(r.as_ref(), Action::Create).unwrap_err();
        assert_eq!(err.class(), "Mixlib::ShellOut::ShellCommandFailed");
        assert!(err.to_string().contains("useradd"), "{err}");
    }
}
