//! `package` and `apt_package`: Debian packages through apt (Chef's `Chef::Provider::Package::Apt`).
//!
//! On Debian `package` resolves to the apt provider: it prints as `apt_package[x]` but
//! notifications still address it as `package[x]`. Current state comes from dpkg's status
//! database in [`Context::packages`] (read once per run); a candidate version is asked of apt
//! only when the decision needs one, so checking installed packages spawns nothing. Loading the
//! state ([`PackageFacts`]) is separate from the decision ([`decide`]), which is pure.

use super::build::{Segment, Sources};
use super::properties::{type_error, Properties};
use super::{Action, Change, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, Result, SourceLocation};
use crate::platform::packages::apt::{self, AptSettings, RunOptions, Target};
use crate::platform::packages::{version, DPKG_STATUS};
use crate::template::TemplateEngine;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Properties of `package` / `apt_package`.
pub const PROPERTIES: &[&str] = &[
    "package_name",
    "version",
    "options",
    "timeout",
    "default_release",
    "overwrite_config_files",
    "response_file",
    "response_file_variables",
    "environment",
];

/// Actions of `package` / `apt_package`.
pub const ACTIONS: &[Action] = &[
    Action::Install,
    Action::Upgrade,
    Action::Remove,
    Action::Purge,
    Action::Lock,
    Action::Unlock,
];

/// `apt_package "nginx"` (or `package "nginx"` on Debian).
#[derive(Debug)]
pub struct AptPackageResource {
    id: ResourceId,
    common: Common,
    names: PackageNames,
    run: RunOptions,
    settings: AptSettings,
    response_file: Option<ResponseFile>,
}

/// Builds a `package` or `apt_package`.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    Ok(Box::new(AptPackageResource {
        id: ResourceId::new(&decl.kind, &decl.name),
        common,
        names: PackageNames::read(&props)?,
        run: run_options(&props)?,
        settings: AptSettings {
            overwrite_config_files: props.bool("overwrite_config_files")?.unwrap_or(false),
            default_release: props.string("default_release")?,
            allow_downgrade: true,
        },
        response_file: ResponseFile::read(&props, sources)?,
    }))
}

/// `package_name` and `version`, each a string or a list.
#[derive(Debug, Clone)]
pub(crate) struct PackageNames {
    /// The packages, one or more.
    pub names: Vec<String>,
    /// The version asked for each package, if any.
    pub versions: Vec<Option<String>>,
    /// `package_name` was given as a list (it then prints as one, as Ruby's `Array#to_s`).
    pub listed: bool,
    /// The `version` as written, for "remove version V of package P".
    pub version_text: Option<String>,
}

impl PackageNames {
    /// Reads `package_name` (default: the resource name) and `version`; a list of versions must
    /// be as long as the list of names.
    pub fn read(props: &Properties<'_>) -> Result<Self> {
        let (names, listed) = match props.get("package_name") {
            None => (vec![props.decl().name.clone()], false),
            Some(p) => match string_or_list(&p.value) {
                Some((names, listed)) if !names.is_empty() => (names, listed),
                _ => {
                    return Err(type_error(
                        "package_name",
                        "a string or a non-empty array of strings",
                        p,
                    ))
                }
            },
        };
        let (versions, version_text) = match props.get("version") {
            None => (vec![None; names.len()], None),
            Some(p) => {
                let Some((versions, listed_versions)) = string_or_list(&p.value) else {
                    return Err(type_error("version", "a string or array of strings", p));
                };
                if listed_versions && versions.len() != names.len() {
                    return Err(Error::compile(
                        p.location.clone(),
                        format!(
                            "expected `version` to list one version per package ({} packages), got {}",
                            names.len(),
                            versions.len()
                        ),
                    ));
                }
                let text = ruby_to_s(&versions, listed_versions);
                let versions = if listed_versions {
                    versions.into_iter().map(Some).collect()
                } else {
                    vec![versions.into_iter().next(); names.len()]
                };
                (versions, Some(text))
            }
        };
        Ok(Self {
            names,
            versions,
            listed,
            version_text,
        })
    }

    /// How Chef prints the package name: the string, or the inspected list.
    pub fn names_text(&self) -> String {
        ruby_to_s(&self.names, self.listed)
    }
}

/// A string as a one-element list, or a list of strings (numbers are taken as their text).
fn string_or_list(value: &Value) -> Option<(Vec<String>, bool)> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<_>>>()
            .map(|v| (v, true)),
        other => scalar(other).map(|s| (vec![s], false)),
    }
}

/// Ruby's `to_s` of a string or an array of strings.
fn ruby_to_s(items: &[String], listed: bool) -> String {
    if !listed {
        return items.first().cloned().unwrap_or_default();
    }
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `options` (a string split on whitespace, or a list), `timeout` and `environment`.
pub(crate) fn run_options(props: &Properties<'_>) -> Result<RunOptions> {
    let options = match props.get("options") {
        None => Vec::new(),
        Some(p) => match &p.value {
            Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
            other => string_or_list(other)
                .map(|(v, _)| v)
                .ok_or_else(|| type_error("options", "a string or array of strings", p))?,
        },
    };
    Ok(RunOptions {
        options,
        environment: props.string_map("environment")?.unwrap_or_default(),
        timeout: props.seconds("timeout")?.unwrap_or(apt::DEFAULT_TIMEOUT),
    })
}

/// What is known about one package when deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageFacts {
    /// The package name, possibly `name:arch`.
    pub name: String,
    /// The version asked for (`version`), if any.
    pub wanted: Option<String>,
    /// The installed version, if one is installed.
    pub installed: Option<String>,
    /// Anything left for purge to remove (installed, or config files left behind).
    pub traces: bool,
    /// The selection is `hold`.
    pub held: bool,
    /// What apt (or the local .deb) would install, when it was needed and known.
    pub candidate: Option<String>,
}

/// Whether deciding `action` for this package needs its candidate version.
pub fn needs_candidate(action: Action, facts: &PackageFacts) -> bool {
    match action {
        Action::Install => facts.wanted.is_none() && facts.installed.is_none(),
        Action::Upgrade => facts.wanted.is_none(),
        _ => false,
    }
}

/// How a decision is worded.
#[derive(Debug, Clone)]
pub struct Wording {
    /// The package name(s) as Chef prints them in remove/purge lines.
    pub names: String,
    /// `version` as written, for "remove version V of package P".
    pub version: Option<String>,
    /// Upgrades may go down (printed as `upgrade(allow_downgrade)`).
    pub allow_downgrade: bool,
}

/// The outcome of a decision: Chef-worded changes and the packages to act on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// The lines printed, one per package for install/upgrade, one in all for remove/purge.
    pub changes: Vec<Change>,
    /// The packages the command acts on (with the version to install).
    pub targets: Vec<Target>,
}

/// Chef's package rules: which packages `action` changes, and the lines it prints.
///
/// * install: nothing to do when installed and no version asked, or installed == version;
///   else install the version (or the candidate). Not installed with no candidate is an error.
/// * upgrade: nothing to do when installed == candidate (or asked version) or there is no
///   candidate for an installed package; a downgrade only when allowed.
/// * remove: installed (at the asked version, if any). purge: anything left, config files too.
/// * lock/unlock: the selection is not yet / still `hold`.
pub fn decide(action: Action, facts: &[PackageFacts], wording: &Wording) -> Result<Decision> {
    match action {
        Action::Install | Action::Upgrade => decide_install(action, facts, wording),
        Action::Remove | Action::Purge => Ok(decide_remove(action, facts, wording)),
        Action::Lock | Action::Unlock => Ok(decide_lock(action, facts, wording)),
        _ => Ok(Decision::default()),
    }
}

fn decide_install(action: Action, facts: &[PackageFacts], wording: &Wording) -> Result<Decision> {
    let mut decision = Decision::default();
    let mut missing = Vec::new();
    for f in facts {
        let desired = f.wanted.clone().or_else(|| f.candidate.clone());
        let target = match (action, &f.installed, desired) {
            (_, None, None) => {
                missing.push(f.name.clone());
                continue;
            }
            (_, Some(i), Some(d)) if *i == d => continue,
            (Action::Install, Some(_), _) if f.wanted.is_none() => continue,
            (Action::Upgrade, Some(_), None) => continue,
            (Action::Upgrade, Some(i), Some(d))
                if !wording.allow_downgrade && version::compare(i, &d) == Ordering::Greater =>
            {
                continue
            }
            (_, _, Some(d)) => d,
            (_, Some(_), None) => continue,
        };
        let line = if action == Action::Install {
            format!("install version {target} of package {}", f.name)
        } else {
            format!(
                "upgrade{} package {} from {} to {target}",
                if wording.allow_downgrade {
                    "(allow_downgrade)"
                } else {
                    ""
                },
                f.name,
                f.installed.as_deref().unwrap_or("uninstalled"),
            )
        };
        decision.changes.push(Change::new(line));
        decision.targets.push(Target {
            name: f.name.clone(),
            version: Some(target),
        });
    }
    if !missing.is_empty() {
        return Err(Error::resource(
            "Chef::Exceptions::Package",
            format!("No candidate version available for {}", missing.join(", ")),
        ));
    }
    Ok(decision)
}

fn decide_remove(action: Action, facts: &[PackageFacts], wording: &Wording) -> Decision {
    let purge = action == Action::Purge;
    let targets: Vec<Target> = facts
        .iter()
        .filter(|f| {
            let present = if purge {
                f.traces
            } else {
                f.installed.is_some()
            };
            let version_matches = match (&f.wanted, &f.installed) {
                (Some(w), Some(i)) => w == i,
                _ => true,
            };
            present && version_matches
        })
        .map(|f| Target {
            name: f.name.clone(),
            version: None,
        })
        .collect();
    if targets.is_empty() {
        return Decision::default();
    }
    let of_version = wording
        .version
        .as_ref()
        .map(|v| format!("version {v} of "))
        .unwrap_or_default();
    // Chef's purge line has a space after the (usually empty) version part: "purge  package x".
    let line = if purge {
        format!("purge {of_version} package {}", wording.names)
    } else {
        format!("remove {of_version}package {}", wording.names)
    };
    Decision {
        changes: vec![Change::new(line)],
        targets,
    }
}

fn decide_lock(action: Action, facts: &[PackageFacts], wording: &Wording) -> Decision {
    let lock = action == Action::Lock;
    let targets: Vec<Target> = facts
        .iter()
        .filter(|f| f.held != lock)
        .map(|f| Target {
            name: f.name.clone(),
            version: None,
        })
        .collect();
    if targets.is_empty() {
        return Decision::default();
    }
    Decision {
        changes: vec![Change::new(format!(
            "{} package {}",
            action.as_str(),
            wording.names
        ))],
        targets,
    }
}

/// Reads what dpkg's status (through the run's cache) says about `names`, and the candidates
/// the decision for `action` needs (one `apt-cache policy` call for all of them).
pub fn load_facts(
    cx: &mut Context,
    action: Action,
    names: &[String],
    versions: &[Option<String>],
    default_release: Option<&str>,
) -> Result<Vec<PackageFacts>> {
    let path = cx.host_path(Path::new(DPKG_STATUS));
    let status = cx.packages.status(&path)?;
    let mut facts: Vec<PackageFacts> = names
        .iter()
        .zip(versions)
        .map(|(name, wanted)| {
            let entry = status.get(name);
            PackageFacts {
                name: name.clone(),
                wanted: wanted.clone(),
                installed: entry
                    .and_then(|e| e.installed_version())
                    .map(str::to_string),
                traces: entry.is_some_and(|e| e.leaves_traces()),
                held: entry.is_some_and(|e| e.want == "hold"),
                candidate: None,
            }
        })
        .collect();
    let needed: Vec<String> = facts
        .iter()
        .filter(|f| needs_candidate(action, f))
        .map(|f| f.name.clone())
        .collect();
    if !needed.is_empty() {
        let found = cx.packages.candidates(&needed, default_release)?;
        for (name, candidate) in needed.iter().zip(found) {
            if let Some(f) = facts.iter_mut().find(|f| f.name == *name) {
                f.candidate = candidate;
            }
        }
    }
    Ok(facts)
}

/// `response_file`: a debconf preseed file from the cookbook (a template, else a plain file),
/// rendered into the file cache and fed to `debconf-set-selections` when it changed.
#[derive(Debug, Clone)]
pub(crate) struct ResponseFile {
    cookbook: String,
    content: ResponseContent,
    variables: Map<String, Value>,
}

#[derive(Debug, Clone)]
enum ResponseContent {
    Template(Arc<dyn TemplateEngine>),
    File(PathBuf),
}

impl ResponseFile {
    /// Finds `response_file` among the cookbook's templates, then its files.
    pub fn read(props: &Properties<'_>, sources: &dyn Sources) -> Result<Option<Self>> {
        let Some(name) = props.string("response_file")? else {
            return Ok(None);
        };
        let location = props.location("response_file");
        let cookbook = props.decl().cookbook.clone();
        let content = Self::find(&cookbook, &name, &location, sources)?;
        Ok(Some(Self {
            cookbook,
            content,
            variables: props.object("response_file_variables")?.unwrap_or_default(),
        }))
    }

    fn find(
        cookbook: &str,
        name: &str,
        location: &SourceLocation,
        sources: &dyn Sources,
    ) -> Result<ResponseContent> {
        if let Ok(path) = sources.cookbook_file(cookbook, Segment::Templates, name, location) {
            return Ok(ResponseContent::Template(
                sources.template(&path, location)?,
            ));
        }
        match sources.cookbook_file(cookbook, Segment::Files, name, location) {
            Ok(path) => Ok(ResponseContent::File(path)),
            Err(_) => Err(Error::compile_as(
                "Chef::Exceptions::FileNotFound",
                location.clone(),
                format!("No template or cookbook file found for response file {name}"),
            )),
        }
    }

    fn render(&self, cx: &Context) -> Result<Vec<u8>> {
        match &self.content {
            ResponseContent::Template(engine) => {
                Ok(engine.render(&self.variables, &cx.node)?.into_bytes())
            }
            ResponseContent::File(path) => std::fs::read(path).map_err(|e| Error::io(path, e)),
        }
    }

    /// The preseed file to write when its content differs from the cached copy.
    pub fn pending(&self, cx: &Context, first: &Target) -> Result<Option<Preseed>> {
        let path = cx
            .file_cache_path
            .join("preseed")
            .join(&self.cookbook)
            .join(format!(
                "{}-{}.seed",
                first.name,
                first.version.as_deref().unwrap_or("")
            ));
        let content = self.render(cx)?;
        if std::fs::read(&path).ok().as_deref() == Some(content.as_slice()) {
            return Ok(None);
        }
        Ok(Some(Preseed { path, content }))
    }
}

/// A preseed file to write and feed to debconf before installing.
#[derive(Debug, Clone)]
pub(crate) struct Preseed {
    path: PathBuf,
    content: Vec<u8>,
}

impl Preseed {
    /// Writes the file and runs `debconf-set-selections` on it.
    pub fn apply(&self, run: &RunOptions, cx: &Context) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::write(&self.path, &self.content).map_err(|e| Error::io(&self.path, e))?;
        apt::debconf_set_selections(&self.path, run, &cx.command_env())
    }
}

/// What `check` hands to `apply`.
#[derive(Debug)]
struct Work {
    targets: Vec<Target>,
    preseed: Option<Preseed>,
}

/// The plan for a decision, with a preseed step first when one is due.
pub(crate) fn plan_for(
    decision: Decision,
    action: Action,
    response_file: Option<&ResponseFile>,
    cx: &Context,
) -> Result<Plan> {
    if decision.targets.is_empty() {
        return Ok(Plan::up_to_date());
    }
    let mut plan = Plan::up_to_date();
    let mut preseed = None;
    if let (Some(response), Action::Install | Action::Upgrade) = (response_file, action) {
        preseed = response.pending(cx, &decision.targets[0])?;
        if preseed.is_some() {
            let names: Vec<&str> = decision.targets.iter().map(|t| t.name.as_str()).collect();
            plan.push(Change::new(format!("preseed package {}", names.join(", "))));
        }
    }
    plan.changes.extend(decision.changes);
    plan.set_payload(Work {
        targets: decision.targets,
        preseed,
    });
    Ok(plan)
}

/// The targets (and preseed) stored by `check`.
pub(crate) fn take_work(plan: &mut Plan) -> Result<(Vec<Target>, Option<Preseed>)> {
    let work = plan.take_payload::<Work>().ok_or_else(|| {
        Error::resource(
            "Chef::Exceptions::Package",
            "the plan carries no packages to act on",
        )
    })?;
    Ok((work.targets, work.preseed))
}

impl AptPackageResource {
    fn wording(&self) -> Wording {
        Wording {
            names: self.names.names_text(),
            version: self.names.version_text.clone(),
            allow_downgrade: self.settings.allow_downgrade,
        }
    }

    fn run_apt(&self, action: Action, targets: &[Target], cx: &Context) -> Result<()> {
        let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
        let argv = match action {
            Action::Install | Action::Upgrade => {
                apt::apt_get_install(targets, &self.settings, &self.run)
            }
            Action::Remove | Action::Purge => {
                apt::apt_get_remove(&names, action == Action::Purge, &self.run)
            }
            _ => apt::apt_mark(&names, action == Action::Lock),
        };
        apt::run_noninteractive(argv, &self.run, &cx.command_env())
    }
}

impl Resource for AptPackageResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn display_kind(&self) -> &str {
        "apt_package"
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        if !ACTIONS.contains(&action) {
            return Ok(Plan::up_to_date());
        }
        let facts = load_facts(
            cx,
            action,
            &self.names.names,
            &self.names.versions,
            self.settings.default_release.as_deref(),
        )?;
        let decision = decide(action, &facts, &self.wording())?;
        plan_for(decision, action, self.response_file.as_ref(), cx)
    }

    fn apply(&self, action: Action, mut plan: Plan, cx: &mut Context) -> Result<()> {
        let (targets, preseed) = take_work(&mut plan)?;
        if let Some(preseed) = preseed {
            preseed.apply(&self.run, cx)?;
        }
        let result = self.run_apt(action, &targets, cx);
        // Even a failed apt-get may have changed some packages.
        cx.packages.refresh();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::Host;
    use serde_json::json;

    fn facts(name: &str, installed: Option<&str>, candidate: Option<&str>) -> PackageFacts {
        PackageFacts {
            name: name.into(),
            installed: installed.map(str::to_string),
            traces: installed.is_some(),
            candidate: candidate.map(str::to_string),
            ..Default::default()
        }
    }

    fn wording(names: &str) -> Wording {
        Wording {
            names: names.into(),
            version: None,
            allow_downgrade: true,
        }
    }

    fn lines(d: &Decision) -> Vec<&str> {
        d.changes.iter().map(|c| c.description.as_str()).collect()
    }

    #[test]
    fn install_without_version_is_satisfied_by_any_installed_version() {
        let d = decide(
            Action::Install,
            &[facts("nginx", Some("1.22.0-1"), Some("1.22.1-9"))],
            &wording("nginx"),
        )
        .unwrap();
        assert!(d.targets.is_empty());
    }

    #[test]
    fn install_of_a_missing_package_installs_the_candidate() {
        let d = decide(
            Action::Install,
            &[facts("nginx", None, Some("1.22.1-9"))],
            &wording("nginx"),
        )
        .unwrap();
        assert_eq!(lines(&d), ["install version 1.22.1-9 of package nginx"]);
        assert_eq!(d.targets[0].apt_argument(), "nginx=1.22.1-9");
    }

    #[test]
    fn install_with_a_version_compares_strings_and_may_downgrade() {
        let mut f = facts("nginx", Some("2.0"), Some("2.0"));
        f.wanted = Some("2.0".into());
        assert!(decide(Action::Install, &[f.clone()], &wording("nginx"))
            .unwrap()
            .targets
            .is_empty());
        f.wanted = Some("1.0".into());
        let d = decide(Action::Install, &[f], &wording("nginx")).unwrap();
        assert_eq!(lines(&d), ["install version 1.0 of package nginx"]);
    }

    #[test]
    fn no_candidate_for_a_missing_package_is_an_error() {
        let err = decide(
            Action::Install,
            &[facts("nope", None, None), facts("nada", None, None)],
            &wording("x"),
        )
        .unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::Package");
        assert_eq!(
            err.to_string(),
            "No candidate version available for nope, nada"
        );
    }

    #[test]
    fn upgrade_is_up_to_date_only_at_the_candidate() {
        let d = decide(
            Action::Upgrade,
            &[facts("nginx", Some("1.22.0-1"), Some("1.22.1-9"))],
            &wording("nginx"),
        )
        .unwrap();
        assert_eq!(
            lines(&d),
            ["upgrade(allow_downgrade) package nginx from 1.22.0-1 to 1.22.1-9"]
        );
        let same = decide(
            Action::Upgrade,
            &[facts("nginx", Some("2.0"), Some("2.0"))],
            &wording("nginx"),
        )
        .unwrap();
        assert!(same.targets.is_empty());
        let no_candidate = decide(
            Action::Upgrade,
            &[facts("local", Some("2.0"), None)],
            &wording("local"),
        )
        .unwrap();
        assert!(no_candidate.targets.is_empty());
        let fresh = decide(
            Action::Upgrade,
            &[facts("nginx", None, Some("2.0"))],
            &wording("nginx"),
        )
        .unwrap();
        assert_eq!(
            lines(&fresh),
            ["upgrade(allow_downgrade) package nginx from uninstalled to 2.0"]
        );
    }

    #[test]
    fn upgrade_without_allow_downgrade_never_goes_down() {
        let mut w = wording("x");
        w.allow_downgrade = false;
        let d = decide(Action::Upgrade, &[facts("x", Some("2.0"), Some("1.0"))], &w).unwrap();
        assert!(d.targets.is_empty());
        let up = decide(Action::Upgrade, &[facts("x", Some("1.0"), Some("2.0"))], &w).unwrap();
        assert_eq!(lines(&up), ["upgrade package x from 1.0 to 2.0"]);
    }

    #[test]
    fn remove_and_purge_lines_as_chef_prints_them() {
        let d = decide(
            Action::Remove,
            &[facts("nginx", Some("1.0"), None)],
            &wording("nginx"),
        )
        .unwrap();
        assert_eq!(lines(&d), ["remove package nginx"]);
        let p = decide(
            Action::Purge,
            &[facts("nginx", Some("1.0"), None)],
            &wording("nginx"),
        )
        .unwrap();
        assert_eq!(lines(&p), ["purge  package nginx"]);
        let absent = decide(Action::Remove, &[facts("x", None, None)], &wording("x")).unwrap();
        assert!(absent.targets.is_empty());
    }

    #[test]
    fn purge_acts_on_config_files_left_behind_and_remove_does_not() {
        let mut f = facts("nginx", None, None);
        f.traces = true;
        assert!(decide(Action::Remove, &[f.clone()], &wording("nginx"))
            .unwrap()
            .targets
            .is_empty());
        assert_eq!(
            decide(Action::Purge, &[f], &wording("nginx"))
                .unwrap()
                .targets
                .len(),
            1
        );
    }

    #[test]
    fn remove_of_a_list_names_only_installed_packages_and_prints_the_list() {
        let d = decide(
            Action::Remove,
            &[facts("a", Some("1"), None), facts("b", None, None)],
            &wording(r#"["a", "b"]"#),
        )
        .unwrap();
        assert_eq!(lines(&d), [r#"remove package ["a", "b"]"#]);
        assert_eq!(d.targets.len(), 1);
    }

    #[test]
    fn remove_with_a_version_only_removes_that_version() {
        let mut f = facts("x", Some("1.0"), None);
        f.wanted = Some("2.0".into());
        let mut w = wording("x");
        w.version = Some("2.0".into());
        assert!(decide(Action::Remove, &[f.clone()], &w)
            .unwrap()
            .targets
            .is_empty());
        f.wanted = Some("1.0".into());
        w.version = Some("1.0".into());
        assert_eq!(
            lines(&decide(Action::Remove, &[f], &w).unwrap()),
            ["remove version 1.0 of package x"]
        );
    }

    #[test]
    fn lock_is_up_to_date_when_held() {
        let mut f = facts("x", Some("1"), None);
        f.held = true;
        assert!(decide(Action::Lock, &[f.clone()], &wording("x"))
            .unwrap()
            .targets
            .is_empty());
        assert_eq!(
            lines(&decide(Action::Unlock, &[f], &wording("x")).unwrap()),
            ["unlock package x"]
        );
    }

    #[test]
    fn candidates_are_needed_only_when_the_decision_uses_them() {
        let installed = facts("x", Some("1"), None);
        let missing = facts("y", None, None);
        assert!(!needs_candidate(Action::Install, &installed));
        assert!(needs_candidate(Action::Install, &missing));
        assert!(needs_candidate(Action::Upgrade, &installed));
        assert!(!needs_candidate(Action::Remove, &missing));
        let mut pinned = missing;
        pinned.wanted = Some("1".into());
        assert!(!needs_candidate(Action::Install, &pinned));
    }

    #[test]
    fn package_prints_as_apt_package_but_keeps_its_key() {
        let host = Host::new();
        let r = host.build("package", "nginx", json!({})).unwrap();
        assert_eq!(r.id(), &ResourceId::new("package", "nginx"));
        assert_eq!(r.display_kind(), "apt_package");
    }

    #[test]
    fn names_and_versions_as_strings_or_lists() {
        let host = Host::new();
        let bad = host
            .build(
                "apt_package",
                "x",
                json!({"package_name": ["a", "b"], "version": ["1"]}),
            )
            .unwrap_err();
        assert!(bad.to_string().contains("one version per package"), "{bad}");
        assert!(host
            .build("apt_package", "x", json!({"package_name": [1, {}]}))
            .is_err());
        assert!(host
            .build(
                "apt_package",
                "x",
                json!({"options": "--a --b", "timeout": 5})
            )
            .is_ok());
    }

    #[test]
    fn check_reads_status_once_and_spawns_nothing_for_installed_packages() {
        let mut host = Host::new();
        host.write(
            DPKG_STATUS,
            "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n\
             Package: b\nStatus: install ok installed\nArchitecture: all\nVersion: 2\n",
        );
        let a = host.build("package", "a", json!({})).unwrap();
        let ab = host
            .build(
                "apt_package",
                "ab",
                json!({"package_name": ["a", "b"], "version": ["1", "2"]}),
            )
            .unwrap();
        assert!(host.check(a.as_ref(), Action::Install).is_empty());
        assert!(host.check(ab.as_ref(), Action::Install).is_empty());
        assert_eq!(host.cx.packages.status_reads(), 1);
        assert_eq!(host.cx.packages.queries(), 0);
        let purge = host.check(ab.as_ref(), Action::Purge);
        assert_eq!(
            purge,
            [r#"purge version ["1", "2"] of  package ["a", "b"]"#]
        );
    }

    #[test]
    fn preset_state_decides_without_the_host() {
        let mut host = Host::new();
        host.cx.packages.preset("nginx", Some("1.0"), Some("1.1"));
        let r = host.build("apt_package", "nginx", json!({})).unwrap();
        assert_eq!(
            host.check(r.as_ref(), Action::Upgrade),
            ["upgrade(allow_downgrade) package nginx from 1.0 to 1.1"]
        );
    }

    #[test]
    fn response_file_preseeds_before_installing_when_changed() {
        let mut host = Host::new();
        let templates = host.cookbook_dir().join("templates");
        std::fs::create_dir_all(&templates).unwrap();
        std::fs::write(templates.join("x.seed.hbs"), "x x/q string {{answer}}\n").unwrap();
        host.cx.packages.preset("x", None, Some("1.0"));
        let r = host
            .build(
                "apt_package",
                "x",
                json!({"response_file": "x.seed.hbs", "response_file_variables": {"answer": "42"}}),
            )
            .unwrap();
        assert_eq!(
            host.check(r.as_ref(), Action::Install),
            ["preseed package x", "install version 1.0 of package x"]
        );
        let seed = host.cx.file_cache_path.join("preseed/cb/x-1.0.seed");
        std::fs::create_dir_all(seed.parent().unwrap()).unwrap();
        std::fs::write(&seed, "x x/q string 42\n").unwrap();
        assert_eq!(
            host.check(r.as_ref(), Action::Install),
            ["install version 1.0 of package x"]
        );
        let missing = host
            .build("apt_package", "x", json!({"response_file": "nope.seed"}))
            .unwrap_err();
        assert_eq!(missing.class(), "Chef::Exceptions::FileNotFound");
    }
}
