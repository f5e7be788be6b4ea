//! Crontabs: reading a user's crontab, finding the block a `cron` resource owns (the line
//! `# Chef Name: <name>` and the job under it), and writing the crontab back.
//!
//! The crontab is read from the spool file `/var/spool/cron/crontabs/<user>` rather than by
//! spawning `crontab -l`, dropping the three-line header `crontab` writes there (as
//! `crontab -l` does). Writing goes through `crontab -u <user> <file>` on a real host, so
//! cron notices; under another root the spool file is written directly.

use crate::error::{Error, IoContext, Result};
use crate::platform::command::{CommandEnv, CommandLine, CommandSpec};
use crate::platform::fs::{self, Mode, Ownership};
use regex::Regex;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where cron keeps users' crontabs on Debian.
pub const SPOOL_DIR: &str = "/var/spool/cron/crontabs";

/// Chef's special time values (`@daily`...).
pub const SPECIAL_TIMES: &[&str] = &[
    "reboot", "yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly",
];

/// The fields of one cron job as Chef's cron provider compares them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CronJob {
    /// `minute` (`*` by default, as are the other four fields).
    pub minute: String,
    /// `hour`.
    pub hour: String,
    /// `day` of the month.
    pub day: String,
    /// `month`.
    pub month: String,
    /// `weekday`, day names already turned into numbers.
    pub weekday: String,
    /// `time` (`daily` for `@daily`), which replaces the five fields.
    pub time: Option<String>,
    /// `command`; `None` when a Chef comment has no job line under it.
    pub command: Option<String>,
    /// `MAILTO`, without its quotes (as are the next three).
    pub mailto: Option<String>,
    /// `PATH`.
    pub path: Option<String>,
    /// `SHELL`.
    pub shell: Option<String>,
    /// `HOME`.
    pub home: Option<String>,
    /// Other `NAME=value` lines of the block, in order.
    pub environment: Vec<(String, String)>,
}

impl CronJob {
    /// A job with the default `*` fields and nothing else.
    pub fn new() -> Self {
        Self {
            minute: "*".into(),
            hour: "*".into(),
            day: "*".into(),
            month: "*".into(),
            weekday: "*".into(),
            ..Self::default()
        }
    }
}

/// The block Chef writes: `# Chef Name: NAME`, the environment lines, then the job line
/// (with `timeout` options in front of the command when `time_out` is given).
pub fn render_block(name: &str, job: &CronJob, time_out: &str) -> String {
    let mut lines = vec![format!("# Chef Name: {name}")];
    let quoted = [
        ("MAILTO", &job.mailto),
        ("PATH", &job.path),
        ("SHELL", &job.shell),
        ("HOME", &job.home),
    ];
    let mut env: Vec<String> = quoted
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}=\"{v}\"")))
        .collect();
    env.extend(job.environment.iter().map(|(k, v)| format!("{k}={v}")));
    if !env.is_empty() {
        lines.push(env.join("\n"));
    }
    let when = match &job.time {
        Some(t) => format!("@{t}"),
        None => format!(
            "{} {} {} {} {}",
            job.minute, job.hour, job.day, job.month, job.weekday
        ),
    };
    let command = job.command.as_deref().unwrap_or("");
    lines.push(format!("{when}{time_out} {command}\n"));
    lines.join("\n")
}

/// A crontab line, classified as Chef's provider does.
enum Line<'a> {
    ChefName,
    Env(&'a str, &'a str),
    Special(&'a str, &'a str),
    Job([&'a str; 6]),
    Other,
}

/// Chef's `CRON_PATTERN`, `SPECIAL_PATTERN` and `ENV_PATTERN`.
type Patterns = (Regex, Regex, Regex);

fn patterns() -> Option<&'static Patterns> {
    static PATTERNS: OnceLock<Option<Patterns>> = OnceLock::new();
    PATTERNS
        .get_or_init(|| {
            let field = r"([-0-9*,/]+)";
            let named = r"([-0-9*,/]+|[a-zA-Z]{3})";
            let job = format!(r"\A{field}\s{field}\s{field}\s{named}\s{named}\s(.*)");
            let special = format!(r"\A@({})\s(.*)", SPECIAL_TIMES.join("|"));
            Some((
                Regex::new(&job).ok()?,
                Regex::new(&special).ok()?,
                Regex::new(r"\A(\S+)=(\S*)").ok()?,
            ))
        })
        .as_ref()
}

fn classify<'a>(line: &'a str, marker: &str) -> Line<'a> {
    if line == marker {
        return Line::ChefName;
    }
    let Some((job, special, env)) = patterns() else {
        return Line::Other;
    };
    if let Some(c) = env.captures(line) {
        let (Some(k), Some(v)) = (c.get(1), c.get(2)) else {
            return Line::Other;
        };
        return Line::Env(k.as_str(), v.as_str());
    }
    if let Some(c) = special.captures(line) {
        let (Some(t), Some(cmd)) = (c.get(1), c.get(2)) else {
            return Line::Other;
        };
        return Line::Special(t.as_str(), cmd.as_str());
    }
    if let Some(c) = job.captures(line) {
        let get = |i: usize| c.get(i).map_or("", |m| m.as_str());
        return Line::Job([get(1), get(2), get(3), get(4), get(5), get(6)]);
    }
    Line::Other
}

fn marker(name: &str) -> String {
    format!("# Chef Name: {name}")
}

/// Finds the job a `cron` resource named `name` owns; `None` when there is no Chef comment.
pub fn find_job(crontab: &str, name: &str) -> Option<CronJob> {
    let marker = marker(name);
    let mut found: Option<CronJob> = None;
    let mut in_block = false;
    for line in crontab.lines() {
        match classify(line, &marker) {
            Line::ChefName => {
                in_block = true;
                found = Some(CronJob::new());
            }
            Line::Env(k, v) => {
                if let (true, Some(job)) = (in_block, found.as_mut()) {
                    set_environment(job, k, v);
                }
            }
            Line::Special(time, command) => {
                if let (true, Some(job)) = (in_block, found.as_mut()) {
                    job.time = Some(time.to_string());
                    job.command = Some(command.to_string());
                }
                in_block = false;
            }
            Line::Job(f) => {
                if let (true, Some(job)) = (in_block, found.as_mut()) {
                    [job.minute, job.hour, job.day, job.month, job.weekday] =
                        [f[0], f[1], f[2], f[3], f[4]].map(str::to_string);
                    job.command = Some(f[5].to_string());
                }
                in_block = false;
            }
            Line::Other => in_block = false,
        }
    }
    found
}

fn set_environment(job: &mut CronJob, key: &str, value: &str) {
    let unquoted = value
        .strip_prefix('"')
        .unwrap_or(value)
        .strip_suffix('"')
        .unwrap_or(value.strip_prefix('"').unwrap_or(value))
        .to_string();
    match key {
        "MAILTO" => job.mailto = Some(unquoted),
        "PATH" => job.path = Some(unquoted),
        "SHELL" => job.shell = Some(unquoted),
        "HOME" => job.home = Some(unquoted),
        _ => job.environment.push((key.to_string(), value.to_string())),
    }
}

/// The crontab with `name`'s block replaced by `block` (Chef's update loop: the old
/// environment lines and job line go, everything else stays).
pub fn replace_block(crontab: &str, name: &str, block: &str) -> String {
    let marker = marker(name);
    let mut out = String::new();
    let mut in_block = false;
    for line in crontab.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        match classify(bare, &marker) {
            Line::ChefName => {
                in_block = true;
                continue;
            }
            Line::Env(..) => {
                if !in_block {
                    out.push_str(line);
                }
                continue;
            }
            Line::Special(..) | Line::Job(_) if in_block => {
                in_block = false;
                out.push_str(block);
                continue;
            }
            Line::Special(..) | Line::Job(_) => {}
            Line::Other if in_block => {
                out.push_str(block);
                in_block = false;
            }
            Line::Other => {}
        }
        out.push_str(line);
    }
    if in_block {
        out.push_str(block);
    }
    out
}

/// The crontab without `name`'s block, and whether the Chef comment was still open at the
/// end (nothing but environment lines after it).
pub fn remove_block(crontab: &str, name: &str) -> (String, bool) {
    let marker = marker(name);
    let mut out = String::new();
    let mut in_block = false;
    for line in crontab.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        match classify(bare, &marker) {
            Line::ChefName => {
                in_block = true;
                continue;
            }
            Line::Env(..) if in_block => continue,
            Line::Special(..) | Line::Job(_) if in_block => {
                in_block = false;
                continue;
            }
            Line::Other => in_block = false,
            _ => {}
        }
        out.push_str(line);
    }
    (out, in_block)
}

/// The spool file of `user` under `root`.
pub fn spool_path(root: &Path, user: &str) -> PathBuf {
    root.join(SPOOL_DIR.trim_start_matches('/')).join(user)
}

/// The user's crontab as `crontab -l` shows it; `None` when the user has none.
pub fn read_crontab(root: &Path, user: &str) -> Result<Option<String>> {
    let path = spool_path(root, user);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(strip_install_header(&text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::resource(
            "Chef::Exceptions::Cron",
            format!("Error determining state of crontab for {user}, error: {e}"),
        )),
    }
}

/// Drops the `# DO NOT EDIT THIS FILE` header `crontab` puts in the spool file.
fn strip_install_header(text: &str) -> String {
    if !text.starts_with("# DO NOT EDIT THIS FILE") {
        return text.to_string();
    }
    text.split_inclusive('\n').skip(3).collect()
}

/// Installs `crontab` as `user`'s: `crontab -u user file` on a real host, the spool file
/// (mode 0600) under another root.
pub fn write_crontab(root: &Path, user: &str, crontab: &str, env: &CommandEnv) -> Result<()> {
    if root != Path::new("/") {
        let dest = spool_path(root, user);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).with_path(dir)?;
        }
        let ownership = Ownership {
            mode: Some(Mode::new(0o600)),
            ..Ownership::default()
        };
        let staged = fs::staging_path(&dest);
        return fs::stage_and_rename(&dest, &staged, crontab.as_bytes(), ownership, &|_| Ok(()));
    }
    let file = tempfile::Builder::new()
        .prefix("crontab-")
        .tempfile()
        .map_err(|e| cron_error(user, &e.to_string()))?;
    std::fs::write(file.path(), crontab).map_err(|e| cron_error(user, &e.to_string()))?;
    let argv = vec![
        "crontab".to_string(),
        "-u".to_string(),
        user.to_string(),
        file.path().display().to_string(),
    ];
    let out = CommandSpec::new(CommandLine::Argv(argv)).run(env)?;
    if out.success() {
        return Ok(());
    }
    Err(cron_error(
        user,
        String::from_utf8_lossy(&out.stderr).trim_end(),
    ))
}

fn cron_error(user: &str, why: &str) -> Error {
    Error::resource(
        "Chef::Exceptions::Cron",
        format!("Error updating state of crontab for {user}, error: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAB: &str = "# m h dom mon dow command\nMAILTO=ops\n# Chef Name: backup\nMAILTO=\"root@example.com\"\nFOO=bar\n0 2 * * * /usr/local/bin/backup\n# Chef Name: boot\n@reboot /usr/bin/warm\n*/5 * * * * /bin/other\n";

    #[test]
    fn finds_the_block_under_the_chef_name_comment() {
        let job = find_job(TAB, "backup").unwrap();
        assert_eq!((job.minute.as_str(), job.hour.as_str()), ("0", "2"));
        assert_eq!(job.command.as_deref(), Some("/usr/local/bin/backup"));
        assert_eq!(job.mailto.as_deref(), Some("root@example.com"));
        assert_eq!(job.environment, [("FOO".to_string(), "bar".to_string())]);
        let boot = find_job(TAB, "boot").unwrap();
        assert_eq!(boot.time.as_deref(), Some("reboot"));
        assert_eq!(boot.command.as_deref(), Some("/usr/bin/warm"));
        assert!(find_job(TAB, "nothere").is_none());
    }

    #[test]
    fn a_chef_comment_without_a_job_line_has_no_command() {
        let job = find_job("# Chef Name: x\n# a comment\n", "x").unwrap();
        assert_eq!(job.command, None);
    }

    #[test]
    fn block_is_rendered_as_chef_writes_it() {
        let mut job = CronJob::new();
        job.minute = "0".into();
        job.hour = "2".into();
        job.command = Some("/usr/local/bin/backup".into());
        assert_eq!(
            render_block("backup", &job, ""),
            "# Chef Name: backup\n0 2 * * * /usr/local/bin/backup\n"
        );
        job.mailto = Some("a@b".into());
        job.environment = vec![("X".into(), "1".into())];
        job.time = Some("daily".into());
        assert_eq!(
            render_block("backup", &job, " timeout 10;"),
            "# Chef Name: backup\nMAILTO=\"a@b\"\nX=1\n@daily timeout 10; /usr/local/bin/backup\n"
        );
    }

    #[test]
    fn replacing_and_removing_keep_everything_else() {
        let block = "# Chef Name: backup\n30 3 * * * /usr/local/bin/backup\n";
        let replaced = replace_block(TAB, "backup", block);
        assert!(replaced
            .starts_with("# m h dom mon dow command\nMAILTO=ops\n# Chef Name: backup\n30 3"));
        assert!(!replaced.contains("FOO=bar"));
        assert!(replaced.ends_with("*/5 * * * * /bin/other\n"));
        assert_eq!(find_job(&replaced, "backup").unwrap().minute, "30");
        let (removed, open) = remove_block(TAB, "backup");
        assert!(!open);
        assert!(!removed.contains("backup"));
        assert!(removed.contains("# Chef Name: boot\n@reboot"));
        assert!(removed.contains("MAILTO=ops\n"));
    }

    #[test]
    fn spool_header_is_dropped_like_crontab_l() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_crontab(dir.path(), "root").unwrap(), None);
        let spool = spool_path(dir.path(), "root");
        std::fs::create_dir_all(spool.parent().unwrap()).unwrap();
        std::fs::write(
            &spool,
            "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/x installed on Thu)\n# (Cron version -- $Id$)\n0 1 * * * a\n",
        )
        .unwrap();
        assert_eq!(
            read_crontab(dir.path(), "root").unwrap().as_deref(),
            Some("0 1 * * * a\n")
        );
    }

    #[test]
    fn writing_under_a_root_makes_a_private_spool_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        write_crontab(dir.path(), "bob", "0 1 * * * a\n", &CommandEnv::default()).unwrap();
        let spool = spool_path(dir.path(), "bob");
        assert_eq!(std::fs::read_to_string(&spool).unwrap(), "0 1 * * * a\n");
        let mode = std::fs::metadata(&spool).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
