//! Debian init scripts: `/etc/init.d/<name>`, their LSB header, the `/etc/rc?.d` links that
//! update-rc.d makes, and pid files.
//!
//! Enablement is read from the links (Chef's Debian provider globs them too); a running
//! service is recognised from the pid file its script names when that pid is alive, so a no-op
//! run spawns nothing. Changes go through `update-rc.d` on a real host; under a different root
//! (a test's temp dir) the same links are made directly, because update-rc.d has no root
//! option.

use crate::error::{Error, IoContext, Result};
use crate::platform::command::{CommandEnv, CommandLine};
use crate::platform::services::simple;
use std::path::{Path, PathBuf};

/// Runlevels in which a start link counts as enabled (Chef's `RUNLEVELS`).
const ENABLED_RUNLEVELS: &[&str] = &["1", "2", "3", "4", "5", "S"];

/// What an init script's `### BEGIN INIT INFO` block and body say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitInfo {
    /// `Default-Start:` runlevels.
    pub default_start: Vec<String>,
    /// `Default-Stop:` runlevels.
    pub default_stop: Vec<String>,
    /// A literal `PIDFILE=/path` assignment in the script, if any.
    pub pidfile: Option<PathBuf>,
}

impl InitInfo {
    /// Parses a script's text.
    pub fn parse(script: &str) -> Self {
        let mut info = InitInfo::default();
        let mut in_info = false;
        for line in script.lines() {
            if line.starts_with("### BEGIN INIT INFO") {
                in_info = true;
            } else if line.starts_with("### END INIT INFO") {
                in_info = false;
            } else if in_info {
                if let Some(levels) = header_value(line, "Default-Start:") {
                    info.default_start = levels;
                } else if let Some(levels) = header_value(line, "Default-Stop:") {
                    info.default_stop = levels;
                }
            } else if info.pidfile.is_none() {
                info.pidfile = literal_pidfile(line);
            }
        }
        info
    }

    /// Every runlevel the header names, start levels first (where Chef looks for links).
    pub fn levels(&self) -> Vec<String> {
        self.default_start
            .iter()
            .chain(&self.default_stop)
            .cloned()
            .collect()
    }
}

fn header_value(line: &str, key: &str) -> Option<Vec<String>> {
    let rest = line
        .trim_start_matches('#')
        .trim_start()
        .strip_prefix(key)?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// `PIDFILE=/run/x.pid` (optionally quoted); paths built from variables are not followed.
fn literal_pidfile(line: &str) -> Option<PathBuf> {
    let value = line.trim().strip_prefix("PIDFILE=")?;
    let value = value
        .split_whitespace()
        .next()?
        .trim_matches(|c| c == '"' || c == '\'');
    (value.starts_with('/') && !value.contains('$')).then(|| PathBuf::from(value))
}

/// One `/etc/rcN.d/[SK]NNname` link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcLink {
    /// The runlevel (`2`, `S`).
    pub level: String,
    /// `S` (start) or `K` (kill).
    pub start: bool,
    /// The two-digit sequence number.
    pub priority: u8,
}

/// Parses a link name `S20nginx` for service `name`.
pub fn parse_link_name(level: &str, file_name: &str, name: &str) -> Option<RcLink> {
    let bytes = file_name.as_bytes();
    if bytes.len() != name.len() + 3 || !file_name.ends_with(name) {
        return None;
    }
    let start = match bytes[0] {
        b'S' => true,
        b'K' => false,
        _ => return None,
    };
    let priority = file_name.get(1..3)?.parse().ok()?;
    if !bytes[1].is_ascii_digit() || !bytes[2].is_ascii_digit() {
        return None;
    }
    Some(RcLink {
        level: level.to_string(),
        start,
        priority,
    })
}

/// The links for `name` in `<root>/etc/rc<level>.d` for each of `levels`.
pub fn rc_links(root: &Path, name: &str, levels: &[String]) -> Vec<RcLink> {
    let mut links = Vec::new();
    for level in levels {
        let dir = root.join(format!("etc/rc{level}.d"));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut found: Vec<RcLink> = entries
            .flatten()
            .filter_map(|e| parse_link_name(level, e.file_name().to_str()?, name))
            .collect();
        found.sort_by_key(|l| (l.start, l.priority));
        links.extend(found);
    }
    links
}

/// Chef's rule: enabled when some start link is in runlevel 1-5 or S.
pub fn is_enabled(links: &[RcLink]) -> bool {
    links
        .iter()
        .any(|l| l.start && ENABLED_RUNLEVELS.contains(&l.level.as_str()))
}

/// `Some(true)` when the pid file holds the pid of a live process; `None` when the file says
/// nothing certain (missing, empty, or a dead pid), so the caller asks the script.
pub fn pidfile_says_running(pidfile: &Path, proc_dir: &Path) -> Option<bool> {
    let text = std::fs::read_to_string(pidfile).ok()?;
    let pid: u32 = text.split_whitespace().next()?.parse().ok()?;
    proc_dir.join(pid.to_string()).is_dir().then_some(true)
}

/// Enables `name` as Chef does: `update-rc.d -f name remove`, then `update-rc.d name
/// defaults START STOP` with STOP = 100 - START.
pub fn enable(root: &Path, name: &str, start_priority: u8, env: &CommandEnv) -> Result<()> {
    let stop_priority = 100u8.saturating_sub(start_priority);
    if root == Path::new("/") {
        update_rc_d(&format!("-f {name} remove"), env)?;
        return update_rc_d(
            &format!("{name} defaults {start_priority} {stop_priority}"),
            env,
        );
    }
    remove_links(root, name)?;
    make_default_links(root, name, start_priority, stop_priority)
}

/// Disables `name` as Chef does: remove, defaults, then `update-rc.d name disable`.
pub fn disable(root: &Path, name: &str, env: &CommandEnv) -> Result<()> {
    if root == Path::new("/") {
        update_rc_d(&format!("-f {name} remove"), env)?;
        update_rc_d(&format!("{name} defaults"), env)?;
        return update_rc_d(&format!("{name} disable"), env);
    }
    remove_links(root, name)?;
    make_default_links(root, name, 20, 80)?;
    turn_start_links_into_kill_links(root, name)
}

fn update_rc_d(args: &str, env: &CommandEnv) -> Result<()> {
    simple::run(
        &CommandLine::Shell(format!("/usr/sbin/update-rc.d {args}")),
        env,
    )
}

const ALL_LEVELS: &[&str] = &["0", "1", "2", "3", "4", "5", "6", "S"];

fn remove_links(root: &Path, name: &str) -> Result<()> {
    let levels: Vec<String> = ALL_LEVELS.iter().map(|l| l.to_string()).collect();
    for link in rc_links(root, name, &levels) {
        let path = link_path(root, &link, name);
        std::fs::remove_file(&path).with_path(&path)?;
    }
    Ok(())
}

fn link_path(root: &Path, link: &RcLink, name: &str) -> PathBuf {
    let letter = if link.start { 'S' } else { 'K' };
    root.join(format!(
        "etc/rc{}.d/{letter}{:02}{name}",
        link.level, link.priority
    ))
}

/// The links `update-rc.d name defaults` makes from the script's LSB header (without one:
/// start in 2345, stop in 016).
fn make_default_links(root: &Path, name: &str, start: u8, stop: u8) -> Result<()> {
    let script = root.join("etc/init.d").join(name);
    let text = std::fs::read_to_string(&script).map_err(|e| {
        Error::resource(
            "Chef::Exceptions::Service",
            format!("update-rc.d: {}: {e}", script.display()),
        )
    })?;
    let mut info = InitInfo::parse(&text);
    if info.default_start.is_empty() && info.default_stop.is_empty() {
        info.default_start = ["2", "3", "4", "5"].map(String::from).to_vec();
        info.default_stop = ["0", "1", "6"].map(String::from).to_vec();
    }
    let wanted = info
        .default_start
        .iter()
        .map(|l| (l, true, start))
        .chain(info.default_stop.iter().map(|l| (l, false, stop)));
    for (level, is_start, priority) in wanted {
        let link = RcLink {
            level: level.clone(),
            start: is_start,
            priority,
        };
        let path = link_path(root, &link, name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_path(dir)?;
        }
        std::os::unix::fs::symlink(format!("../init.d/{name}"), &path).with_path(&path)?;
    }
    Ok(())
}

fn turn_start_links_into_kill_links(root: &Path, name: &str) -> Result<()> {
    let levels: Vec<String> = ALL_LEVELS.iter().map(|l| l.to_string()).collect();
    for link in rc_links(root, name, &levels)
        .into_iter()
        .filter(|l| l.start)
    {
        let from = link_path(root, &link, name);
        let to = link_path(
            root,
            &RcLink {
                start: false,
                priority: 100u8.saturating_sub(link.priority),
                ..link.clone()
            },
            name,
        );
        std::fs::rename(&from, &to).with_path(&from)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "#!/bin/sh\n### BEGIN INIT INFO\n# Provides:          tinyd\n# Default-Start:     2 3 4 5\n# Default-Stop:      0 1 6\n### END INIT INFO\nPIDFILE=/run/tinyd.pid\n";

    #[test]
    fn lsb_header_levels_and_literal_pidfile() {
        let info = InitInfo::parse(SCRIPT);
        assert_eq!(info.default_start, ["2", "3", "4", "5"]);
        assert_eq!(info.default_stop, ["0", "1", "6"]);
        assert_eq!(info.pidfile, Some(PathBuf::from("/run/tinyd.pid")));
        assert_eq!(InitInfo::parse("PIDFILE=$RUN/x.pid\n").pidfile, None);
        assert_eq!(
            InitInfo::parse("  PIDFILE=\"/var/run/a.pid\"\n").pidfile,
            Some(PathBuf::from("/var/run/a.pid"))
        );
    }

    #[test]
    fn link_names_need_letter_two_digits_and_the_exact_name() {
        let l = parse_link_name("2", "S20nginx", "nginx").unwrap();
        assert!(l.start);
        assert_eq!(l.priority, 20);
        assert!(!parse_link_name("0", "K80nginx", "nginx").unwrap().start);
        assert!(parse_link_name("2", "S20nginx-debug", "nginx").is_none());
        assert!(parse_link_name("2", "S2xnginx", "nginx").is_none());
        assert!(parse_link_name("2", "README", "nginx").is_none());
    }

    #[test]
    fn enabled_means_a_start_link_in_runlevels_1_to_5_or_s() {
        let k = |level: &str| RcLink {
            level: level.into(),
            start: false,
            priority: 1,
        };
        let s = |level: &str| RcLink {
            start: true,
            ..k(level)
        };
        assert!(is_enabled(&[k("0"), s("2")]));
        assert!(!is_enabled(&[k("2"), k("3")]));
        assert!(!is_enabled(&[s("0"), s("6")]));
        assert!(is_enabled(&[s("S")]));
    }

    #[test]
    fn links_under_a_root_made_and_disabled_like_update_rc_d() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc/init.d")).unwrap();
        std::fs::write(root.join("etc/init.d/tinyd"), SCRIPT).unwrap();
        let levels = InitInfo::parse(SCRIPT).levels();
        assert!(!is_enabled(&rc_links(root, "tinyd", &levels)));
        enable(root, "tinyd", 20, &CommandEnv::default()).unwrap();
        assert!(root.join("etc/rc2.d/S20tinyd").is_symlink());
        assert!(root.join("etc/rc0.d/K80tinyd").is_symlink());
        assert!(is_enabled(&rc_links(root, "tinyd", &levels)));
        disable(root, "tinyd", &CommandEnv::default()).unwrap();
        assert!(root.join("etc/rc2.d/K80tinyd").is_symlink());
        assert!(!is_enabled(&rc_links(root, "tinyd", &levels)));
    }

    #[test]
    fn pidfile_of_a_live_process_says_running() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("x.pid");
        assert_eq!(pidfile_says_running(&pidfile, Path::new("/proc")), None);
        std::fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
        assert_eq!(
            pidfile_says_running(&pidfile, Path::new("/proc")),
            Some(true)
        );
        std::fs::write(&pidfile, "999999999\n").unwrap();
        assert_eq!(pidfile_says_running(&pidfile, Path::new("/proc")), None);
    }
}
