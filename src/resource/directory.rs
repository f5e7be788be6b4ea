//! `directory`: a directory's existence, owner, group and mode (Chef's `Chef::Provider::Directory`).
//!
//! With `recursive true` missing parents are created too, but owner and mode apply only to the
//! leaf, as in Chef. `:delete` removes an empty directory, or a whole tree with `recursive`.

use super::build::Sources;
use super::properties::Properties;
use super::{Action, Change, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, IoContext, Result};
use crate::platform::access::AccessControl;
use crate::platform::accounts::Accounts;
use crate::platform::fs::{self, Ownership, PathState};
use std::path::PathBuf;

/// Properties of `directory`.
pub const PROPERTIES: &[&str] = &["path", "owner", "group", "mode", "recursive"];

/// Actions of `directory`.
pub const ACTIONS: &[Action] = &[Action::Create, Action::Delete];

/// `directory "/srv/data"`.
#[derive(Debug)]
pub struct DirectoryResource {
    id: ResourceId,
    common: Common,
    path: PathBuf,
    access: AccessControl,
    recursive: bool,
}

/// What `apply` does, decided by `check`.
#[derive(Debug)]
enum DirectoryPlan {
    Create { create: bool, ownership: Ownership },
    Delete,
}

/// Builds a `directory` from its declaration.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    _sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    let path = PathBuf::from(props.string("path")?.unwrap_or_else(|| decl.name.clone()));
    if !path.is_absolute() {
        return Err(Error::compile(
            props.location("path"),
            format!(
                "expected `path` to be an absolute path, got \"{}\"",
                path.display()
            ),
        ));
    }
    Ok(Box::new(DirectoryResource {
        id: ResourceId::new("directory", &decl.name),
        common,
        path,
        access: AccessControl {
            owner: props.principal("owner")?,
            group: props.principal("group")?,
            mode: props.mode("mode")?,
        },
        recursive: props.bool("recursive")?.unwrap_or(false),
    }))
}

impl DirectoryResource {
    fn check_create(&self, cx: &Context) -> Result<Plan> {
        let host = cx.host_path(&self.path);
        let existing = match PathState::of(&host)? {
            PathState::Missing => None,
            PathState::Directory(meta) => Some(meta),
            // A symlink to a directory is a directory, as Ruby's File.directory? says.
            PathState::Symlink(_) if host.is_dir() => {
                Some(std::fs::metadata(&host).with_path(&host)?)
            }
            other => {
                return Err(Error::resource(
                    "Chef::Exceptions::FileTypeMismatch",
                    format!(
                        "Cannot create a directory at {}: a {} is there",
                        self.path.display(),
                        other.type_name()
                    ),
                ))
            }
        };
        let mut plan = Plan::up_to_date();
        if existing.is_none() {
            self.check_parent(cx)?;
            plan.push(Change::new(format!(
                "create new directory {}",
                self.path.display()
            )));
        }
        let accounts = if self.access.owner.is_some() || self.access.group.is_some() {
            Accounts::load()
        } else {
            Accounts::default()
        };
        let access = self
            .access
            .changes(existing.as_ref(), &accounts, cx.why_run)?;
        plan.changes.extend(access.changes);
        if !plan.is_empty() {
            plan.set_payload(DirectoryPlan::Create {
                create: existing.is_none(),
                ownership: access.ownership,
            });
        }
        Ok(plan)
    }

    /// Without `recursive`, the parent must exist (why-run assumes an earlier resource makes it).
    fn check_parent(&self, cx: &Context) -> Result<()> {
        let Some(parent) = self.path.parent() else {
            return Ok(());
        };
        if self.recursive || cx.why_run || cx.host_path(parent).is_dir() {
            return Ok(());
        }
        Err(Error::resource(
            "Chef::Exceptions::EnclosingDirectoryDoesNotExist",
            format!(
                "Parent directory {} does not exist, cannot create {}",
                parent.display(),
                self.path.display()
            ),
        ))
    }

    fn check_delete(&self, cx: &Context) -> Result<Plan> {
        let host = cx.host_path(&self.path);
        match PathState::of(&host)? {
            PathState::Missing => Ok(Plan::up_to_date()),
            PathState::Directory(_) => {
                let mut plan = Plan::up_to_date();
                plan.push(Change::new(format!(
                    "delete existing directory {}",
                    self.path.display()
                )));
                plan.set_payload(DirectoryPlan::Delete);
                Ok(plan)
            }
            _ => Err(Error::resource(
                "RuntimeError",
                format!("Cannot delete {} at {}!", self.id, self.path.display()),
            )),
        }
    }
}

impl Resource for DirectoryResource {
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
        let host = cx.host_path(&self.path);
        match plan.take_payload::<DirectoryPlan>() {
            Some(DirectoryPlan::Create { create, ownership }) => {
                if create {
                    if self.recursive {
                        if let Some(parent) = host.parent() {
                            std::fs::create_dir_all(parent).with_path(parent)?;
                        }
                    }
                    std::fs::create_dir(&host).with_path(&host)?;
                }
                fs::set_ownership(&host, ownership, true)
            }
            Some(DirectoryPlan::Delete) if self.recursive => {
                std::fs::remove_dir_all(&host).with_path(&host)
            }
            Some(DirectoryPlan::Delete) => std::fs::remove_dir(&host).with_path(&host),
            None => Err(Error::resource(
                "Chef::Exceptions::Internal",
                format!("no directory plan for {}", self.path.display()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::file::mode_of;
    use crate::resource::testing::Host;
    use serde_json::json;

    #[test]
    fn recursive_creates_parents_and_mode_applies_only_to_the_leaf() {
        let mut host = Host::new();
        let r = host
            .build(
                "directory",
                "/srv/a/b",
                json!({"recursive": true, "mode": "0700"}),
            )
            .unwrap();
        let done = host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(
            done,
            [
                "create new directory /srv/a/b",
                "change mode from '' to '0700'"
            ]
        );
        let leaf = std::fs::metadata(host.path("/srv/a/b")).unwrap();
        let parent = std::fs::metadata(host.path("/srv/a")).unwrap();
        assert_eq!(mode_of(&leaf), 0o700);
        assert_ne!(mode_of(&parent), 0o700);
        assert!(host.check(r.as_ref(), Action::Create).is_empty());
    }

    #[test]
    fn why_run_check_assumes_the_parent_and_creates_nothing() {
        let mut host = Host::new();
        host.cx.why_run = true;
        let r = host.build("directory", "/srv/a/b", json!({})).unwrap();
        assert_eq!(
            host.check(r.as_ref(), Action::Create),
            ["create new directory /srv/a/b"]
        );
        assert!(!host.path("/srv").exists());
    }

    #[test]
    fn missing_parent_without_recursive_is_an_error() {
        let mut host = Host::new();
        let r = host.build("directory", "/srv/a/b", json!({})).unwrap();
        let err = r.check(Action::Create, &mut host.cx).unwrap_err();
        assert_eq!(
            err.class(),
            "Chef::Exceptions::EnclosingDirectoryDoesNotExist"
        );
    }

    #[test]
    fn mode_change_on_existing_directory() {
        let mut host = Host::new();
        std::fs::create_dir(host.path("/srv")).unwrap();
        let r = host
            .build("directory", "/srv", json!({"mode": "0750"}))
            .unwrap();
        let lines = host.converge(r.as_ref(), Action::Create).unwrap();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("change mode from '0"), "{lines:?}");
        assert!(lines[0].ends_with("to '0750'"), "{lines:?}");
    }

    #[test]
    fn file_at_path_is_a_type_mismatch() {
        let mut host = Host::new();
        host.write("/srv", "x");
        let r = host.build("directory", "/srv", json!({})).unwrap();
        let err = r.check(Action::Create, &mut host.cx).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::FileTypeMismatch");
    }

    #[test]
    fn delete_needs_recursive_for_a_non_empty_directory() {
        let mut host = Host::new();
        host.write("/srv/data/x", "x");
        let plain = host.build("directory", "/srv/data", json!({})).unwrap();
        assert_eq!(
            host.check(plain.as_ref(), Action::Delete),
            ["delete existing directory /srv/data"]
        );
        assert!(host.converge(plain.as_ref(), Action::Delete).is_err());
        let recursive = host
            .build("directory", "/srv/data", json!({"recursive": true}))
            .unwrap();
        host.converge(recursive.as_ref(), Action::Delete).unwrap();
        assert!(!host.path("/srv/data").exists());
        assert!(host.check(recursive.as_ref(), Action::Delete).is_empty());
    }
}
