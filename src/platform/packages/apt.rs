//! Running apt-get, apt-cache, dpkg, dpkg-deb and debconf as Chef's apt and dpkg providers do.
//!
//! Every command runs with `DEBIAN_FRONTEND=noninteractive` (plus the resource's own
//! `environment`) and a timeout; a failure is an error carrying the command line and what the
//! tool wrote on stdout and stderr, so the operator sees apt's or dpkg's own words.
//!
//! When [`APT_NETNS_VAR`] names a network namespace file (a kitchen host with `apt_network:
//! machine`), apt-get and apt-cache run in that namespace, so they reach the package registry
//! while this process, dpkg, maintainer scripts' daemons and everything else stay where they are.

use crate::error::{Error, Result};
use crate::platform::command::{CommandEnv, CommandLine, CommandOutput, CommandSpec};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Chef's default timeout for package commands: 900 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(900);

/// The environment variable naming the network namespace file apt-get and apt-cache run in.
pub const APT_NETNS_VAR: &str = "SKILLET_APT_NETNS";

/// The network namespace `argv` must run in: the one [`APT_NETNS_VAR`] names, for apt-get and
/// apt-cache only (the commands that download); `None` otherwise.
fn apt_network(argv: &[String]) -> Option<PathBuf> {
    network_for(argv, std::env::var_os(APT_NETNS_VAR))
}

fn network_for(argv: &[String], configured: Option<std::ffi::OsString>) -> Option<PathBuf> {
    let program = argv.first()?;
    if program != "apt-get" && program != "apt-cache" {
        return None;
    }
    configured.filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// How package commands of one resource run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Extra command-line options (`options`), placed before the subcommand.
    pub options: Vec<String>,
    /// Variables added to `DEBIAN_FRONTEND=noninteractive`.
    pub environment: Vec<(String, String)>,
    /// Kill the command after this long (`timeout`, 900 s by default).
    pub timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            options: Vec::new(),
            environment: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// apt-get settings that change the command line: conffile policy, target release, downgrades.
#[derive(Debug, Clone, Default)]
pub struct AptSettings {
    /// `overwrite_config_files`: take the package's conffiles (`--force-confnew`) instead of
    /// keeping local ones (`--force-confdef --force-confold`).
    pub overwrite_config_files: bool,
    /// `default_release`: `-o APT::Default-Release=<release>`.
    pub default_release: Option<String>,
    /// Pass `--allow-downgrades` to installs (always, for apt_package).
    pub allow_downgrade: bool,
}

/// One package to act on, with the version to install when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The package name, possibly `name:arch`.
    pub name: String,
    /// The version to install; `None` for removals.
    pub version: Option<String>,
}

impl Target {
    /// `name=version`, or the bare name, as apt-get takes it.
    pub fn apt_argument(&self) -> String {
        match &self.version {
            Some(v) => format!("{}={v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// The conffile options Chef's apt provider passes.
fn config_file_options(settings: &AptSettings) -> Vec<String> {
    if settings.overwrite_config_files {
        vec!["-o".into(), "Dpkg::Options::=--force-confnew".into()]
    } else {
        vec![
            "-o".into(),
            "Dpkg::Options::=--force-confdef".into(),
            "-o".into(),
            "Dpkg::Options::=--force-confold".into(),
        ]
    }
}

fn default_release_options(settings: &AptSettings) -> Vec<String> {
    match &settings.default_release {
        Some(release) => vec!["-o".into(), format!("APT::Default-Release={release}")],
        None => Vec::new(),
    }
}

/// `apt-get -q -y [--allow-downgrades] <conffile options> <release> <options> install pkg=ver…`.
pub fn apt_get_install(
    targets: &[Target],
    settings: &AptSettings,
    run: &RunOptions,
) -> Vec<String> {
    let mut argv = vec!["apt-get".to_string(), "-q".into(), "-y".into()];
    if settings.allow_downgrade {
        argv.push("--allow-downgrades".into());
    }
    argv.extend(config_file_options(settings));
    argv.extend(default_release_options(settings));
    argv.extend(run.options.iter().cloned());
    argv.push("install".into());
    argv.extend(targets.iter().map(Target::apt_argument));
    argv
}

/// `apt-get -q -y <options> remove|purge pkg…`.
pub fn apt_get_remove(names: &[String], purge: bool, run: &RunOptions) -> Vec<String> {
    let mut argv = vec!["apt-get".to_string(), "-q".into(), "-y".into()];
    argv.extend(run.options.iter().cloned());
    argv.push(if purge { "purge" } else { "remove" }.into());
    argv.extend(names.iter().cloned());
    argv
}

/// `apt-mark hold|unhold pkg…`.
pub fn apt_mark(names: &[String], hold: bool) -> Vec<String> {
    let mut argv = vec!["apt-mark".to_string()];
    argv.push(if hold { "hold" } else { "unhold" }.into());
    argv.extend(names.iter().cloned());
    argv
}

/// `dpkg -i <options> file.deb…`.
pub fn dpkg_install(sources: &[&Path], run: &RunOptions) -> Vec<String> {
    let mut argv = vec!["dpkg".to_string(), "-i".into()];
    argv.extend(run.options.iter().cloned());
    argv.extend(sources.iter().map(|p| p.display().to_string()));
    argv
}

/// `dpkg -r|-P <options> pkg…`.
pub fn dpkg_remove(names: &[String], purge: bool, run: &RunOptions) -> Vec<String> {
    let mut argv = vec!["dpkg".to_string(), if purge { "-P" } else { "-r" }.into()];
    argv.extend(run.options.iter().cloned());
    argv.extend(names.iter().cloned());
    argv
}

/// Runs `argv` non-interactively; a non-zero exit is an error with the captured output.
pub fn run_noninteractive(argv: Vec<String>, run: &RunOptions, env: &CommandEnv) -> Result<()> {
    let network = apt_network(&argv);
    let mut spec = CommandSpec::new(CommandLine::Argv(argv));
    spec.network_namespace = network;
    spec.environment = vec![("DEBIAN_FRONTEND".into(), "noninteractive".into())];
    spec.environment.extend(run.environment.iter().cloned());
    spec.timeout = Some(run.timeout);
    let out = spec.run(env)?;
    if out.success() {
        return Ok(());
    }
    Err(command_failure(&spec.command, &out, run.timeout))
}

/// Mixlib::ShellOut's failure text for a package command.
fn command_failure(command: &CommandLine, out: &CommandOutput, timeout: Duration) -> Error {
    let shown = match command {
        CommandLine::Argv(args) => args.join(" "),
        CommandLine::Shell(s) => s.clone(),
    };
    let output = format!(
        "---- Begin output of {shown} ----\nSTDOUT: {}\nSTDERR: {}\n---- End output of {shown} ----\nRan {shown} returned {}",
        String::from_utf8_lossy(&out.stdout).trim_end(),
        String::from_utf8_lossy(&out.stderr).trim_end(),
        out.code()
    );
    if out.timed_out {
        return Error::resource(
            "Mixlib::ShellOut::CommandTimeout",
            format!("Command timed out after {}s:\n{output}", timeout.as_secs()),
        );
    }
    Error::resource(
        "Mixlib::ShellOut::ShellCommandFailed",
        format!(
            "Expected process to exit with [0], but received '{}'\n{output}",
            out.code()
        ),
    )
}

/// Runs a read-only query with the C locale and returns its stdout; failures are errors.
fn query(argv: Vec<String>) -> Result<String> {
    let network = apt_network(&argv);
    let mut spec = CommandSpec::new(CommandLine::Argv(argv));
    spec.network_namespace = network;
    spec.environment = vec![("LC_ALL".into(), "C".into())];
    spec.timeout = Some(DEFAULT_TIMEOUT);
    let out = spec.run(&CommandEnv::default())?;
    if !out.success() {
        return Err(command_failure(&spec.command, &out, DEFAULT_TIMEOUT));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What `apt-cache policy` says about one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The header name (`nginx`, `libc6:i386`).
    pub name: String,
    /// `Installed:`, `None` for `(none)`.
    pub installed: Option<String>,
    /// `Candidate:`, `None` for `(none)`.
    pub candidate: Option<String>,
}

/// Parses `apt-cache policy a b…` (C locale): a header `name:` then indented `Installed:` and
/// `Candidate:` lines; `(none)` means none.
pub fn parse_policy(text: &str) -> Vec<Policy> {
    let mut found: Vec<Policy> = Vec::new();
    for line in text.lines() {
        if !line.starts_with([' ', '\t']) {
            if let Some(name) = line.trim_end().strip_suffix(':') {
                found.push(Policy {
                    name: name.to_string(),
                    installed: None,
                    candidate: None,
                });
            }
            continue;
        }
        let Some(current) = found.last_mut() else {
            continue;
        };
        let trimmed = line.trim();
        let version = |v: &str| {
            let v = v.trim();
            (v != "(none)" && !v.is_empty()).then(|| v.to_string())
        };
        if let Some(v) = trimmed.strip_prefix("Installed:") {
            current.installed = version(v);
        } else if let Some(v) = trimmed.strip_prefix("Candidate:") {
            current.candidate = version(v);
        }
    }
    found
}

/// Candidate versions of `names` from one `apt-cache policy` call, in the order of `names`;
/// `None` for a package apt does not know or has no candidate for.
pub fn candidate_versions(
    names: &[String],
    default_release: Option<&str>,
) -> Result<Vec<Option<String>>> {
    let mut argv = vec!["apt-cache".to_string()];
    if let Some(release) = default_release {
        argv.push("-o".into());
        argv.push(format!("APT::Default-Release={release}"));
    }
    argv.push("policy".into());
    argv.extend(names.iter().cloned());
    let policies = parse_policy(&query(argv)?);
    Ok(names
        .iter()
        .map(|name| {
            let base = name.split(':').next().unwrap_or(name);
            policies
                .iter()
                .find(|p| p.name == *name)
                .or_else(|| policies.iter().find(|p| p.name == base))
                .and_then(|p| p.candidate.clone())
        })
        .collect())
}

/// The package name and version inside a `.deb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebInfo {
    /// `Package:` of the control file.
    pub name: String,
    /// `Version:` of the control file.
    pub version: String,
}

/// Parses `dpkg-deb -f file Package Version` output.
pub fn parse_deb_fields(text: &str) -> Option<DebInfo> {
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Package:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Version:") {
            version = Some(v.trim().to_string());
        }
    }
    Some(DebInfo {
        name: name?,
        version: version?,
    })
}

/// Reads the name and version from a `.deb`'s control file with `dpkg-deb -f`.
pub fn deb_info(path: &Path) -> Result<DebInfo> {
    let text = query(vec![
        "dpkg-deb".into(),
        "-f".into(),
        path.display().to_string(),
        "Package".into(),
        "Version".into(),
    ])?;
    parse_deb_fields(&text).ok_or_else(|| {
        Error::resource(
            "Chef::Exceptions::Package",
            format!(
                "{}: the control file names no Package and Version",
                path.display()
            ),
        )
    })
}

/// Feeds a debconf preseed file to `debconf-set-selections`.
pub fn debconf_set_selections(file: &Path, run: &RunOptions, env: &CommandEnv) -> Result<()> {
    run_noninteractive(
        vec!["debconf-set-selections".into(), file.display().to_string()],
        run,
        env,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, version: Option<&str>) -> Target {
        Target {
            name: name.into(),
            version: version.map(str::to_string),
        }
    }

    #[test]
    fn install_command_is_chefs_apt_line() {
        let settings = AptSettings {
            allow_downgrade: true,
            ..Default::default()
        };
        let run = RunOptions {
            options: vec!["--no-install-recommends".into()],
            ..Default::default()
        };
        let argv = apt_get_install(
            &[target("nginx", Some("1.0")), target("curl", None)],
            &settings,
            &run,
        );
        assert_eq!(
            argv.join(" "),
            "apt-get -q -y --allow-downgrades -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends install nginx=1.0 curl"
        );
    }

    #[test]
    fn overwrite_config_files_and_default_release() {
        let settings = AptSettings {
            overwrite_config_files: true,
            default_release: Some("bookworm-backports".into()),
            allow_downgrade: false,
        };
        let argv = apt_get_install(&[target("x", None)], &settings, &RunOptions::default());
        assert_eq!(
            argv.join(" "),
            "apt-get -q -y -o Dpkg::Options::=--force-confnew -o APT::Default-Release=bookworm-backports install x"
        );
    }

    #[test]
    fn remove_purge_and_dpkg_lines() {
        let run = RunOptions::default();
        let names = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            apt_get_remove(&names, false, &run).join(" "),
            "apt-get -q -y remove a b"
        );
        assert_eq!(
            apt_get_remove(&names, true, &run).join(" "),
            "apt-get -q -y purge a b"
        );
        assert_eq!(dpkg_remove(&names, true, &run).join(" "), "dpkg -P a b");
        assert_eq!(
            dpkg_install(&[Path::new("/tmp/a.deb")], &run).join(" "),
            "dpkg -i /tmp/a.deb"
        );
        assert_eq!(apt_mark(&names, true).join(" "), "apt-mark hold a b");
    }

    #[test]
    fn policy_output_gives_installed_and_candidate() {
        let text = "\
nginx:
  Installed: (none)
  Candidate: 1.22.1-9
  Version table:
     1.22.1-9 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
libc6:i386:
  Installed: 2.36-9
  Candidate: (none)
";
        let p = parse_policy(text);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "nginx");
        assert_eq!(p[0].installed, None);
        assert_eq!(p[0].candidate.as_deref(), Some("1.22.1-9"));
        assert_eq!(p[1].name, "libc6:i386");
        assert_eq!(p[1].installed.as_deref(), Some("2.36-9"));
        assert_eq!(p[1].candidate, None);
    }

    #[test]
    fn only_apt_get_and_apt_cache_use_the_apt_network() {
        let argv = |p: &str| vec![p.to_string(), "x".into()];
        let netns = || Some(std::ffi::OsString::from("/run/skillet/apt-netns"));
        assert_eq!(
            network_for(&argv("apt-get"), netns()),
            Some(PathBuf::from("/run/skillet/apt-netns"))
        );
        assert!(network_for(&argv("apt-cache"), netns()).is_some());
        assert_eq!(network_for(&argv("dpkg"), netns()), None);
        assert_eq!(network_for(&argv("apt-get"), None), None);
        assert_eq!(network_for(&argv("apt-get"), Some("".into())), None);
    }

    #[test]
    fn deb_fields() {
        assert_eq!(
            parse_deb_fields("Package: x\nVersion: 1.0-1\n"),
            Some(DebInfo {
                name: "x".into(),
                version: "1.0-1".into()
            })
        );
        assert_eq!(parse_deb_fields("Package: x\n"), None);
    }

    #[test]
    fn failed_command_error_carries_stderr() {
        let run = RunOptions::default();
        let err = run_noninteractive(
            vec![
                "sh".into(),
                "-c".into(),
                "echo E: no such package >&2; exit 100".into(),
            ],
            &run,
            &CommandEnv::default(),
        )
        .unwrap_err();
        assert_eq!(err.class(), "Mixlib::ShellOut::ShellCommandFailed");
        let text = err.to_string();
        assert!(text.contains("received '100'"), "{text}");
        assert!(text.contains("STDERR: E: no such package"), "{text}");
    }

    #[test]
    fn noninteractive_frontend_is_set() {
        let run = RunOptions {
            environment: vec![("EXTRA".into(), "1".into())],
            ..Default::default()
        };
        let ok = run_noninteractive(
            vec![
                "sh".into(),
                "-c".into(),
                "test \"$DEBIAN_FRONTEND\" = noninteractive && test \"$EXTRA\" = 1".into(),
            ],
            &run,
            &CommandEnv::default(),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }
}
