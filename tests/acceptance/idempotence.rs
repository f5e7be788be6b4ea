//! Runner for the `idempotence` acceptance group.
//!
//! Each case is played against a temp dir standing in for `/`: the case's `pre_state` paths are
//! created under it, the resource is built from a declaration made of the case's `resource`,
//! guards run as the runner runs them (only_if first, then not_if), and `check` answers for the
//! action. When the action converges to a fixed state, the plan is also applied and a second
//! check must come back empty: that is the idempotence the group is named for.

use super::Outcome;
use serde_json::{json, Value};
use skillet::compile::decl::{PropValue, ResourceDecl};
use skillet::resource::build::{self, Segment, Sources};
use skillet::resource::{Action, Context, GuardKind, Resource};
use skillet::template::TemplateEngine;
use skillet::{Error, Result, SourceLocation};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn run_case(case: &Value) -> Outcome {
    let input = &case["input"];
    let resource = &input["resource"];
    let kind = resource["type"].as_str().unwrap_or("");
    if ACCOUNT_AND_SERVICE_TYPES.contains(&kind) {
        return run_account_or_service_case(input, &case["expected"]);
    }
    if !build::known_types().contains(&kind) {
        return Outcome::Fail(format!(
            "resource type `{kind}` is not known to the builder"
        ));
    }
    match Sandbox::new(&input["pre_state"]) {
        Ok(sandbox) => sandbox.run(resource, &input["pre_state"], &case["expected"]),
        Err(why) => Outcome::Fail(why),
    }
}

/// A temp dir used as the host's `/`, plus a cache dir beside it.
struct Sandbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
    cache: PathBuf,
}

/// What playing the resource gave.
enum Played {
    Skipped,
    Checked {
        up_to_date: bool,
        descriptions: Vec<String>,
    },
}

impl Sandbox {
    fn new(pre_state: &Value) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let root = dir.path().join("root");
        let cache = dir.path().join("cache");
        for d in [&root, &cache] {
            std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
        }
        let sandbox = Sandbox {
            _dir: dir,
            root,
            cache,
        };
        let mut entries: Vec<(&String, &Value)> = pre_state
            .as_object()
            .map(|m| m.iter().filter(|(k, _)| k.starts_with('/')).collect())
            .unwrap_or_default();
        entries.sort_by_key(|(path, _)| path.matches('/').count());
        for (path, spec) in entries {
            sandbox.lay_down(Path::new(path), spec)?;
        }
        Ok(sandbox)
    }

    fn host(&self, logical: &Path) -> PathBuf {
        self.root.join(logical.strip_prefix("/").unwrap_or(logical))
    }

    fn lay_down(&self, logical: &Path, spec: &Value) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let host = self.host(logical);
        let err = |e: std::io::Error| format!("pre_state {}: {e}", logical.display());
        if let Some(parent) = host.parent() {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        match spec["type"].as_str().unwrap_or("file") {
            "directory" => std::fs::create_dir_all(&host).map_err(err)?,
            "symlink" => {
                let target = spec["target"].as_str().unwrap_or("");
                std::os::unix::fs::symlink(target, &host).map_err(err)?
            }
            _ => std::fs::write(&host, spec["content"].as_str().unwrap_or("")).map_err(err)?,
        }
        if let Some(mode) = spec["mode"].as_str() {
            let bits = u32::from_str_radix(mode, 8).map_err(|e| e.to_string())?;
            std::fs::set_permissions(&host, std::fs::Permissions::from_mode(bits)).map_err(err)?;
        }
        Ok(())
    }

    fn context(&self) -> Context {
        let mut cx = Context::new(&self.cache);
        cx.root = self.root.clone();
        cx.node = Arc::new(json!({"fqdn": "host.example"}));
        cx
    }

    fn run(&self, resource: &Value, pre_state: &Value, expected: &Value) -> Outcome {
        let decl = declaration(resource);
        let sources = SandboxSources { sandbox: self };
        let action: Action = match resource["action"].as_str().unwrap_or("nothing").parse() {
            Ok(a) => a,
            Err(e) => return Outcome::Fail(e.to_string()),
        };
        let built = build::build(&decl, &sources);
        let mut cx = self.context();
        if let Err(why) = package_case(self, pre_state, &mut cx) {
            return Outcome::Fail(why);
        }
        let played = built.and_then(|r| {
            let played = play(r.as_ref(), action, &mut cx)?;
            if let Played::Checked {
                up_to_date: false, ..
            } = played
            {
                if converges_to_fixed_state(r.as_ref(), action) {
                    self.converge_twice(r.as_ref(), action, &mut cx)?;
                }
            }
            Ok(played)
        });
        compare(played, expected)
    }

    /// Applies the plan, then checks again: the second plan must be empty.
    fn converge_twice(&self, r: &dyn Resource, action: Action, cx: &mut Context) -> Result<()> {
        let plan = r.check(action, cx)?;
        r.apply(action, plan, cx)?;
        let again = r.check(action, cx)?;
        if again.is_empty() {
            return Ok(());
        }
        let left: Vec<_> = again
            .changes
            .iter()
            .map(|c| c.description.clone())
            .collect();
        Err(Error::resource(
            "NotIdempotent",
            format!("second check still wants: {left:?}"),
        ))
    }
}

/// Actions that always act (touch, execute, log) have no fixed state to converge to.
fn converges_to_fixed_state(r: &dyn Resource, action: Action) -> bool {
    r.counts_as_update()
        && matches!(
            action,
            Action::Create | Action::CreateIfMissing | Action::Delete
        )
}

/// Guards as the runner evaluates them, then `check`.
fn play(r: &dyn Resource, action: Action, cx: &mut Context) -> Result<Played> {
    if action == Action::Nothing {
        return Ok(Played::Skipped);
    }
    let inherited = r.guard_defaults();
    let guards = &r.common().guards;
    let ordered = guards
        .iter()
        .filter(|g| g.kind == GuardKind::OnlyIf)
        .chain(guards.iter().filter(|g| g.kind == GuardKind::NotIf));
    for guard in ordered {
        if !guard.allows(&inherited, cx)? {
            return Ok(Played::Skipped);
        }
    }
    let plan = r.check(action, cx)?;
    Ok(Played::Checked {
        up_to_date: plan.is_empty() || !r.counts_as_update(),
        descriptions: plan.changes.iter().map(|c| c.description.clone()).collect(),
    })
}

fn compare(played: Result<Played>, expected: &Value) -> Outcome {
    match (played, expected["error"].as_str()) {
        (Err(e), Some(class)) if e.class() == class => Outcome::Pass,
        (Err(e), Some(class)) => {
            Outcome::Fail(format!("expected error {class}, got {}: {e}", e.class()))
        }
        (Err(e), None) => Outcome::Fail(format!("unexpected error {}: {e}", e.class())),
        (Ok(_), Some(class)) => Outcome::Fail(format!("expected error {class}, got none")),
        (Ok(Played::Skipped), None) => {
            if expected["skipped"].as_bool() == Some(true) {
                Outcome::Pass
            } else {
                Outcome::Fail("skipped by a guard, not expected".into())
            }
        }
        (
            Ok(Played::Checked {
                up_to_date,
                descriptions,
            }),
            None,
        ) => {
            if expected["skipped"].as_bool() == Some(true) {
                return Outcome::Fail("expected a guard to skip the action".into());
            }
            if let Some(want) = expected["up_to_date"].as_bool() {
                if want != up_to_date {
                    return Outcome::Fail(format!(
                        "expected up_to_date {want}, got {up_to_date} ({descriptions:?})"
                    ));
                }
            }
            if let Some(want) = expected["descriptions"].as_array() {
                let want: Vec<&str> = want.iter().filter_map(Value::as_str).collect();
                if want != descriptions {
                    return Outcome::Fail(format!(
                        "expected descriptions {want:?}, got {descriptions:?}"
                    ));
                }
            }
            Outcome::Pass
        }
    }
}

/// A declaration from the case's resource: its properties, plus guards given beside them.
fn declaration(resource: &Value) -> ResourceDecl {
    let location = SourceLocation::new("acceptance/idempotence.json", 0, 0);
    let prop = |value: &Value| PropValue {
        value: value.clone(),
        location: location.clone(),
    };
    let mut properties = indexmap::IndexMap::new();
    if let Some(map) = resource["properties"].as_object() {
        for (k, v) in map {
            properties.insert(k.clone(), prop(v));
        }
    }
    for guard in ["only_if", "not_if"] {
        if !resource[guard].is_null() {
            properties.insert(guard.to_string(), prop(&resource[guard]));
        }
    }
    ResourceDecl {
        kind: resource["type"].as_str().unwrap_or("").to_string(),
        name: resource["name"].as_str().unwrap_or("").to_string(),
        properties,
        location: location.clone(),
        cookbook: "acceptance".into(),
        recipe: "default".into(),
    }
}

/// Cookbook files and templates looked up inside the sandbox.
struct SandboxSources<'a> {
    sandbox: &'a Sandbox,
}

impl Sources for SandboxSources<'_> {
    fn cookbook_file(
        &self,
        cookbook: &str,
        segment: Segment,
        source: &str,
        location: &SourceLocation,
    ) -> Result<PathBuf> {
        let dir = match segment {
            Segment::Templates => "templates",
            Segment::Files => "files",
        };
        let logical = PathBuf::from(format!("/cookbooks/{cookbook}/{dir}/default/{source}"));
        let host = self.sandbox.host(&logical);
        if host.is_file() {
            return Ok(host);
        }
        Err(Error::compile_as(
            "Chef::Exceptions::FileNotFound",
            location.clone(),
            format!("cookbook_file {source} not found in {}", logical.display()),
        ))
    }

    fn template(&self, path: &Path, _location: &SourceLocation) -> Result<Arc<dyn TemplateEngine>> {
        // Cookbook sources arrive as sandbox paths already; `local` ones as paths on the host.
        let host = if path.starts_with(&self.sandbox.root) {
            path.to_path_buf()
        } else {
            self.sandbox.host(path)
        };
        let text = std::fs::read_to_string(&host).map_err(|e| Error::io(&host, e))?;
        skillet::template::compile_source(path, &text)
    }
}

/// Package state for package and apt_update cases: `packages: name -> {installed, candidate}`
/// is given to the run's package cache (so the decision never asks the host), and
/// `files_mtime_age_seconds: path -> age` makes those files that old.
fn package_case(sandbox: &Sandbox, pre_state: &Value, cx: &mut Context) -> Result<(), String> {
    if let Some(packages) = pre_state["packages"].as_object() {
        for (name, state) in packages {
            cx.packages.preset(
                name,
                state["installed"].as_str(),
                state["candidate"].as_str(),
            );
        }
    }
    if let Some(ages) = pre_state["files_mtime_age_seconds"].as_object() {
        for (path, age) in ages {
            let host = sandbox.host(Path::new(path));
            let err = |e: std::io::Error| format!("pre_state {path}: {e}");
            if let Some(parent) = host.parent() {
                std::fs::create_dir_all(parent).map_err(err)?;
            }
            let file = std::fs::File::create(&host).map_err(err)?;
            let age = std::time::Duration::from_secs(age.as_u64().unwrap_or(0));
            file.set_modified(std::time::SystemTime::now() - age)
                .map_err(err)?;
        }
    }
    Ok(())
}

// ---- service, user, group, cron, sysctl: pre_state as host files and caches ----

/// Types whose `pre_state` describes accounts, services, crontabs and kernel parameters.
const ACCOUNT_AND_SERVICE_TYPES: &[&str] = &[
    "service",
    "user",
    "linux_user",
    "group",
    "cron",
    "cron_d",
    "sysctl",
];

/// Lays the case's host state down (passwd/group/crontab/sysctl as files under the sandbox
/// root, systemd unit states into the context's cache), then guards and `check`. Nothing is
/// applied for users, groups and services (root tools, a service manager; unit tests cover them
/// under temp roots); cron and sysctl are applied and checked again, as for files.
fn run_account_or_service_case(input: &Value, expected: &Value) -> Outcome {
    let sandbox = match Sandbox::new(&input["pre_state"]) {
        Ok(s) => s,
        Err(why) => return Outcome::Fail(why),
    };
    let pre = &input["pre_state"];
    let mut cx = sandbox.context();
    if let Err(why) = lay_down_host_state(&sandbox, pre, &mut cx) {
        return Outcome::Fail(why);
    }
    let resource = &input["resource"];
    let action: Action = match resource["action"].as_str().unwrap_or("nothing").parse() {
        Ok(a) => a,
        Err(e) => return Outcome::Fail(e.to_string()),
    };
    let sources = SandboxSources { sandbox: &sandbox };
    let played = build::build(&declaration(resource), &sources).and_then(|r| {
        let played = play(r.as_ref(), action, &mut cx)?;
        let changed = matches!(
            played,
            Played::Checked {
                up_to_date: false,
                ..
            }
        );
        if changed && converges_without_privileges(resource, action) {
            sandbox.converge_twice(r.as_ref(), action, &mut cx)?;
        }
        Ok(played)
    });
    compare(played, expected)
}

/// cron (spool file), cron_d and sysctl (/proc/sys and the 99-chef file) converge entirely
/// inside the sandbox; users, groups and services need root tools or a service manager.
fn converges_without_privileges(resource: &Value, action: Action) -> bool {
    let kind = resource["type"].as_str().unwrap_or("");
    matches!(kind, "cron" | "cron_d" | "sysctl")
        && matches!(action, Action::Create | Action::Delete | Action::Apply)
}

fn lay_down_host_state(sandbox: &Sandbox, pre: &Value, cx: &mut Context) -> Result<(), String> {
    use skillet::platform::services::{InitSystem, UnitState};
    let write = |logical: &str, text: &str| -> Result<(), String> {
        sandbox.lay_down(Path::new(logical), &json!({ "content": text }))
    };
    if let Some(units) = pre["systemd"].as_object() {
        cx.services.init_system = Some(InitSystem::Systemd);
        for (unit, state) in units {
            let field = |k: &str| state[k].as_str().unwrap_or("").to_string();
            cx.services.units.insert(
                unit.clone(),
                UnitState::new(&field("UnitFileState"), &field("ActiveState")),
            );
        }
    }
    if let Some(users) = pre["passwd"].as_object() {
        write("/etc/passwd", &passwd_lines(users))?;
    }
    if let Some(groups) = pre["group"].as_object() {
        write("/etc/group", &group_lines(groups))?;
    }
    for (key, value) in pre["sysctl_live"].as_object().into_iter().flatten() {
        let logical = format!("/proc/sys/{}", key.replace('.', "/"));
        write(&logical, &format!("{}\n", value.as_str().unwrap_or("")))?;
    }
    for (path, content) in pre["files"].as_object().into_iter().flatten() {
        write(path, content.as_str().unwrap_or(""))?;
    }
    for (user, content) in pre["crontab"].as_object().into_iter().flatten() {
        write(
            &format!("/var/spool/cron/crontabs/{user}"),
            content.as_str().unwrap_or(""),
        )?;
    }
    Ok(())
}

fn passwd_lines(users: &serde_json::Map<String, Value>) -> String {
    let text = |v: &Value, k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    users
        .iter()
        .map(|(name, u)| {
            format!(
                "{name}:x:{}:{}:{}:{}:{}\n",
                text(u, "uid"),
                text(u, "gid"),
                text(u, "comment"),
                text(u, "home"),
                text(u, "shell")
            )
        })
        .collect()
}

fn group_lines(groups: &serde_json::Map<String, Value>) -> String {
    groups
        .iter()
        .map(|(name, g)| {
            let members: Vec<&str> = g["members"]
                .as_array()
                .map(|m| m.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!("{name}:x:{}:{}\n", g["gid"], members.join(","))
        })
        .collect()
}
