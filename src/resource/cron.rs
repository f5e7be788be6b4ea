//! `cron`: one job in a user's crontab, owned through a `# Chef Name: <name>` comment line
//! above it (Chef's `Chef::Provider::Cron`).
//!
//! `check` reads the crontab (the spool file, once per check; no `crontab -l`), finds the
//! block, and compares the fields Chef compares; `apply` writes the whole crontab back.

use super::build::Sources;
use super::properties::Properties;
use super::{Action, Change, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, Result};
use crate::platform::cron::{self, CronJob, SPECIAL_TIMES};
use serde_json::Value;

/// Properties of `cron`.
pub const PROPERTIES: &[&str] = &[
    "minute",
    "hour",
    "day",
    "month",
    "weekday",
    "time",
    "command",
    "user",
    "mailto",
    "path",
    "home",
    "shell",
    "environment",
    "time_out",
];

/// Actions of `cron`.
pub const ACTIONS: &[Action] = &[Action::Create, Action::Delete];

/// Reads the schedule and environment properties `cron` and `cron_d` share.
pub fn read_job(props: &Properties<'_>) -> Result<CronJob> {
    let mut job = CronJob::new();
    for (name, slot) in [
        ("minute", &mut job.minute),
        ("hour", &mut job.hour),
        ("day", &mut job.day),
        ("month", &mut job.month),
        ("weekday", &mut job.weekday),
    ] {
        if let Some(value) = scalar(props, name)? {
            *slot = value;
        }
    }
    job.weekday = weekday_in_crontab(&job.weekday);
    job.time = props.choice("time", SPECIAL_TIMES)?.map(str::to_string);
    job.command = props.string("command")?;
    job.mailto = props.string("mailto")?;
    job.path = props.string("path")?;
    job.home = props.string("home")?;
    job.shell = props.string("shell")?;
    job.environment = props.string_map("environment")?.unwrap_or_default();
    Ok(job)
}

/// A string or integer property as text.
fn scalar(props: &Properties<'_>, name: &str) -> Result<Option<String>> {
    match props.get(name) {
        None => Ok(None),
        Some(p) => match &p.value {
            Value::String(s) => Ok(Some(s.trim_start_matches(':').to_string())),
            Value::Number(n) => Ok(Some(n.to_string())),
            _ => Err(super::properties::type_error(
                name,
                "a string or integer",
                p,
            )),
        },
    }
}

/// Chef's weekday coercion: day names (`monday`, `mon`) become their numbers.
pub fn weekday_in_crontab(day: &str) -> String {
    const DAYS: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    let lower = day.to_ascii_lowercase();
    DAYS.iter()
        .position(|d| *d == lower || d[..3] == lower)
        .map(|i| i.to_string())
        .unwrap_or_else(|| day.to_string())
}

/// `time_out` as the ` timeout [options] DURATION;` prefix of the command.
fn read_time_out(props: &Properties<'_>) -> Result<String> {
    let Some(prop) = props.get("time_out") else {
        return Ok(String::new());
    };
    let map: Vec<(String, String)> = match &prop.value {
        Value::Number(n) => vec![("duration".into(), n.to_string())],
        Value::String(s) => vec![("duration".into(), s.clone())],
        _ => props.string_map("time_out")?.unwrap_or_default(),
    };
    let get = |k: &str| {
        map.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let mut out = " timeout".to_string();
    if get("preserve-status").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        out.push_str(" --preserve-status");
    }
    if get("foreground").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        out.push_str(" --foreground");
    }
    if let Some(v) = get("kill-after") {
        out.push_str(&format!(" --kill-after {v}"));
    }
    if let Some(v) = get("signal") {
        out.push_str(&format!(" --signal {v}"));
    }
    out.push_str(&format!(" {};", get("duration").unwrap_or("")));
    Ok(out)
}

/// Chef's `cron_different?`: any compared field differs (environment as a map).
pub fn job_differs(want: &CronJob, current: &CronJob) -> bool {
    let mut want_env = want.environment.clone();
    let mut cur_env = current.environment.clone();
    want_env.sort();
    cur_env.sort();
    want.minute != current.minute
        || want.hour != current.hour
        || want.day != current.day
        || want.month != current.month
        || want.weekday != current.weekday
        || want.time != current.time
        || want.command != current.command
        || want.mailto != current.mailto
        || want.path != current.path
        || want.shell != current.shell
        || want.home != current.home
        || want_env != cur_env
}

/// `cron "backup"`.
#[derive(Debug)]
pub struct CronResource {
    id: ResourceId,
    common: Common,
    job: CronJob,
    user: String,
    time_out: String,
}

/// Builds a `cron`.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    _sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    Ok(Box::new(CronResource {
        id: ResourceId::new("cron", &decl.name),
        common,
        job: read_job(&props)?,
        user: props.string("user")?.unwrap_or_else(|| "root".into()),
        time_out: read_time_out(&props)?,
    }))
}

/// The crontab `apply` installs.
#[derive(Debug)]
struct CronPlan {
    crontab: String,
}

impl CronResource {
    fn name(&self) -> &str {
        &self.id.name
    }

    /// The new crontab and Chef's line for `action`; `None` when up to date.
    pub fn decide(
        &self,
        action: Action,
        crontab: Option<&str>,
    ) -> Result<Option<(String, String)>> {
        let current = crontab.and_then(|t| cron::find_job(t, self.name()));
        match action {
            Action::Create => self.decide_create(crontab, current.as_ref()),
            Action::Delete => Ok(match (crontab, current) {
                (Some(text), Some(_)) => {
                    let (rest, ended_in_block) = cron::remove_block(text, self.name());
                    // Chef's wording: its loop only still "finds" the entry when the Chef
                    // comment was the crontab's last line, and says "save unmodified" otherwise.
                    let line = if ended_in_block {
                        format!("remove {} from crontab", self.name())
                    } else {
                        "save unmodified crontab".to_string()
                    };
                    Some((line, rest))
                }
                _ => None,
            }),
            _ => Ok(None),
        }
    }

    fn decide_create(
        &self,
        crontab: Option<&str>,
        current: Option<&CronJob>,
    ) -> Result<Option<(String, String)>> {
        if self.job.command.is_none() {
            return Err(Error::resource(
                "Chef::Exceptions::ValidationFailed",
                "command is a required property",
            ));
        }
        let block = cron::render_block(self.name(), &self.job, &self.time_out);
        match (crontab, current) {
            (Some(_), Some(c)) if c.command.is_some() && !job_differs(&self.job, c) => Ok(None),
            (Some(text), Some(_)) => Ok(Some((
                format!("update crontab entry for {}", self.id),
                cron::replace_block(text, self.name(), &block),
            ))),
            (text, None) => Ok(Some((
                format!("add crontab entry for {}", self.id),
                format!("{}{block}", text.unwrap_or("")),
            ))),
            (None, Some(_)) => Ok(None),
        }
    }
}

impl Resource for CronResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        let crontab = cron::read_crontab(&cx.root, &self.user)?;
        let mut plan = Plan::up_to_date();
        if let Some((line, new_crontab)) = self.decide(action, crontab.as_deref())? {
            plan.push(Change::new(line));
            plan.set_payload(CronPlan {
                crontab: new_crontab,
            });
        }
        Ok(plan)
    }

    fn apply(&self, _action: Action, mut plan: Plan, cx: &mut Context) -> Result<()> {
        let Some(cron_plan) = plan.take_payload::<CronPlan>() else {
            return Err(Error::resource(
                "Chef::Exceptions::Internal",
                format!("no crontab for {}", self.id),
            ));
        };
        cron::write_crontab(&cx.root, &self.user, &cron_plan.crontab, &cx.command_env())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::Host;
    use serde_json::json;

    fn backup(host: &Host, props: Value) -> Box<dyn Resource> {
        host.build("cron", "backup", props).unwrap()
    }

    #[test]
    fn weekday_names_become_numbers() {
        assert_eq!(weekday_in_crontab("Monday"), "1");
        assert_eq!(weekday_in_crontab("sun"), "0");
        assert_eq!(weekday_in_crontab("1-5"), "1-5");
    }

    #[test]
    fn identical_fields_are_up_to_date_and_a_change_rewrites_the_block() {
        let mut host = Host::new();
        host.write(
            "/var/spool/cron/crontabs/root",
            "MAILTO=ops\n# Chef Name: backup\n0 2 * * * /usr/local/bin/backup\n@hourly /bin/other\n",
        );
        let same = backup(
            &host,
            json!({"minute": 0, "hour": "2", "command": "/usr/local/bin/backup"}),
        );
        assert!(host.check(same.as_ref(), Action::Create).is_empty());
        let later = backup(
            &host,
            json!({"minute": "30", "hour": "2", "command": "/usr/local/bin/backup"}),
        );
        assert_eq!(
            host.converge(later.as_ref(), Action::Create).unwrap(),
            ["update crontab entry for cron[backup]"]
        );
        assert_eq!(
            host.read("/var/spool/cron/crontabs/root"),
            "MAILTO=ops\n# Chef Name: backup\n30 2 * * * /usr/local/bin/backup\n@hourly /bin/other\n"
        );
        assert!(host.check(later.as_ref(), Action::Create).is_empty());
    }

    #[test]
    fn a_missing_entry_is_added_and_delete_removes_it() {
        let mut host = Host::new();
        let r = backup(
            &host,
            json!({"hour": "3", "command": "/bin/b", "mailto": "a@b", "user": "bob"}),
        );
        assert_eq!(
            host.converge(r.as_ref(), Action::Create).unwrap(),
            ["add crontab entry for cron[backup]"]
        );
        assert_eq!(
            host.read("/var/spool/cron/crontabs/bob"),
            "# Chef Name: backup\nMAILTO=\"a@b\"\n* 3 * * * /bin/b\n"
        );
        assert!(host.check(r.as_ref(), Action::Create).is_empty());
        assert_eq!(
            host.converge(r.as_ref(), Action::Delete).unwrap(),
            ["save unmodified crontab"]
        );
        assert_eq!(host.read("/var/spool/cron/crontabs/bob"), "");
        assert!(host.check(r.as_ref(), Action::Delete).is_empty());
    }

    #[test]
    fn create_without_command_is_a_validation_error() {
        let mut host = Host::new();
        let r = backup(&host, json!({}));
        let err = r.check(Action::Create, &mut host.cx).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::ValidationFailed");
    }
}
