//! `dpkg_package`: local `.deb` files installed with dpkg (Chef's `Chef::Provider::Package::Dpkg`).
//!
//! The package name and version come from each `.deb`'s control file (`dpkg-deb -f`), the
//! installed state from dpkg's status database in the run's cache. Install and upgrade need
//! `source`; remove and purge work from the names alone. Downgrades are allowed unless
//! `allow_downgrade false`.

use super::build::Sources;
use super::package::{
    decide, load_facts, plan_for, run_options, take_work, PackageNames, ResponseFile, Wording,
};
use super::properties::{type_error, Properties};
use super::{Action, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, Result};
use crate::platform::packages::apt::{self, RunOptions, Target};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Properties of `dpkg_package`.
pub const PROPERTIES: &[&str] = &[
    "package_name",
    "version",
    "source",
    "options",
    "timeout",
    "environment",
    "response_file",
    "response_file_variables",
    "allow_downgrade",
];

/// Actions of `dpkg_package`.
pub const ACTIONS: &[Action] = &[
    Action::Install,
    Action::Upgrade,
    Action::Remove,
    Action::Purge,
];

/// `dpkg_package "app" do source "/tmp/app_1.0_all.deb" end`.
#[derive(Debug)]
pub struct DpkgPackageResource {
    id: ResourceId,
    common: Common,
    names: PackageNames,
    /// The `.deb` files, one per package; empty when not given.
    sources: Vec<PathBuf>,
    allow_downgrade: bool,
    run: RunOptions,
    response_file: Option<ResponseFile>,
}

/// Builds a `dpkg_package`. Without `source`, package names that are paths to `.deb` files are
/// taken as the sources, as Chef does.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    let names = PackageNames::read(&props)?;
    let debs = match props.get("source") {
        Some(p) => match &p.value {
            Value::String(s) => vec![PathBuf::from(s)],
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(PathBuf::from))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| type_error("source", "a string or array of strings", p))?,
            _ => return Err(type_error("source", "a string or array of strings", p)),
        },
        None if names.names.iter().all(|n| n.starts_with('/')) => {
            names.names.iter().map(PathBuf::from).collect()
        }
        None => Vec::new(),
    };
    Ok(Box::new(DpkgPackageResource {
        id: ResourceId::new("dpkg_package", &decl.name),
        common,
        names,
        sources: debs,
        allow_downgrade: props.bool("allow_downgrade")?.unwrap_or(true),
        run: run_options(&props)?,
        response_file: ResponseFile::read(&props, sources)?,
    }))
}

/// One package of the resource: its name, and its `.deb` when there is one.
struct Member {
    name: String,
    deb: Option<(PathBuf, String)>,
}

impl DpkgPackageResource {
    /// Names (from the `.deb`s when given) with each `.deb`'s path on this host and version.
    fn members(&self, action: Action, cx: &mut Context) -> Result<Vec<Member>> {
        if self.sources.is_empty() {
            if matches!(action, Action::Install | Action::Upgrade) {
                return Err(Error::resource(
                    "Chef::Exceptions::Package",
                    format!(
                        "dpkg_package[{}]: the source property is required for action :{action}",
                        self.id.name
                    ),
                ));
            }
            return Ok(self
                .names
                .names
                .iter()
                .map(|n| Member {
                    name: n.clone(),
                    deb: None,
                })
                .collect());
        }
        let missing: Vec<String> = self
            .sources
            .iter()
            .filter(|s| !cx.host_path(s).is_file())
            .map(|s| s.display().to_string())
            .collect();
        if !missing.is_empty() {
            return Err(Error::resource(
                "Chef::Exceptions::Package",
                format!(
                    "dpkg_package[{}]: source file(s) do not exist: {}",
                    self.id.name,
                    missing.join(", ")
                ),
            ));
        }
        self.sources
            .iter()
            .map(|s| {
                let path = cx.host_path(s);
                let info = cx.packages.deb_info(&path)?;
                Ok(Member {
                    name: info.name,
                    deb: Some((path, info.version)),
                })
            })
            .collect()
    }

    fn wording(&self, members: &[Member]) -> Wording {
        let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
        let listed = names.len() > 1 || self.names.listed;
        let names = if listed {
            let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
            format!("[{}]", quoted.join(", "))
        } else {
            names.into_iter().next().unwrap_or_default()
        };
        Wording {
            names,
            version: self.names.version_text.clone(),
            allow_downgrade: self.allow_downgrade,
        }
    }

    fn run_dpkg(&self, action: Action, targets: &[Target], cx: &mut Context) -> Result<()> {
        let argv = if matches!(action, Action::Install | Action::Upgrade) {
            let members = self.members(action, cx)?;
            let debs: Vec<&Path> = targets
                .iter()
                .filter_map(|t| {
                    members
                        .iter()
                        .find(|m| m.name == t.name)
                        .and_then(|m| m.deb.as_ref())
                        .map(|(p, _)| p.as_path())
                })
                .collect();
            apt::dpkg_install(&debs, &self.run)
        } else {
            let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
            apt::dpkg_remove(&names, action == Action::Purge, &self.run)
        };
        apt::run_noninteractive(argv, &self.run, &cx.command_env())
    }
}

impl Resource for DpkgPackageResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        if !ACTIONS.contains(&action) {
            return Ok(Plan::up_to_date());
        }
        let members = self.members(action, cx)?;
        let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
        let versions: Vec<Option<String>> = (0..names.len())
            .map(|i| self.names.versions.get(i).cloned().flatten())
            .collect();
        // The candidate of a local package is the version in its .deb: no apt-cache here.
        let mut facts = load_facts(cx, Action::Remove, &names, &versions, None)?;
        for (f, m) in facts.iter_mut().zip(&members) {
            f.candidate = m.deb.as_ref().map(|(_, v)| v.clone());
        }
        let decision = decide(action, &facts, &self.wording(&members))?;
        plan_for(decision, action, self.response_file.as_ref(), cx)
    }

    fn apply(&self, action: Action, mut plan: Plan, cx: &mut Context) -> Result<()> {
        let (targets, preseed) = take_work(&mut plan)?;
        if let Some(preseed) = preseed {
            preseed.apply(&self.run, cx)?;
        }
        let result = self.run_dpkg(action, &targets, cx);
        cx.packages.refresh();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::Host;
    use serde_json::json;

    #[test]
    fn install_needs_a_source() {
        let mut host = Host::new();
        host.write(crate::platform::packages::DPKG_STATUS, "");
        let r = host.build("dpkg_package", "app", json!({})).unwrap();
        let err = r.check(Action::Install, &mut host.cx).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::Package");
        assert!(
            err.to_string().contains("source property is required"),
            "{err}"
        );
        assert!(host.check(r.as_ref(), Action::Remove).is_empty());
    }

    #[test]
    fn a_missing_source_file_is_named() {
        let mut host = Host::new();
        host.write(crate::platform::packages::DPKG_STATUS, "");
        let r = host
            .build("dpkg_package", "app", json!({"source": "/tmp/none.deb"}))
            .unwrap();
        let err = r.check(Action::Install, &mut host.cx).unwrap_err();
        assert!(err.to_string().contains("/tmp/none.deb"), "{err}");
    }

    #[test]
    fn a_path_as_name_is_the_source() {
        let host = Host::new();
        let r = host
            .build("dpkg_package", "/tmp/app.deb", json!({}))
            .unwrap();
        assert_eq!(r.id(), &ResourceId::new("dpkg_package", "/tmp/app.deb"));
        assert!(host
            .build("dpkg_package", "x", json!({"source": 3}))
            .is_err());
    }
}
