//! `apt_update`: refreshes apt's package lists (Chef's `apt_update` resource).
//!
//! `:periodic` (the default) runs `apt-get -q update` only when the success stamp
//! `/var/lib/apt/periodic/update-success-stamp` is missing or older than `frequency` seconds;
//! `:update` always runs. An update also makes sure the APT hook that touches the stamp
//! (`/etc/apt/apt.conf.d/15update-stamp`) exists, and touches the stamp itself on success so the
//! next check is up to date even where the hook does not run.

use super::build::Sources;
use super::properties::Properties;
use super::{Action, Change, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, Result};
use crate::platform::packages::apt::{self, RunOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Properties of `apt_update`.
pub const PROPERTIES: &[&str] = &["frequency"];

/// Actions of `apt_update`.
pub const ACTIONS: &[Action] = &[Action::Periodic, Action::Update];

/// The success stamp apt's hook touches.
pub const STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";

/// The APT configuration file holding the hook.
pub const HOOK: &str = "/etc/apt/apt.conf.d/15update-stamp";

/// The hook's content, as Chef writes it.
const HOOK_CONTENT: &str =
    "APT::Update::Post-Invoke-Success {\"touch /var/lib/apt/periodic/update-success-stamp 2>/dev/null || true\";};\n";

/// Chef's default `frequency`: one day.
const DEFAULT_FREQUENCY: u64 = 86_400;

/// `apt_update` (its name defaults to the empty string: `apt_update[]`).
#[derive(Debug)]
pub struct AptUpdateResource {
    id: ResourceId,
    common: Common,
    frequency: Duration,
}

/// Builds an `apt_update`.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    _sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    let frequency = props.u32("frequency")?.map_or(DEFAULT_FREQUENCY, u64::from);
    Ok(Box::new(AptUpdateResource {
        id: ResourceId::new("apt_update", &decl.name),
        common,
        frequency: Duration::from_secs(frequency),
    }))
}

/// Whether the stamp at `stamp` is younger than `frequency` at `now`.
pub fn stamp_is_fresh(stamp: &Path, frequency: Duration, now: SystemTime) -> bool {
    let Ok(modified) = std::fs::metadata(stamp).and_then(|m| m.modified()) else {
        return false;
    };
    match now.duration_since(modified) {
        Ok(age) => age < frequency,
        // A stamp from the future counts as fresh, as Chef's `mtime > now - frequency` does.
        Err(_) => true,
    }
}

impl AptUpdateResource {
    fn update(&self, cx: &mut Context) -> Result<()> {
        let stamp = cx.host_path(Path::new(STAMP));
        let hook = cx.host_path(Path::new(HOOK));
        for dir in [stamp.parent(), hook.parent()].into_iter().flatten() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        if !hook.exists() {
            std::fs::write(&hook, HOOK_CONTENT).map_err(|e| Error::io(&hook, e))?;
        }
        let run = RunOptions {
            timeout: Duration::from_secs(3600),
            ..Default::default()
        };
        let argv = vec!["apt-get".to_string(), "-q".into(), "update".into()];
        let result = apt::run_noninteractive(argv, &run, &cx.command_env());
        cx.packages.forget_candidates();
        result?;
        touch(&stamp)
    }
}

fn touch(path: &PathBuf) -> Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::now()))
        .map_err(|e| Error::io(path, e))
}

impl Resource for AptUpdateResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        let line = match action {
            Action::Update => "force update new lists of packages",
            Action::Periodic => {
                let stamp = cx.host_path(Path::new(STAMP));
                if stamp_is_fresh(&stamp, self.frequency, SystemTime::now()) {
                    return Ok(Plan::up_to_date());
                }
                "update new lists of packages"
            }
            _ => return Ok(Plan::up_to_date()),
        };
        let mut plan = Plan::up_to_date();
        plan.push(Change::new(line));
        Ok(plan)
    }

    fn apply(&self, _action: Action, _plan: Plan, cx: &mut Context) -> Result<()> {
        self.update(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::Host;
    use serde_json::json;

    fn set_age(path: &Path, age: Duration) {
        let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn periodic_runs_when_the_stamp_is_missing_or_old() {
        let mut host = Host::new();
        let r = host.build("apt_update", "", json!({})).unwrap();
        assert_eq!(r.id(), &ResourceId::new("apt_update", ""));
        assert_eq!(
            host.check(r.as_ref(), Action::Periodic),
            ["update new lists of packages"]
        );
        host.write(STAMP, "");
        assert!(host.check(r.as_ref(), Action::Periodic).is_empty());
        set_age(&host.path(STAMP), Duration::from_secs(90_000));
        assert_eq!(host.check(r.as_ref(), Action::Periodic).len(), 1);
    }

    #[test]
    fn frequency_sets_the_age_limit() {
        let mut host = Host::new();
        host.write(STAMP, "");
        set_age(&host.path(STAMP), Duration::from_secs(120));
        let hourly = host
            .build("apt_update", "", json!({"frequency": 60}))
            .unwrap();
        assert_eq!(hourly.common().actions, [Action::Periodic]);
        assert_eq!(host.check(hourly.as_ref(), Action::Periodic).len(), 1);
        let daily = host.build("apt_update", "", json!({})).unwrap();
        assert!(host.check(daily.as_ref(), Action::Periodic).is_empty());
    }

    #[test]
    fn update_always_runs() {
        let mut host = Host::new();
        host.write(STAMP, "");
        let r = host.build("apt_update", "", json!({})).unwrap();
        assert_eq!(
            host.check(r.as_ref(), Action::Update),
            ["force update new lists of packages"]
        );
    }

    #[test]
    fn future_stamp_is_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let stamp = dir.path().join("s");
        std::fs::write(&stamp, "").unwrap();
        let earlier = SystemTime::now() - Duration::from_secs(10);
        assert!(stamp_is_fresh(&stamp, Duration::from_secs(1), earlier));
        assert!(!stamp_is_fresh(
            &dir.path().join("none"),
            Duration::from_secs(1),
            earlier
        ));
    }
}
