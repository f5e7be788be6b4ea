//! `sysctl`: a kernel parameter, set live and persisted in
//! `/etc/sysctl.d/99-chef-<key>.conf` (Chef's `sysctl` custom resource).
//!
//! Chef's `load_current_value` only counts the parameter as existing when the live value
//! (`sysctl -n -e`, tabs as spaces, trimmed) equals the value recorded in the 99-chef file;
//! `converge_if_changed` then compares `value`. The live value is read from
//! `/proc/sys/<key with dots as slashes>` and set by writing there (what `sysctl -w` does).

use super::build::Sources;
use super::properties::Properties;
use super::{Action, Change, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, IoContext, Result};
use crate::platform::command::CommandLine;
use crate::platform::fs::{self, Ownership};
use crate::platform::services::simple;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Properties of `sysctl`.
pub const PROPERTIES: &[&str] = &["key", "value", "comment", "conf_dir", "ignore_error"];

/// Actions of `sysctl`.
pub const ACTIONS: &[Action] = &[Action::Apply, Action::Remove];

/// Where Chef looks for the recorded value, whatever `conf_dir` says.
const RECORD_DIR: &str = "/etc/sysctl.d";

/// `sysctl "vm.swappiness"`.
#[derive(Debug)]
pub struct SysctlResource {
    id: ResourceId,
    common: Common,
    key: String,
    value: Option<String>,
    comment: Vec<String>,
    conf_dir: String,
    conf_dir_given: bool,
    key_given: bool,
    ignore_error: bool,
}

/// Chef's value coercion: arrays joined by spaces, everything else `to_s`.
fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => items
            .iter()
            .map(value_text)
            .collect::<Option<Vec<_>>>()
            .map(|parts| parts.join(" ")),
        _ => None,
    }
}

/// Builds a `sysctl`; `key` defaults to the name.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    _sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    let value = match props.get("value") {
        None => None,
        Some(p) => Some(value_text(&p.value).ok_or_else(|| {
            super::properties::type_error("value", "a string, number or array", p)
        })?),
    };
    let comment = match props.get("comment").map(|p| &p.value) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(_) => props.string("comment")?.into_iter().collect(),
        None => Vec::new(),
    };
    let conf_dir = props.string("conf_dir")?;
    let key = props.string("key")?;
    Ok(Box::new(SysctlResource {
        id: ResourceId::new("sysctl", &decl.name),
        common,
        key_given: key.is_some(),
        key: key.unwrap_or_else(|| decl.name.clone()),
        value,
        comment,
        conf_dir_given: conf_dir.is_some(),
        conf_dir: conf_dir.unwrap_or_else(|| RECORD_DIR.to_string()),
        ignore_error: props.bool("ignore_error")?.unwrap_or(false),
    }))
}

/// The live value as `sysctl -n -e` prints it (tabs as spaces, trimmed); `None` if unknown.
pub fn live_value(root: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(proc_path(root, key)).ok()?;
    Some(text.replace('\t', " ").trim().to_string())
}

/// `/proc/sys/<key with dots as slashes>` under `root`.
pub fn proc_path(root: &Path, key: &str) -> PathBuf {
    root.join("proc/sys").join(key.replace('.', "/"))
}

/// The value in a 99-chef file: the first `k = v` line, split at its last ` = `.
pub fn recorded_value(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.contains(" = "))?;
    let (_, value) = line.rsplit_once(" = ")?;
    Some(value.to_string())
}

/// What `apply` carries out.
#[derive(Debug)]
enum SysctlPlan {
    Apply { conf_file: PathBuf, content: String },
    Remove { conf_file: PathBuf },
}

impl SysctlResource {
    fn file_name(&self) -> String {
        format!("99-chef-{}.conf", self.key.replace('/', "."))
    }

    fn conf_file(&self) -> PathBuf {
        Path::new(&self.conf_dir).join(self.file_name())
    }

    /// Chef's `load_current_value`: the live value, if it matches the recorded one.
    fn current_value(&self, cx: &Context) -> Option<String> {
        let live = live_value(&cx.root, &self.key)?;
        let record = cx.host_path(&Path::new(RECORD_DIR).join(self.file_name()));
        let recorded = recorded_value(&std::fs::read_to_string(record).ok()?)?;
        (live == recorded).then_some(live)
    }

    /// The file Chef writes: comment lines, then `key = value`.
    fn content(&self, value: &str) -> String {
        let mut lines: Vec<String> = self
            .comment
            .iter()
            .map(|c| format!("# {}", c.trim()))
            .collect();
        lines.push(format!("{} = {value}", self.key));
        lines.join("\n") + "\n"
    }

    /// `converge_if_changed`'s lines: `update KEY` with the changed value, or `create KEY`
    /// with every state property when the current value does not exist.
    pub fn describe(&self, want: &str, current: Option<&str>) -> Option<Vec<String>> {
        match current {
            Some(cur) if cur == want => None,
            Some(cur) => Some(vec![
                format!("update {}", self.key),
                format!("  set value to {want:?} (was {cur:?})"),
            ]),
            None => {
                let default = |given: bool| if given { "" } else { " (default value)" };
                Some(vec![
                    format!("create {}", self.key),
                    format!(
                        "  set key      to {:?}{}",
                        self.key,
                        default(self.key_given)
                    ),
                    format!("  set value    to {want:?}"),
                    format!(
                        "  set conf_dir to {:?}{}",
                        self.conf_dir,
                        default(self.conf_dir_given)
                    ),
                ])
            }
        }
    }

    fn set_live(&self, cx: &Context, value: &str) -> Result<()> {
        let path = proc_path(&cx.root, &self.key);
        match std::fs::write(&path, value) {
            Ok(()) => Ok(()),
            Err(_) if self.ignore_error => Ok(()),
            Err(e) => Err(Error::resource(
                "Mixlib::ShellOut::ShellCommandFailed",
                format!(
                    "sysctl -w \"{}={value}\" failed: cannot set {}: {e}",
                    self.key,
                    path.display()
                ),
            )),
        }
    }

    /// `sysctl -p` as Chef runs it after writing the file (only on a real host, and only
    /// when /etc/sysctl.conf exists for it to load).
    fn load_values(&self, cx: &Context) -> Result<()> {
        if cx.root != Path::new("/") || !Path::new("/etc/sysctl.conf").exists() {
            return Ok(());
        }
        let flag = if self.ignore_error { "-e " } else { "" };
        simple::run(
            &CommandLine::Shell(format!("sysctl {flag}-p")),
            &cx.command_env(),
        )
    }
}

impl Resource for SysctlResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        let mut plan = Plan::up_to_date();
        match action {
            Action::Apply => {
                let Some(want) = &self.value else {
                    return Err(Error::resource(
                        "Chef::Exceptions::ValidationFailed",
                        "value is a required property",
                    ));
                };
                let current = self.current_value(cx);
                if let Some(lines) = self.describe(want, current.as_deref()) {
                    lines.into_iter().for_each(|l| plan.push(Change::new(l)));
                    plan.set_payload(SysctlPlan::Apply {
                        conf_file: self.conf_file(),
                        content: self.content(want),
                    });
                }
            }
            Action::Remove => {
                let conf_file = self.conf_file();
                if cx.host_path(&conf_file).exists() {
                    plan.push(Change::new(format!(
                        "removing sysctl config at {}",
                        conf_file.display()
                    )));
                    plan.set_payload(SysctlPlan::Remove { conf_file });
                }
            }
            _ => {}
        }
        Ok(plan)
    }

    fn apply(&self, _action: Action, mut plan: Plan, cx: &mut Context) -> Result<()> {
        match plan.take_payload::<SysctlPlan>() {
            Some(SysctlPlan::Apply { conf_file, content }) => {
                if let Some(value) = &self.value {
                    self.set_live(cx, value)?;
                }
                let dest = cx.host_path(&conf_file);
                if let Some(dir) = dest.parent() {
                    std::fs::create_dir_all(dir).with_path(dir)?;
                }
                let staged = fs::staging_path(&dest);
                fs::stage_and_rename(
                    &dest,
                    &staged,
                    content.as_bytes(),
                    Ownership::default(),
                    &|_| Ok(()),
                )?;
                self.load_values(cx)
            }
            Some(SysctlPlan::Remove { conf_file }) => {
                let dest = cx.host_path(&conf_file);
                std::fs::remove_file(&dest).with_path(&dest)?;
                self.load_values(cx)
            }
            None => Err(Error::resource(
                "Chef::Exceptions::Internal",
                format!("no sysctl plan for {}", self.id),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::Host;
    use serde_json::json;

    fn host_with(live: Option<&str>, recorded: Option<&str>) -> Host {
        let host = Host::new();
        if let Some(v) = live {
            host.write("/proc/sys/vm/swappiness", &format!("{v}\n"));
        }
        if let Some(v) = recorded {
            host.write(
                "/etc/sysctl.d/99-chef-vm.swappiness.conf",
                &format!("vm.swappiness = {v}\n"),
            );
        }
        host
    }

    #[test]
    fn up_to_date_only_when_live_recorded_and_wanted_agree() {
        let mut host = host_with(Some("10"), Some("10"));
        let r = host
            .build("sysctl", "vm.swappiness", json!({"value": 10}))
            .unwrap();
        assert!(host.check(r.as_ref(), Action::Apply).is_empty());
        let mut host = host_with(Some("10"), None);
        assert_eq!(
            host.check(r.as_ref(), Action::Apply),
            [
                "create vm.swappiness",
                "  set key      to \"vm.swappiness\" (default value)",
                "  set value    to \"10\"",
                "  set conf_dir to \"/etc/sysctl.d\" (default value)",
            ]
        );
        let mut host = host_with(Some("60"), Some("60"));
        assert_eq!(
            host.check(r.as_ref(), Action::Apply),
            ["update vm.swappiness", "  set value to \"10\" (was \"60\")"]
        );
    }

    #[test]
    fn live_values_have_tabs_as_spaces_and_arrays_are_joined() {
        let host = Host::new();
        host.write("/proc/sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
        assert_eq!(
            live_value(&host.cx.root, "net.ipv4.ip_local_port_range").as_deref(),
            Some("32768 60999")
        );
        assert_eq!(
            value_text(&json!([1024, 65000])).as_deref(),
            Some("1024 65000")
        );
        assert_eq!(recorded_value("# c\nk = 1 2\n").as_deref(), Some("1 2"));
    }

    #[test]
    fn apply_sets_the_live_value_and_writes_the_file_then_remove_deletes_it() {
        let mut host = host_with(Some("60"), None);
        let r = host
            .build(
                "sysctl",
                "vm.swappiness",
                json!({"value": "10", "comment": ["low swap"]}),
            )
            .unwrap();
        host.converge(r.as_ref(), Action::Apply).unwrap();
        assert_eq!(host.read("/proc/sys/vm/swappiness"), "10");
        assert_eq!(
            host.read("/etc/sysctl.d/99-chef-vm.swappiness.conf"),
            "# low swap\nvm.swappiness = 10\n"
        );
        assert!(host.check(r.as_ref(), Action::Apply).is_empty());
        assert_eq!(
            host.converge(r.as_ref(), Action::Remove).unwrap(),
            ["removing sysctl config at /etc/sysctl.d/99-chef-vm.swappiness.conf"]
        );
        assert!(host.check(r.as_ref(), Action::Remove).is_empty());
    }
}
