//! `group`: creates, alters and removes a local group and its member list (Chef's
//! `Chef::Provider::Group::Gpasswd`).
//!
//! The current group comes from /etc/group (read once per run); [`compare_group`] is Chef's
//! `compare_group`: the gid when given, then the members: with `append false` the member list
//! is replaced by `members` (so a bare `group "x"` empties it), with `append true` only missing
//! members are added and `excluded_members` removed. Changes go through groupadd, groupmod,
//! groupdel and gpasswd.

use super::build::Sources;
use super::properties::{value_u32, Properties};
use super::{Action, Change, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::{PropValue, ResourceDecl};
use crate::error::{Error, Result};
use crate::platform::accounts::{AccountTool, GroupEntry};
use serde_json::Value;

/// Properties of `group`.
pub const PROPERTIES: &[&str] = &[
    "group_name",
    "gid",
    "members",
    "excluded_members",
    "append",
    "system",
    "non_unique",
    "comment",
];

/// Actions of `group`.
pub const ACTIONS: &[Action] = &[
    Action::Create,
    Action::Remove,
    Action::Modify,
    Action::Manage,
];

/// What the recipe wants of the group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupSpec {
    /// `group_name`.
    pub name: String,
    /// `gid`; when not given, the current gid is taken as wanted (as Chef does).
    pub gid: Option<u32>,
    /// `members` (default empty).
    pub members: Vec<String>,
    /// `excluded_members`, removed only with `append`.
    pub excluded_members: Vec<String>,
    /// `append`.
    pub append: bool,
}

/// Chef's `compare_group`: the change lines for an existing group (empty when it matches).
pub fn compare_group(want: &GroupSpec, current: &GroupEntry) -> Vec<String> {
    let mut lines = Vec::new();
    let gid = want.gid.unwrap_or(current.gid);
    if gid != current.gid {
        lines.push(format!("change gid {} to {gid}", current.gid));
    }
    if want.append {
        let missing = missing_members(want, current);
        if !missing.is_empty() {
            lines.push(format!("add missing member(s): {}", missing.join(", ")));
        }
        let removed = present_excluded(want, current);
        if !removed.is_empty() {
            lines.push(format!("remove existing member(s): {}", removed.join(", ")));
        }
    } else {
        let mut new = want.members.clone();
        let mut old = current.members.clone();
        new.sort();
        old.sort();
        if new != old {
            lines.push(format!(
                "replace group members with new list of members: {}",
                want.members.join(", ")
            ));
        }
    }
    lines
}

fn missing_members(want: &GroupSpec, current: &GroupEntry) -> Vec<String> {
    want.members
        .iter()
        .filter(|m| !current.members.contains(m))
        .cloned()
        .collect()
}

fn present_excluded(want: &GroupSpec, current: &GroupEntry) -> Vec<String> {
    want.excluded_members
        .iter()
        .filter(|m| current.members.contains(m))
        .cloned()
        .collect()
}

/// `group "staff"`.
#[derive(Debug)]
pub struct GroupResource {
    id: ResourceId,
    common: Common,
    spec: GroupSpec,
    system: bool,
    non_unique: bool,
}

/// A member list: an array of names, or a comma-separated string.
fn member_list(prop: Option<&PropValue>, name: &str) -> Result<Vec<String>> {
    let Some(prop) = prop else {
        return Ok(Vec::new());
    };
    let bad = || super::properties::type_error(name, "a string or array of strings", prop);
    match &prop.value {
        Value::String(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect()),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// Builds a `group`; `group_name` defaults to the name. Names in both `members` and
/// `excluded_members` are Chef's ConflictingMembersInGroup.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    _sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    let gid = match props.get("gid") {
        None => None,
        Some(p) => Some(
            value_u32(&p.value)
                .ok_or_else(|| super::properties::type_error("gid", "a numeric group id", p))?,
        ),
    };
    let spec = GroupSpec {
        name: props
            .string("group_name")?
            .unwrap_or_else(|| decl.name.clone()),
        gid,
        members: member_list(props.get("members"), "members")?,
        excluded_members: member_list(props.get("excluded_members"), "excluded_members")?,
        append: props.bool("append")?.unwrap_or(false),
    };
    let common_members: Vec<&String> = spec
        .members
        .iter()
        .filter(|m| spec.excluded_members.contains(m))
        .collect();
    if !common_members.is_empty() {
        let names: Vec<&str> = common_members.iter().map(|s| s.as_str()).collect();
        return Err(Error::compile_as(
            "Chef::Exceptions::ConflictingMembersInGroup",
            props.location("excluded_members"),
            format!(
                "Attempting to both add and remove users from a group: '{}'",
                names.join(", ")
            ),
        ));
    }
    Ok(Box::new(GroupResource {
        id: ResourceId::new("group", &decl.name),
        common,
        spec,
        system: props.bool("system")?.unwrap_or(false),
        non_unique: props.bool("non_unique")?.unwrap_or(false),
    }))
}

/// What `apply` runs, decided in `check`.
#[derive(Debug)]
struct GroupPlan {
    tools: Vec<AccountTool>,
}

impl GroupResource {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn gpasswd(&self, args: &[&str]) -> AccountTool {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.push(self.name().to_string());
        AccountTool::new("gpasswd", all)
    }

    /// Chef's `modify_group_members`: gpasswd -a / -d per member with `append`, else -M.
    fn member_tools(&self, current_members: &[String]) -> Vec<AccountTool> {
        let s = &self.spec;
        if !s.append {
            return vec![self.gpasswd(&["-M", &s.members.join(",")])];
        }
        let add = s
            .members
            .iter()
            .filter(|m| !current_members.contains(m))
            .map(|m| self.gpasswd(&["-a", m]));
        let remove = s
            .excluded_members
            .iter()
            .filter(|m| current_members.contains(m))
            .map(|m| self.gpasswd(&["-d", m]));
        add.chain(remove).collect()
    }

    fn groupadd(&self) -> AccountTool {
        let mut args = Vec::new();
        if let Some(gid) = self.spec.gid {
            args.push("-g".to_string());
            args.push(gid.to_string());
        }
        args.push(self.name().to_string());
        if self.system {
            args.push("-r".into());
        }
        if self.non_unique {
            args.push("-o".into());
        }
        AccountTool::new("groupadd", args)
    }

    fn decide(
        &self,
        action: Action,
        current: Option<&GroupEntry>,
        why_run: bool,
    ) -> Result<(Vec<String>, Vec<AccountTool>)> {
        let name = self.name();
        let altered = |verb: &str, c: &GroupEntry| {
            let lines = compare_group(&self.spec, c);
            if lines.is_empty() {
                return (Vec::new(), Vec::new());
            }
            let mut tools = Vec::new();
            if let Some(gid) = self.spec.gid.filter(|g| *g != c.gid) {
                tools.push(AccountTool::new(
                    "groupmod",
                    vec!["-g".into(), gid.to_string(), name.to_string()],
                ));
            }
            tools.extend(self.member_tools(&c.members));
            let mut all = vec![format!("{verb} group {name}")];
            all.extend(lines);
            (all, tools)
        };
        Ok(match (action, current) {
            (Action::Create, None) => {
                let mut tools = vec![self.groupadd()];
                tools.extend(self.member_tools(&[]));
                (vec![format!("create group {name}")], tools)
            }
            (Action::Create, Some(c)) => altered("alter", c),
            (Action::Manage, Some(c)) => altered("manage", c),
            (Action::Modify, Some(c)) => altered("modify", c),
            (Action::Remove, Some(_)) => (
                vec![format!("remove group {name}")],
                vec![AccountTool::new("groupdel", vec![name.to_string()])],
            ),
            (Action::Modify, None) if !why_run => {
                return Err(Error::resource(
                    "Chef::Exceptions::Group",
                    format!("Cannot modify {} - group does not exist!", self.id),
                ))
            }
            _ => (Vec::new(), Vec::new()),
        })
    }
}

impl Resource for GroupResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        let db = cx.accounts.database(&cx.root);
        let (lines, tools) = self.decide(action, db.group(self.name()), cx.why_run)?;
        let mut plan = Plan::up_to_date();
        for line in lines {
            plan.push(Change::new(line));
        }
        if !plan.is_empty() {
            plan.set_payload(GroupPlan { tools });
        }
        Ok(plan)
    }

    fn apply(&self, _action: Action, mut plan: Plan, cx: &mut Context) -> Result<()> {
        let Some(group_plan) = plan.take_payload::<GroupPlan>() else {
            return Err(Error::resource(
                "Chef::Exceptions::Internal",
                format!("no group plan for {}", self.id),
            ));
        };
        let env = cx.command_env();
        let result = group_plan
            .tools
            .iter()
            .try_for_each(|tool| tool.run(&cx.root, &env).map(|_| ()));
        cx.accounts.invalidate();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::Host;
    use serde_json::json;

    fn entry(members: &[&str]) -> GroupEntry {
        GroupEntry {
            name: "adm".into(),
            gid: 4,
            members: members.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn spec(members: &[&str], excluded: &[&str], append: bool) -> GroupSpec {
        GroupSpec {
            name: "adm".into(),
            gid: None,
            members: members.iter().map(|m| m.to_string()).collect(),
            excluded_members: excluded.iter().map(|m| m.to_string()).collect(),
            append,
        }
    }

    #[test]
    fn append_adds_missing_and_removes_excluded_only() {
        assert_eq!(
            compare_group(
                &spec(&["root", "bob"], &["eve"], true),
                &entry(&["bob", "eve"])
            ),
            [
                "add missing member(s): root",
                "remove existing member(s): eve"
            ]
        );
        assert!(compare_group(&spec(&["bob"], &["eve"], true), &entry(&["bob", "ann"])).is_empty());
    }

    #[test]
    fn without_append_the_list_is_replaced_and_a_bare_group_empties_it() {
        assert_eq!(
            compare_group(&spec(&[], &[], false), &entry(&["bob"])),
            ["replace group members with new list of members: "]
        );
        assert!(compare_group(&spec(&["b", "a"], &[], false), &entry(&["a", "b"])).is_empty());
    }

    #[test]
    fn gid_is_compared_only_when_given() {
        let mut s = spec(&[], &[], false);
        assert!(compare_group(&s, &entry(&[])).is_empty());
        s.gid = Some(40);
        assert_eq!(compare_group(&s, &entry(&[])), ["change gid 4 to 40"]);
    }

    #[test]
    fn members_in_both_lists_are_refused() {
        let host = Host::new();
        let err = host
            .build(
                "group",
                "adm",
                json!({"members": "a, b", "excluded_members": ["b"]}),
            )
            .unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::ConflictingMembersInGroup");
        assert!(err.to_string().contains("'b'"));
    }

    #[test]
    fn groupadd_and_gpasswd_under_a_temp_root() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: groupadd --root needs root");
            return;
        }
        let mut host = Host::new();
        host.write(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:100::/home/bob:/bin/sh\n",
        );
        host.write("/etc/group", "root:x:0:\n");
        host.write(
            "/etc/shadow",
            "root:*:19000:0:99999:7:::\nbob:*:19000:0:99999:7:::\n",
        );
        host.write("/etc/gshadow", "root:*::\n");
        let g = host
            .build("group", "staff", json!({"gid": 50, "members": ["bob"]}))
            .unwrap();
        assert_eq!(
            host.converge(g.as_ref(), Action::Create).unwrap(),
            ["create group staff"]
        );
        assert!(host.read("/etc/group").contains("staff:x:50:bob"));
        assert!(host.check(g.as_ref(), Action::Create).is_empty());

        let add_root = host
            .build(
                "group",
                "staff",
                json!({"members": ["root"], "append": true}),
            )
            .unwrap();
        assert_eq!(
            host.converge(add_root.as_ref(), Action::Create).unwrap(),
            ["alter group staff", "add missing member(s): root"]
        );
        assert!(host.check(add_root.as_ref(), Action::Create).is_empty());

        let bare = host.build("group", "staff", json!({})).unwrap();
        assert_eq!(
            host.converge(bare.as_ref(), Action::Create).unwrap(),
            [
                "alter group staff",
                "replace group members with new list of members: "
            ]
        );
        assert!(host.read("/etc/group").contains("staff:x:50:\n"));
        assert_eq!(
            host.converge(bare.as_ref(), Action::Remove).unwrap(),
            ["remove group staff"]
        );
        assert!(host.check(bare.as_ref(), Action::Remove).is_empty());
    }
}
