//! Owner, group and mode of managed paths, compared and described as Chef's
//! `FileAccessControl` does.
//!
//! Only what the resource specifies is compared; an unspecified owner, group or mode is never
//! touched. Descriptions print the current value the way the user wrote the new one: a name for
//! a name, an id for an id, and `''` when nothing exists yet.

use crate::error::{Error, Result};
use crate::platform::accounts::Accounts;
use crate::platform::fs::{Mode, Ownership};
use crate::resource::Change;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

/// A user or group as written: a name, or a numeric id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A user or group name (`www-data`).
    Name(String),
    /// A numeric uid or gid.
    Id(u32),
}

impl Principal {
    /// Numeric strings are ids, as in Chef (`owner "1000"`).
    pub fn from_text(text: &str) -> Self {
        match text.parse::<u32>() {
            Ok(id) => Principal::Id(id),
            Err(_) => Principal::Name(text.to_string()),
        }
    }

    /// The value as the user wrote it, for descriptions.
    pub fn display(&self) -> String {
        match self {
            Principal::Name(n) => n.clone(),
            Principal::Id(id) => id.to_string(),
        }
    }
}

/// The `owner`, `group` and `mode` properties of a file-like resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessControl {
    /// `owner`: the user the path should belong to.
    pub owner: Option<Principal>,
    /// `group`: the group the path should belong to.
    pub group: Option<Principal>,
    /// `mode`: the permission bits.
    pub mode: Option<Mode>,
}

/// What access control would change: Chef's lines and the values to set.
#[derive(Debug, Clone, Default)]
pub struct AccessChanges {
    /// One line per differing property, in Chef's order (mode, owner, group).
    pub changes: Vec<Change>,
    /// Only the values that differ are set.
    pub ownership: Ownership,
}

impl AccessChanges {
    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

impl AccessControl {
    /// True when no owner, group or mode is specified.
    pub fn is_unspecified(&self) -> bool {
        self.owner.is_none() && self.group.is_none() && self.mode.is_none()
    }

    /// The target uid, gid and mode. An unknown name is an error (`UserIDNotFound`,
    /// `GroupIDNotFound`) except in why-run, where Chef assumes it would exist by then
    /// (the id is then unknown and left unset).
    pub fn resolve(&self, accounts: &Accounts, why_run: bool) -> Result<Ownership> {
        let uid = match &self.owner {
            None => None,
            Some(Principal::Id(id)) => Some(*id),
            Some(Principal::Name(name)) => match accounts.uid(name) {
                Some(id) => Some(id),
                None if why_run => None,
                None => return Err(unknown_user(name)),
            },
        };
        let gid = match &self.group {
            None => None,
            Some(Principal::Id(id)) => Some(*id),
            Some(Principal::Name(name)) => match accounts.gid(name) {
                Some(id) => Some(id),
                None if why_run => None,
                None => return Err(unknown_group(name)),
            },
        };
        Ok(Ownership {
            uid,
            gid,
            mode: self.mode,
        })
    }

    /// Chef's `change mode/owner/group from 'OLD' to 'NEW'` lines against `current`
    /// (`None`: the path does not exist yet).
    pub fn changes(
        &self,
        current: Option<&Metadata>,
        accounts: &Accounts,
        why_run: bool,
    ) -> Result<AccessChanges> {
        let target = self.resolve(accounts, why_run)?;
        let mut out = AccessChanges::default();
        if let Some(mode) = self.mode {
            let now = current.map(|m| Mode::new(m.mode()));
            if now != Some(mode) {
                let old = now.map(|m| m.to_string()).unwrap_or_default();
                out.changes
                    .push(Change::new(format!("change mode from '{old}' to '{mode}'")));
                out.ownership.mode = Some(mode);
            }
        }
        if let Some(owner) = &self.owner {
            let now = current.map(|m| m.uid());
            if target.uid.is_none() || now != target.uid {
                let old = current_label(owner, now, |id| accounts.user_name(id));
                out.changes.push(Change::new(format!(
                    "change owner from '{old}' to '{}'",
                    owner.display()
                )));
                out.ownership.uid = target.uid;
            }
        }
        if let Some(group) = &self.group {
            let now = current.map(|m| m.gid());
            if target.gid.is_none() || now != target.gid {
                let old = current_label(group, now, |id| accounts.group_name(id));
                out.changes.push(Change::new(format!(
                    "change group from '{old}' to '{}'",
                    group.display()
                )));
                out.ownership.gid = target.gid;
            }
        }
        Ok(out)
    }
}

/// The current owner/group printed in the same form as the wanted one.
fn current_label<'a>(
    wanted: &Principal,
    now: Option<u32>,
    name_of: impl Fn(u32) -> Option<&'a str>,
) -> String {
    match (wanted, now) {
        (_, None) => String::new(),
        (Principal::Id(_), Some(id)) => id.to_string(),
        (Principal::Name(_), Some(id)) => name_of(id)
            .map(str::to_string)
            .unwrap_or_else(|| id.to_string()),
    }
}

fn unknown_user(name: &str) -> Error {
    Error::resource(
        "Chef::Exceptions::UserIDNotFound",
        format!("cannot determine user id for '{name}', does the user exist on this system?"),
    )
}

fn unknown_group(name: &str) -> Error {
    Error::resource(
        "Chef::Exceptions::GroupIDNotFound",
        format!("cannot determine group id for '{name}', does the group exist on this system?"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> Accounts {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("passwd");
        let g = dir.path().join("group");
        std::fs::write(
            &p,
            "root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(&g, "root:x:0:\nstaff:x:50:\n").unwrap();
        Accounts::load_from(&p, &g)
    }

    #[test]
    fn new_path_prints_empty_old_values() {
        let ac = AccessControl {
            owner: Some(Principal::Name("root".into())),
            group: None,
            mode: Some(Mode::new(0o644)),
        };
        let c = ac.changes(None, &accounts(), false).unwrap();
        let lines: Vec<_> = c.changes.iter().map(|c| c.description.as_str()).collect();
        assert_eq!(
            lines,
            [
                "change mode from '' to '0644'",
                "change owner from '' to 'root'"
            ]
        );
    }

    #[test]
    fn unknown_names_fail_with_chef_classes_except_in_why_run() {
        let ac = AccessControl {
            owner: Some(Principal::Name("nosuch".into())),
            ..AccessControl::default()
        };
        let err = ac.changes(None, &accounts(), false).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::UserIDNotFound");
        assert!(ac.changes(None, &accounts(), true).is_ok());
        let ag = AccessControl {
            group: Some(Principal::Name("nosuch".into())),
            ..AccessControl::default()
        };
        let err = ag.changes(None, &accounts(), false).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::GroupIDNotFound");
    }

    #[test]
    fn current_owner_is_printed_like_the_wanted_one() {
        let dir = tempfile::tempdir().unwrap();
        let meta = std::fs::metadata(dir.path()).unwrap();
        let uid = meta.uid();
        let by_id = AccessControl {
            owner: Some(Principal::Id(uid + 1)),
            ..AccessControl::default()
        };
        let c = by_id.changes(Some(&meta), &accounts(), false).unwrap();
        assert_eq!(
            c.changes[0].description,
            format!("change owner from '{uid}' to '{}'", uid + 1)
        );
        let same = AccessControl {
            owner: Some(Principal::Id(uid)),
            ..AccessControl::default()
        };
        assert!(same
            .changes(Some(&meta), &accounts(), false)
            .unwrap()
            .is_empty());
    }
}
