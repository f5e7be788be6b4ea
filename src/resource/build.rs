//! Turning a declaration into a typed resource.

use crate::error::{Result, SourceLocation};
use crate::template::TemplateEngine;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which cookbook directory a source file is looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// `templates/`.
    Templates,
    /// `files/`.
    Files,
}

/// What building a resource needs from the repository: cookbook files by Chef's specificity,
/// and compiled templates. Implemented by the compiler; tests can implement it over a tempdir.
pub trait Sources {
    /// The file for `source` in `cookbook`'s `templates/` or `files/`, first match in Chef's
    /// specificity order; an error at `location` listing the places searched when none exists.
    fn cookbook_file(
        &self,
        cookbook: &str,
        segment: Segment,
        source: &str,
        location: &SourceLocation,
    ) -> Result<PathBuf>;

    /// Compiles the template file at `path` with the engine its extension names
    /// (`.erb` → ERB, `.hbs` → Handlebars).
    fn template(&self, path: &Path, location: &SourceLocation) -> Result<Arc<dyn TemplateEngine>>;

    /// Where templates' partials (`render "x.erb"`) are found; None when there are none.
    fn finder(&self) -> Option<Arc<crate::ruby::erb::TemplateFinder>> {
        None
    }

    /// These lookups as an owned value kept for converge time, where resources with `lazy`
    /// properties are built again; None when they cannot be kept.
    fn owned(&self) -> Option<Arc<dyn Sources + Send + Sync>> {
        None
    }
}

use super::properties::{type_name, value_command, value_string_map, value_u32, Properties};
use super::{
    cookbook_file, cron, cron_d, directory, execute, file, group, link, log, service, sysctl,
    template, user, Action, Common, Guard, GuardKind, GuardOptions, IgnoreFailure, Notification,
    Resource, ResourceId, Subscription, Timing,
};
use crate::compile::decl::{DeclCode, PropValue, ResourceDecl};
use crate::error::Error;
use serde_json::Value;

/// Properties every resource type accepts.
pub const COMMON_PROPERTIES: &[&str] = &[
    "action",
    "notifies",
    "subscribes",
    "only_if",
    "not_if",
    "ignore_failure",
    "retries",
    "retry_delay",
    "sensitive",
];

/// Builds one resource type from its declaration and parsed common properties.
type MakeResource = fn(&ResourceDecl, Common, &dyn Sources) -> Result<Box<dyn Resource>>;

/// What the builder knows about one resource type.
struct TypeInfo {
    name: &'static str,
    properties: &'static [&'static str],
    actions: &'static [Action],
    default_action: Action,
    make: MakeResource,
}

const TYPES: &[TypeInfo] = &[
    TypeInfo {
        name: "file",
        properties: file::PROPERTIES,
        actions: file::ACTIONS,
        default_action: Action::Create,
        make: file::build,
    },
    TypeInfo {
        name: "template",
        properties: template::PROPERTIES,
        actions: file::ACTIONS,
        default_action: Action::Create,
        make: template::build,
    },
    TypeInfo {
        name: "cookbook_file",
        properties: cookbook_file::PROPERTIES,
        actions: file::ACTIONS,
        default_action: Action::Create,
        make: cookbook_file::build,
    },
    TypeInfo {
        name: "directory",
        properties: directory::PROPERTIES,
        actions: directory::ACTIONS,
        default_action: Action::Create,
        make: directory::build,
    },
    TypeInfo {
        name: "link",
        properties: link::PROPERTIES,
        actions: link::ACTIONS,
        default_action: Action::Create,
        make: link::build,
    },
    TypeInfo {
        name: "execute",
        properties: execute::PROPERTIES,
        actions: execute::ACTIONS,
        default_action: Action::Run,
        make: execute::build,
    },
    TypeInfo {
        name: "log",
        properties: log::PROPERTIES,
        actions: log::ACTIONS,
        default_action: Action::Write,
        make: log::build,
    },
    TypeInfo {
        name: "package",
        properties: super::package::PROPERTIES,
        actions: super::package::ACTIONS,
        default_action: Action::Install,
        make: super::package::build,
    },
    TypeInfo {
        name: "apt_package",
        properties: super::package::PROPERTIES,
        actions: super::package::ACTIONS,
        default_action: Action::Install,
        make: super::package::build,
    },
    TypeInfo {
        name: "dpkg_package",
        properties: super::dpkg_package::PROPERTIES,
        actions: super::dpkg_package::ACTIONS,
        default_action: Action::Install,
        make: super::dpkg_package::build,
    },
    TypeInfo {
        name: "apt_update",
        properties: super::apt_update::PROPERTIES,
        actions: super::apt_update::ACTIONS,
        default_action: Action::Periodic,
        make: super::apt_update::build,
    },
    TypeInfo {
        name: "service",
        properties: service::PROPERTIES,
        actions: service::ACTIONS,
        default_action: Action::Nothing,
        make: service::build,
    },
    TypeInfo {
        name: "user",
        properties: user::PROPERTIES,
        actions: user::ACTIONS,
        default_action: Action::Create,
        make: user::build,
    },
    TypeInfo {
        name: "linux_user",
        properties: user::PROPERTIES,
        actions: user::ACTIONS,
        default_action: Action::Create,
        make: user::build,
    },
    TypeInfo {
        name: "group",
        properties: group::PROPERTIES,
        actions: group::ACTIONS,
        default_action: Action::Create,
        make: group::build,
    },
    TypeInfo {
        name: "cron",
        properties: cron::PROPERTIES,
        actions: cron::ACTIONS,
        default_action: Action::Create,
        make: cron::build,
    },
    TypeInfo {
        name: "cron_d",
        properties: cron_d::PROPERTIES,
        actions: cron_d::ACTIONS,
        default_action: Action::Create,
        make: cron_d::build,
    },
    TypeInfo {
        name: "sysctl",
        properties: sysctl::PROPERTIES,
        actions: sysctl::ACTIONS,
        default_action: Action::Apply,
        make: sysctl::build,
    },
];

/// The resource types [`build`] knows, in the order they are listed in errors.
pub fn known_types() -> Vec<&'static str> {
    TYPES.iter().map(|t| t.name).collect()
}

/// Builds a typed resource from a declaration: validates every property (unknown property →
/// Error::Compile at the property's location naming the resource type and listing valid ones;
/// wrong type → "expected `mode` to be an octal string like "0644" or an integer, got array"), the actions against
/// the type's allowed actions, and resolves template/cookbook_file sources through `sources`
/// (a missing source is a compile error).
pub fn build(decl: &ResourceDecl, sources: &dyn Sources) -> Result<Box<dyn Resource>> {
    build_guarded(decl, Vec::new(), sources)
}

/// [`build`] for a declaration that also has guards written as code (Ruby block guards),
/// which a declaration's JSON properties cannot hold; they run after its `only_if`/`not_if`
/// property guards of the same kind.
pub fn build_guarded(
    decl: &ResourceDecl,
    block_guards: Vec<Guard>,
    sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    build_with(decl, block_guards, Vec::new(), sources)
}

/// [`build_guarded`] with the helpers of a `template` block.
pub(crate) fn build_with(
    decl: &ResourceDecl,
    block_guards: Vec<Guard>,
    helpers: Vec<crate::ruby::erb::TemplateHelper>,
    sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let Some(info) = TYPES.iter().find(|t| t.name == decl.kind) else {
        return Err(Error::compile_as(
            "Chef::Exceptions::NoSuchResourceType",
            decl.location.clone(),
            format!(
                "Cannot find a resource for `{}`; known resource types: {}",
                decl.kind,
                known_types().join(", ")
            ),
        ));
    };
    check_known_properties(decl, info.properties)?;
    let mut common = parse_common(decl, info.default_action, info.actions)?;
    common.guards.extend(block_guards);
    common.template_helpers = helpers;
    (info.make)(decl, common, sources)
}

/// [`build`] for a declaration written as code: its block guards, template helpers and `lazy`
/// properties (a resource with lazy properties is built again when it is checked).
pub fn build_code(
    decl: &ResourceDecl,
    code: DeclCode,
    sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    if code.lazy.is_empty() {
        return build_with(decl, code.guards, code.helpers, sources);
    }
    super::lazy::LazyResource::build(decl, code, sources)
}

fn check_known_properties(decl: &ResourceDecl, own: &[&str]) -> Result<()> {
    for (key, prop) in &decl.properties {
        if COMMON_PROPERTIES.contains(&key.as_str()) || own.contains(&key.as_str()) {
            continue;
        }
        let mut valid: Vec<&str> = own.iter().chain(COMMON_PROPERTIES).copied().collect();
        valid.sort_unstable();
        return Err(Error::compile_as(
            "NoMethodError",
            prop.location.clone(),
            format!(
                "unknown property `{key}` for resource type `{}`; valid properties: {}",
                decl.kind,
                valid.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Reads the common properties (`action`, guards, notifications, retries...).
pub fn parse_common(
    decl: &ResourceDecl,
    default_action: Action,
    allowed: &[Action],
) -> Result<Common> {
    let props = Properties::new(decl);
    let mut common = Common::new(default_action, decl.location.clone());
    common.cookbook = decl.cookbook.clone();
    common.recipe = decl.recipe.clone();
    if let Some(prop) = props.get("action") {
        common.actions = parse_actions(prop, allowed)?;
    }
    if let Some(prop) = props.get("notifies") {
        common.notifies = each_map(prop, "notifies")?
            .into_iter()
            .map(|m| {
                let (action, target, timing) = parse_notification(m, prop, "notifies")?;
                Ok(Notification {
                    action,
                    target,
                    timing,
                    location: prop.location.clone(),
                })
            })
            .collect::<Result<_>>()?;
    }
    if let Some(prop) = props.get("subscribes") {
        common.subscribes = each_map(prop, "subscribes")?
            .into_iter()
            .map(|m| {
                let (action, source, timing) = parse_notification(m, prop, "subscribes")?;
                Ok(Subscription {
                    action,
                    source,
                    timing,
                    location: prop.location.clone(),
                })
            })
            .collect::<Result<_>>()?;
    }
    for (name, kind) in [("only_if", GuardKind::OnlyIf), ("not_if", GuardKind::NotIf)] {
        if let Some(prop) = props.get(name) {
            common.guards.extend(parse_guards(prop, kind, name)?);
        }
    }
    if let Some(prop) = props.get("ignore_failure") {
        common.ignore_failure = parse_ignore_failure(prop)?;
    }
    common.retries = props.u32("retries")?.unwrap_or(0);
    if let Some(delay) = props.seconds("retry_delay")? {
        common.retry_delay = delay;
    }
    common.sensitive = props.bool("sensitive")?.unwrap_or(false);
    Ok(common)
}

fn parse_actions(prop: &PropValue, allowed: &[Action]) -> Result<Vec<Action>> {
    let names: Vec<&str> = match &prop.value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items
            .iter()
            .map(Value::as_str)
            .collect::<Option<_>>()
            .ok_or_else(|| {
                Error::compile(
                    prop.location.clone(),
                    "expected `action` to be a string or array of strings, got array with a non-string",
                )
            })?,
        _ => {
            return Err(super::properties::type_error(
                "action",
                "a string or array of strings",
                prop,
            ))
        }
    };
    if names.is_empty() {
        return Err(Error::compile(
            prop.location.clone(),
            "expected `action` to name at least one action",
        ));
    }
    names
        .into_iter()
        .map(|name| {
            Action::named(name)
                .filter(|a| *a == Action::Nothing || allowed.contains(a))
                .ok_or_else(|| invalid_action(name, allowed, prop))
        })
        .collect()
}

fn invalid_action(name: &str, allowed: &[Action], prop: &PropValue) -> Error {
    let mut valid = vec!["nothing".to_string()];
    valid.extend(allowed.iter().map(|a| a.as_str().to_string()));
    Error::compile(
        prop.location.clone(),
        format!(
            "Option action must be equal to one of: {}!  You passed :{}.",
            valid.join(", "),
            name.strip_prefix(':').unwrap_or(name)
        ),
    )
}

fn each_map<'v>(
    prop: &'v PropValue,
    name: &str,
) -> Result<Vec<&'v serde_json::Map<String, Value>>> {
    let bad = || super::properties::type_error(name, "a map or array of maps", prop);
    match &prop.value {
        Value::Object(m) => Ok(vec![m]),
        Value::Array(items) => items
            .iter()
            .map(Value::as_object)
            .collect::<Option<_>>()
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

fn parse_notification(
    map: &serde_json::Map<String, Value>,
    prop: &PropValue,
    name: &str,
) -> Result<(Action, ResourceId, Timing)> {
    let err = |msg: String| Error::compile(prop.location.clone(), format!("`{name}`: {msg}"));
    let action = map
        .get("action")
        .and_then(Value::as_str)
        .ok_or_else(|| err("expected `action` to be a string".into()))?;
    let action = Action::named(action).ok_or_else(|| err(format!("unknown action `{action}`")))?;
    let reference = map
        .get("resource")
        .and_then(Value::as_str)
        .ok_or_else(|| err("expected `resource` to be a string like \"service[nginx]\"".into()))?;
    let id = ResourceId::parse(reference).ok_or_else(|| {
        err(format!(
            "expected `resource` to look like \"type[name]\", got \"{reference}\""
        ))
    })?;
    let timing = match map.get("timing") {
        None | Some(Value::Null) => Timing::Delayed,
        Some(Value::String(t)) => Timing::parse(t).ok_or_else(|| {
            Error::compile_as(
                "ArgumentError",
                prop.location.clone(),
                format!(
                    "`{name}`: timing must be delayed, immediately, immediate or before, got \"{t}\""
                ),
            )
        })?,
        Some(other) => {
            return Err(err(format!(
                "expected `timing` to be a string, got {}",
                type_name(other)
            )))
        }
    };
    if let Some(key) = map
        .keys()
        .find(|k| !["action", "resource", "timing"].contains(&k.as_str()))
    {
        return Err(err(format!(
            "unknown key `{key}`; valid keys: action, resource, timing"
        )));
    }
    Ok((action, id, timing))
}

/// A string → shell guard; a list of strings → argv; a map → guard with options; a list of
/// maps → several guards.
fn parse_guards(prop: &PropValue, kind: GuardKind, name: &str) -> Result<Vec<Guard>> {
    let guard = |command: crate::platform::command::CommandLine, options| Guard {
        kind,
        command: command.into(),
        options,
        location: prop.location.clone(),
    };
    match &prop.value {
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => items
            .iter()
            .map(|item| {
                let (command, options) = parse_guard_map(item, prop, name)?;
                Ok(guard(command, options))
            })
            .collect(),
        Value::Object(_) => {
            let (command, options) = parse_guard_map(&prop.value, prop, name)?;
            Ok(vec![guard(command, options)])
        }
        other => {
            let command = value_command(other).ok_or_else(|| {
                super::properties::type_error(
                    name,
                    "a command string, an array of strings, or a map with `command`",
                    prop,
                )
            })?;
            Ok(vec![guard(command, GuardOptions::default())])
        }
    }
}

fn parse_guard_map(
    value: &Value,
    prop: &PropValue,
    name: &str,
) -> Result<(crate::platform::command::CommandLine, GuardOptions)> {
    let err = |msg: String| Error::compile(prop.location.clone(), format!("`{name}`: {msg}"));
    let map = value
        .as_object()
        .ok_or_else(|| err("expected a map".into()))?;
    let command = map
        .get("command")
        .and_then(value_command)
        .ok_or_else(|| err("expected `command` to be a string or array of strings".into()))?;
    let mut options = GuardOptions::default();
    for (key, v) in map {
        match key.as_str() {
            "command" => {}
            "cwd" => options.cwd = Some(guard_string(v, key, &err)?.into()),
            "environment" | "env" => {
                options.environment = value_string_map(v)
                    .ok_or_else(|| err(format!("expected `{key}` to be a map of strings")))?
            }
            "user" => options.user = Some(guard_principal(v, key, &err)?),
            "group" => options.group = Some(guard_principal(v, key, &err)?),
            "umask" => {
                options.umask = Some(
                    super::properties::value_mode(v)
                        .map(|m| m.bits())
                        .ok_or_else(|| err("expected `umask` to be a string or integer".into()))?,
                )
            }
            "timeout" => {
                options.timeout = Some(
                    v.as_f64()
                        .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
                        .ok_or_else(|| err("expected `timeout` to be a number of seconds".into()))?,
                )
            }
            other => {
                return Err(err(format!(
                    "unknown guard option `{other}`; valid options: command, cwd, environment, user, group, umask, timeout"
                )))
            }
        }
    }
    Ok((command, options))
}

fn guard_string(v: &Value, key: &str, err: &dyn Fn(String) -> Error) -> Result<String> {
    v.as_str().map(str::to_string).ok_or_else(|| {
        err(format!(
            "expected `{key}` to be a string, got {}",
            type_name(v)
        ))
    })
}

fn guard_principal(v: &Value, key: &str, err: &dyn Fn(String) -> Error) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) => value_u32(v)
            .map(|id| id.to_string())
            .ok_or_else(|| err(format!("expected `{key}` to be a name or id"))),
        _ => Err(err(format!(
            "expected `{key}` to be a name or id, got {}",
            type_name(v)
        ))),
    }
}

fn parse_ignore_failure(prop: &PropValue) -> Result<IgnoreFailure> {
    match &prop.value {
        Value::Bool(true) => Ok(IgnoreFailure::Yes),
        Value::Bool(false) => Ok(IgnoreFailure::No),
        Value::String(s) if s.strip_prefix(':').unwrap_or(s) == "quiet" => Ok(IgnoreFailure::Quiet),
        _ => Err(super::properties::type_error(
            "ignore_failure",
            "true, false or \"quiet\"",
            prop,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::command::CommandLine;
    use crate::resource::testing::{decl, Host};
    use serde_json::json;

    fn common_of(props: Value) -> Result<Common> {
        parse_common(&decl("file", "/x", props), Action::Create, file::ACTIONS)
    }

    #[test]
    fn unknown_type_lists_the_known_ones() {
        let host = Host::new();
        let err = host.build("teleport", "x", json!({})).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::NoSuchResourceType");
        let text = err.to_string();
        assert!(text.contains("`teleport`"), "{text}");
        assert!(
            text.contains("file, template, cookbook_file, directory, link, execute, log"),
            "{text}"
        );
    }

    #[test]
    fn unknown_property_names_type_location_and_valid_ones() {
        let host = Host::new();
        let err = host
            .build("directory", "/x", json!({"contnet": "x"}))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("cookbooks/cb/recipes/default.yml:4:3: unknown property `contnet` for resource type `directory`"), "{text}");
        assert!(text.contains("valid properties: action,"), "{text}");
        assert!(text.contains("recursive"), "{text}");
    }

    #[test]
    fn wrong_type_says_expected_and_got() {
        let host = Host::new();
        let err = host.build("file", "/x", json!({"mode": [1]})).unwrap_err();
        assert!(
            err.to_string().ends_with(
                "expected `mode` to be an octal string like \"0644\" or an integer, got array"
            ),
            "{err}"
        );
    }

    #[test]
    fn actions_are_checked_against_the_type_and_nothing_is_always_valid() {
        assert_eq!(common_of(json!({})).unwrap().actions, [Action::Create]);
        assert_eq!(
            common_of(json!({"action": ["nothing", ":touch"]}))
                .unwrap()
                .actions,
            [Action::Nothing, Action::Touch]
        );
        let err = common_of(json!({"action": "restart"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cookbooks/cb/recipes/default.yml:4:3: Option action must be equal to one of: nothing, create, create_if_missing, delete, touch!  You passed :restart."
        );
    }

    #[test]
    fn notifies_and_subscribes_as_a_map_or_a_list() {
        let c = common_of(json!({
            "notifies": {"action": "restart", "resource": "service[nginx]", "timing": "immediately"},
            "subscribes": [{"action": "reload", "resource": "template[/etc/x]"}]
        }))
        .unwrap();
        assert_eq!(c.notifies.len(), 1);
        assert_eq!(c.notifies[0].action, Action::Restart);
        assert_eq!(c.notifies[0].target, ResourceId::new("service", "nginx"));
        assert_eq!(c.notifies[0].timing, Timing::Immediately);
        assert_eq!(
            c.subscribes[0].source,
            ResourceId::new("template", "/etc/x")
        );
        assert_eq!(c.subscribes[0].timing, Timing::Delayed);
        let bad = common_of(
            json!({"notifies": {"action": "restart", "resource": "service[x]", "timing": "later"}}),
        );
        assert_eq!(bad.unwrap_err().class(), "ArgumentError");
        assert!(
            common_of(json!({"notifies": {"action": "restart", "resource": "nginx"}})).is_err()
        );
    }

    #[test]
    fn guards_as_string_argv_map_and_list_of_maps() {
        let c = common_of(json!({
            "only_if": "test -f /x",
            "not_if": [{"command": ["/bin/false"], "cwd": "/tmp", "environment": {"A": 1}, "timeout": 5},
                       {"command": "true", "umask": "022", "user": "root"}]
        }))
        .unwrap();
        assert_eq!(c.guards.len(), 3);
        assert_eq!(c.guards[0].kind, GuardKind::OnlyIf);
        assert_eq!(c.guards[0].command, CommandLine::Shell("test -f /x".into()));
        assert_eq!(
            c.guards[1].command,
            CommandLine::Argv(vec!["/bin/false".into()])
        );
        assert_eq!(
            c.guards[1].options.cwd.as_deref(),
            Some(std::path::Path::new("/tmp"))
        );
        assert_eq!(
            c.guards[1].options.environment,
            [("A".to_string(), "1".to_string())]
        );
        assert_eq!(
            c.guards[1].options.timeout,
            Some(std::time::Duration::from_secs(5))
        );
        assert_eq!(c.guards[2].options.umask, Some(0o022));
        let argv = common_of(json!({"not_if": ["test", "-f", "/x"]})).unwrap();
        assert_eq!(argv.guards.len(), 1);
        assert!(common_of(json!({"only_if": {"cwd": "/"}})).is_err());
        assert!(common_of(json!({"only_if": {"command": "x", "bogus": 1}})).is_err());
    }

    #[test]
    fn ignore_failure_retries_and_sensitive() {
        let c = common_of(
            json!({"ignore_failure": "quiet", "retries": 2, "retry_delay": 1, "sensitive": true}),
        )
        .unwrap();
        assert_eq!(c.ignore_failure, IgnoreFailure::Quiet);
        assert_eq!(c.retries, 2);
        assert_eq!(c.retry_delay, std::time::Duration::from_secs(1));
        assert!(c.sensitive);
        assert_eq!(
            common_of(json!({"ignore_failure": true}))
                .unwrap()
                .ignore_failure,
            IgnoreFailure::Yes
        );
        assert!(common_of(json!({"ignore_failure": "loud"})).is_err());
        let d = common_of(json!({})).unwrap();
        assert_eq!((d.cookbook.as_str(), d.recipe.as_str()), ("cb", "default"));
    }

    #[test]
    fn guards_run_with_inherited_options() {
        let mut host = Host::new();
        let r = host
            .build(
                "execute",
                "x",
                json!({"cwd": "/tmp", "not_if": "test \"$PWD\" = /tmp"}),
            )
            .unwrap();
        let guard = &r.common().guards[0];
        assert!(!guard.allows(&r.guard_defaults(), &mut host.cx).unwrap());
    }
}
