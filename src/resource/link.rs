//! `link`: a symbolic or hard link (Chef's `Chef::Provider::Link`).
//!
//! A symbolic link is up to date when `readlink` gives exactly `to` (no normalisation); a hard
//! link when both names share an inode. Anything else at the path, even a regular file, is
//! removed and replaced by the link, as Chef does.

use super::build::Sources;
use super::properties::Properties;
use super::{Action, Change, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, IoContext, Result};
use crate::platform::access::AccessControl;
use crate::platform::accounts::Accounts;
use crate::platform::fs::{self, Ownership, PathState};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Properties of `link`.
pub const PROPERTIES: &[&str] = &["target_file", "to", "link_type", "owner", "group"];

/// Actions of `link`.
pub const ACTIONS: &[Action] = &[Action::Create, Action::Delete];

/// Symbolic (default) or hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// `:symbolic`: a symlink whose text is `to`.
    Symbolic,
    /// `:hard`: another name for `to`'s inode.
    Hard,
}

/// `link "/etc/current"`.
#[derive(Debug)]
pub struct LinkResource {
    id: ResourceId,
    common: Common,
    target_file: PathBuf,
    to: Option<String>,
    link_type: LinkType,
    access: AccessControl,
}

/// What `apply` does, decided by `check`.
#[derive(Debug)]
struct LinkPlan {
    unlink: bool,
    create: bool,
    delete: bool,
    ownership: Option<Ownership>,
}

/// Builds a `link` from its declaration.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    _sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    let target_file = PathBuf::from(
        props
            .string("target_file")?
            .unwrap_or_else(|| decl.name.clone()),
    );
    if !target_file.is_absolute() {
        return Err(Error::compile(
            props.location("target_file"),
            format!(
                "expected `target_file` to be an absolute path, got \"{}\"",
                target_file.display()
            ),
        ));
    }
    let link_type = match props.choice("link_type", &["symbolic", "hard"])? {
        Some("hard") => LinkType::Hard,
        _ => LinkType::Symbolic,
    };
    Ok(Box::new(LinkResource {
        id: ResourceId::new("link", &decl.name),
        common,
        target_file,
        to: props.string("to")?,
        link_type,
        access: AccessControl {
            owner: props.principal("owner")?,
            group: props.principal("group")?,
            mode: None,
        },
    }))
}

impl LinkResource {
    fn check_create(&self, cx: &Context) -> Result<Plan> {
        let Some(to) = &self.to else {
            return Err(Error::resource(
                "Chef::Exceptions::ValidationFailed",
                format!("{}: required property `to` is missing", self.id),
            ));
        };
        let host = cx.host_path(&self.target_file);
        let state = PathState::of(&host)?;
        let correct = match self.link_type {
            LinkType::Symbolic => match &state {
                PathState::Symlink(_) => {
                    std::fs::read_link(&host).with_path(&host)?.as_os_str() == to.as_str()
                }
                _ => false,
            },
            LinkType::Hard => self.same_inode(cx, &state, to)?,
        };
        let mut plan = Plan::up_to_date();
        let mut link_plan = LinkPlan {
            unlink: false,
            create: false,
            delete: false,
            ownership: None,
        };
        if !correct {
            if let PathState::Directory(_) = state {
                // Chef unlinks what is there; unlink(2) refuses a directory, so the run stops
                // instead of deleting a tree.
                return Err(Error::resource(
                    "Errno::EISDIR",
                    format!(
                        "cannot create a link at {}: a directory is there (remove it first)",
                        self.target_file.display()
                    ),
                ));
            }
            if !state.is_missing() {
                plan.push(Change::new(format!(
                    "unlink existing symlink to file at {}",
                    self.target_file.display()
                )));
                link_plan.unlink = true;
            }
            let kind = match self.link_type {
                LinkType::Symbolic => "symlink",
                LinkType::Hard => "hard link",
            };
            plan.push(Change::new(format!(
                "create {kind} at {} to {to}",
                self.target_file.display()
            )));
            link_plan.create = true;
        }
        if !self.access.is_unspecified() {
            let current = if correct { state.metadata() } else { None };
            let access = self
                .access
                .changes(current, &Accounts::load(), cx.why_run)?;
            if !access.is_empty() {
                plan.changes.extend(access.changes);
                link_plan.ownership = Some(access.ownership);
            }
        }
        if !plan.is_empty() {
            plan.set_payload(link_plan);
        }
        Ok(plan)
    }

    /// Where `to` is on this host: absolute through the root, relative beside the link.
    fn to_host(&self, cx: &Context, to: &str) -> PathBuf {
        let to = Path::new(to);
        if to.is_absolute() {
            cx.host_path(to)
        } else {
            let dir = self.target_file.parent().unwrap_or(Path::new("/"));
            cx.host_path(&dir.join(to))
        }
    }

    fn same_inode(&self, cx: &Context, state: &PathState, to: &str) -> Result<bool> {
        let to_host = self.to_host(cx, to);
        let Ok(source) = std::fs::metadata(&to_host) else {
            return Err(Error::resource(
                "Chef::Exceptions::FileNotFound",
                format!(
                    "Cannot create hard link at {} to {to}: {to} does not exist",
                    self.target_file.display()
                ),
            ));
        };
        Ok(match state {
            PathState::File(meta) => meta.ino() == source.ino() && meta.dev() == source.dev(),
            _ => false,
        })
    }

    fn check_delete(&self, cx: &Context) -> Result<Plan> {
        let host = cx.host_path(&self.target_file);
        let state = PathState::of(&host)?;
        let deletable = match (self.link_type, &state) {
            (_, PathState::Missing) => return Ok(Plan::up_to_date()),
            (LinkType::Symbolic, PathState::Symlink(_)) => true,
            (LinkType::Hard, PathState::File(_)) => true,
            _ => false,
        };
        if !deletable {
            let kind = match self.link_type {
                LinkType::Symbolic => "symbolic",
                LinkType::Hard => "hard",
            };
            return Err(Error::resource(
                "Chef::Exceptions::Link",
                format!(
                    "Cannot delete {} at {}! Not a {kind} link.",
                    self.id,
                    self.target_file.display()
                ),
            ));
        }
        let mut plan = Plan::up_to_date();
        plan.push(Change::new(format!(
            "delete link at {}",
            self.target_file.display()
        )));
        plan.set_payload(LinkPlan {
            unlink: false,
            create: false,
            delete: true,
            ownership: None,
        });
        Ok(plan)
    }
}

impl Resource for LinkResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        match action {
            Action::Create => self.check_create(cx),
            Action::Delete => self.check_delete(cx),
            _ => Ok(Plan::up_to_date()),
        }
    }

    fn apply(&self, _action: Action, mut plan: Plan, cx: &mut Context) -> Result<()> {
        let Some(link_plan) = plan.take_payload::<LinkPlan>() else {
            return Err(Error::resource(
                "Chef::Exceptions::Internal",
                format!("no link plan for {}", self.target_file.display()),
            ));
        };
        let host = cx.host_path(&self.target_file);
        if link_plan.unlink || link_plan.delete {
            std::fs::remove_file(&host).with_path(&host)?;
        }
        if link_plan.create {
            let to = self.to.as_deref().unwrap_or_default();
            match self.link_type {
                LinkType::Symbolic => std::os::unix::fs::symlink(to, &host).with_path(&host)?,
                LinkType::Hard => {
                    std::fs::hard_link(self.to_host(cx, to), &host).with_path(&host)?
                }
            }
        }
        if let Some(ownership) = link_plan.ownership {
            fs::set_ownership(&host, ownership, self.link_type == LinkType::Hard)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::Host;
    use serde_json::json;

    #[test]
    fn symlink_is_created_then_up_to_date_and_compared_literally() {
        let mut host = Host::new();
        let r = host
            .build("link", "/etc/current", json!({"to": "/srv/v1"}))
            .unwrap();
        let done = host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(done, ["create symlink at /etc/current to /srv/v1"]);
        assert!(host.check(r.as_ref(), Action::Create).is_empty());
        let trailing = host
            .build("link", "/etc/current", json!({"to": "/srv/v1/"}))
            .unwrap();
        assert_eq!(host.check(trailing.as_ref(), Action::Create).len(), 2);
    }

    #[test]
    fn a_regular_file_at_the_path_is_replaced() {
        let mut host = Host::new();
        host.write("/etc/current", "regular\n");
        let r = host
            .build("link", "/etc/current", json!({"to": "/srv/v1"}))
            .unwrap();
        let done = host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(
            done,
            [
                "unlink existing symlink to file at /etc/current",
                "create symlink at /etc/current to /srv/v1"
            ]
        );
        assert_eq!(
            std::fs::read_link(host.path("/etc/current")).unwrap(),
            Path::new("/srv/v1")
        );
    }

    #[test]
    fn a_directory_at_the_path_is_an_error_and_is_left_alone() {
        let mut host = Host::new();
        host.write("/etc/current/precious", "keep\n");
        let r = host
            .build("link", "/etc/current", json!({"to": "/srv/v1"}))
            .unwrap();
        let err = host.converge(r.as_ref(), Action::Create).unwrap_err();
        assert_eq!(err.class(), "Errno::EISDIR");
        assert_eq!(host.read("/etc/current/precious"), "keep\n");
    }

    #[test]
    fn hard_link_shares_the_inode() {
        let mut host = Host::new();
        host.write("/srv/data", "d");
        let r = host
            .build(
                "link",
                "/etc/data",
                json!({"to": "/srv/data", "link_type": "hard"}),
            )
            .unwrap();
        let done = host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(done, ["create hard link at /etc/data to /srv/data"]);
        assert!(host.check(r.as_ref(), Action::Create).is_empty());
    }

    #[test]
    fn missing_to_is_an_error_on_create() {
        let mut host = Host::new();
        let r = host.build("link", "/etc/current", json!({})).unwrap();
        assert!(r.check(Action::Create, &mut host.cx).is_err());
    }

    #[test]
    fn delete_removes_only_a_symlink() {
        let mut host = Host::new();
        std::os::unix::fs::symlink("/srv/v1", host.path("/etc/current")).unwrap();
        let r = host.build("link", "/etc/current", json!({})).unwrap();
        let done = host.converge(r.as_ref(), Action::Delete).unwrap();
        assert_eq!(done, ["delete link at /etc/current"]);
        assert!(host.check(r.as_ref(), Action::Delete).is_empty());
        host.write("/etc/current", "file");
        let err = r.check(Action::Delete, &mut host.cx).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::Link");
    }

    #[test]
    fn owner_of_the_link_itself() {
        let mut host = Host::new();
        let r = host
            .build(
                "link",
                "/etc/current",
                json!({"to": "/srv/v1", "owner": "nobody"}),
            )
            .unwrap();
        let done = host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(done[1], "change owner from '' to 'nobody'");
        let meta = std::fs::symlink_metadata(host.path("/etc/current")).unwrap();
        assert_eq!(meta.uid(), 65534);
        assert!(host.check(r.as_ref(), Action::Create).is_empty());
    }
}
