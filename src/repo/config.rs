//! The run's configuration: `solo.json`, `solo.rb` (its literal `key value` lines) and flags.
//!
//! Keys and defaults are Chef's (`cookbook_path`, `role_path`, `file_cache_path`, ...).
//! Relative paths are resolved against the directory of the config file that names them, so a
//! repository can be moved or run from anywhere.

use crate::error::{Error, Result, SourceLocation};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every setting a run reads.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file the settings came from, if any.
    pub config_file: Option<PathBuf>,
    pub chef_repo_path: PathBuf,
    pub cookbook_path: Vec<PathBuf>,
    pub role_path: PathBuf,
    pub environment_path: PathBuf,
    pub data_bag_path: PathBuf,
    pub node_path: PathBuf,
    pub file_cache_path: PathBuf,
    pub file_backup_path: PathBuf,
    pub lockfile: PathBuf,
    pub node_name: Option<String>,
    pub json_attribs: Option<PathBuf>,
    pub environment: Option<String>,
    pub log_level: Option<String>,
    pub log_location: Option<PathBuf>,
    pub why_run: bool,
    pub diff_disabled: bool,
    pub diff_filesize_threshold: u64,
    pub diff_output_threshold: usize,
    pub run_lock_timeout: Option<Duration>,
    pub minimal_ohai: bool,
    pub solo_legacy_mode: bool,
    /// The settings that reach a Chef server (`skillet client`, `skillet upload`).
    pub server: ServerSettings,
    /// Keys that were set but mean nothing to skillet, reported as warnings.
    pub ignored_keys: Vec<(String, SourceLocation)>,
}

/// client.rb / knife.rb keys about the Chef server.
#[derive(Debug, Clone, Default)]
pub struct ServerSettings {
    pub chef_server_url: Option<String>,
    /// This client's key (default `/etc/chef/client.pem`).
    pub client_key: Option<PathBuf>,
    /// The validator's key, used to register when `client_key` does not exist.
    pub validation_key: Option<PathBuf>,
    /// The validator's name (default `chef-validator`).
    pub validation_client_name: Option<String>,
    /// `:verify_none` turns TLS certificate checks off.
    pub ssl_verify_none: bool,
    /// `authentication_protocol_version` (`1.0` or `1.3`).
    pub authentication_protocol_version: Option<String>,
}

/// Settings as read, before defaults are filled in.
#[derive(Debug, Default)]
struct Raw {
    chef_repo_path: Option<PathBuf>,
    cookbook_path: Option<Vec<PathBuf>>,
    role_path: Option<PathBuf>,
    environment_path: Option<PathBuf>,
    data_bag_path: Option<PathBuf>,
    node_path: Option<PathBuf>,
    file_cache_path: Option<PathBuf>,
    file_backup_path: Option<PathBuf>,
    cache_path: Option<PathBuf>,
    lockfile: Option<PathBuf>,
    node_name: Option<String>,
    json_attribs: Option<PathBuf>,
    environment: Option<String>,
    log_level: Option<String>,
    log_location: Option<PathBuf>,
    why_run: bool,
    diff_disabled: bool,
    diff_filesize_threshold: Option<u64>,
    diff_output_threshold: Option<usize>,
    run_lock_timeout: Option<Duration>,
    minimal_ohai: bool,
    solo_legacy_mode: bool,
    server: ServerSettings,
    ignored: Vec<(String, SourceLocation)>,
}

impl Config {
    /// Reads `path` (`.json`, or Ruby `solo.rb`/`client.rb` style); `None` uses defaults with the
    /// current directory as the chef repo.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        Config::load_as(path, false)
    }

    /// Reads client.rb / client.json / knife.rb for a run against a Chef server: the cache
    /// defaults to `/var/chef/cache` (for root), not local mode's cache beside the config.
    pub fn load_for_server(path: Option<&Path>) -> Result<Config> {
        Config::load_as(path, true)
    }

    fn load_as(path: Option<&Path>, server_mode: bool) -> Result<Config> {
        let Some(path) = path else {
            let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
            let raw = Raw {
                solo_legacy_mode: server_mode,
                ..Raw::default()
            };
            let mut config = raw.finish(None, &cwd);
            config.solo_legacy_mode = false;
            return Ok(config);
        };
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let base = absolute(&base);
        let mut raw = Raw::default();
        if server_mode {
            // chef-client's cache defaults are legacy chef-solo's: /var/chef for root.
            raw.solo_legacy_mode = true;
        }
        if path.extension().is_some_and(|e| e == "json") {
            let value: Value = crate::repo::yaml::from_json(&text, path)?;
            let Value::Object(map) = value else {
                return Err(Error::compile(
                    SourceLocation::new(path, 1, 1),
                    "expected the config file to hold a JSON object",
                ));
            };
            for (key, value) in map {
                raw.apply(&key, &value, &base, &SourceLocation::file(path))?;
            }
        } else {
            for call in crate::ruby::eval_dsl_calls(path, &text)? {
                let value = match call.args.as_slice() {
                    [] => Value::Bool(true),
                    [one] => one.clone(),
                    many => Value::Array(many.to_vec()),
                };
                raw.apply(&call.method, &value, &base, &call.location)?;
            }
        }
        let mut config = raw.finish(Some(path.to_path_buf()), &base);
        if server_mode {
            config.solo_legacy_mode = false;
        }
        Ok(config)
    }
}

impl Raw {
    fn apply(
        &mut self,
        key: &str,
        value: &Value,
        base: &Path,
        location: &SourceLocation,
    ) -> Result<()> {
        let path = |v: &Value| -> Result<PathBuf> {
            match v {
                Value::String(s) => Ok(resolve(base, s)),
                _ => Err(expected(location, key, "a path string", v)),
            }
        };
        let string = |v: &Value| -> Result<String> {
            match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(expected(location, key, "a string", v)),
            }
        };
        let boolean = |v: &Value| -> Result<bool> {
            v.as_bool()
                .ok_or_else(|| expected(location, key, "true or false", v))
        };
        let number = |v: &Value| -> Result<u64> {
            v.as_u64()
                .ok_or_else(|| expected(location, key, "a non-negative integer", v))
        };
        match key {
            "chef_repo_path" => self.chef_repo_path = Some(path(value)?),
            "cookbook_path" => {
                self.cookbook_path = Some(match value {
                    Value::Array(items) => items.iter().map(path).collect::<Result<_>>()?,
                    other => vec![path(other)?],
                })
            }
            "role_path" => self.role_path = Some(first_path(value, &path)?),
            "environment_path" => self.environment_path = Some(first_path(value, &path)?),
            "data_bag_path" => self.data_bag_path = Some(first_path(value, &path)?),
            "node_path" => self.node_path = Some(path(value)?),
            "file_cache_path" => self.file_cache_path = Some(path(value)?),
            "file_backup_path" => self.file_backup_path = Some(path(value)?),
            "cache_path" => self.cache_path = Some(path(value)?),
            "lockfile" => self.lockfile = Some(path(value)?),
            "node_name" => self.node_name = Some(string(value)?),
            "json_attribs" => self.json_attribs = Some(path(value)?),
            "environment" => self.environment = Some(string(value)?),
            "log_level" => self.log_level = Some(string(value)?.trim_start_matches(':').into()),
            "log_location" => match value {
                Value::String(s) if s == "STDOUT" || s == "STDERR" => {}
                other => self.log_location = Some(path(other)?),
            },
            "why_run" => self.why_run = boolean(value)?,
            "diff_disabled" => self.diff_disabled = boolean(value)?,
            "diff_filesize_threshold" => self.diff_filesize_threshold = Some(number(value)?),
            "diff_output_threshold" => {
                self.diff_output_threshold =
                    Some(usize::try_from(number(value)?).unwrap_or(usize::MAX))
            }
            "run_lock_timeout" => self.run_lock_timeout = Some(Duration::from_secs(number(value)?)),
            "minimal_ohai" => self.minimal_ohai = boolean(value)?,
            "solo_legacy_mode" => self.solo_legacy_mode = boolean(value)?,
            "chef_server_url" => self.server.chef_server_url = Some(string(value)?),
            "client_key" => self.server.client_key = Some(path(value)?),
            "validation_key" => self.server.validation_key = Some(path(value)?),
            "validation_client_name" => self.server.validation_client_name = Some(string(value)?),
            "authentication_protocol_version" => {
                self.server.authentication_protocol_version = Some(string(value)?)
            }
            "ssl_verify_mode" => {
                self.server.ssl_verify_none =
                    string(value)?.trim_start_matches(':') == "verify_none"
            }
            "local_mode"
            | "solo"
            | "verbose_logging"
            | "color"
            | "chef_license"
            | "umask"
            | "file_atomic_update"
            | "file_staging_uses_destdir"
            | "count_log_resource_updates"
            | "enable_selinux_file_permission_fixup" => {}
            other => self.ignored.push((other.to_string(), location.clone())),
        }
        Ok(())
    }

    fn finish(self, config_file: Option<PathBuf>, base: &Path) -> Config {
        let chef_repo_path = match (&self.chef_repo_path, &self.cookbook_path) {
            (Some(p), _) => p.clone(),
            (None, Some(paths)) => paths
                .first()
                .and_then(|p| p.parent())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| base.to_path_buf()),
            (None, None) => base.to_path_buf(),
        };
        let in_repo = |dir: &str| chef_repo_path.join(dir);
        let cache_path = self
            .cache_path
            .clone()
            .unwrap_or_else(|| default_cache_path(config_file.as_deref(), self.solo_legacy_mode));
        let file_cache_path = self
            .file_cache_path
            .clone()
            .unwrap_or_else(|| cache_path.join("cache"));
        let lockfile = self
            .lockfile
            .clone()
            .unwrap_or_else(|| file_cache_path.join("chef-client-running.pid"));
        Config {
            config_file,
            cookbook_path: self
                .cookbook_path
                .clone()
                .unwrap_or_else(|| vec![in_repo("cookbooks")]),
            role_path: self.role_path.clone().unwrap_or_else(|| in_repo("roles")),
            environment_path: self
                .environment_path
                .clone()
                .unwrap_or_else(|| in_repo("environments")),
            data_bag_path: self
                .data_bag_path
                .clone()
                .unwrap_or_else(|| in_repo("data_bags")),
            node_path: self.node_path.clone().unwrap_or_else(|| in_repo("nodes")),
            file_backup_path: self
                .file_backup_path
                .clone()
                .unwrap_or_else(|| cache_path.join("backup")),
            chef_repo_path,
            file_cache_path,
            lockfile,
            node_name: self.node_name,
            json_attribs: self.json_attribs,
            environment: self.environment,
            log_level: self.log_level,
            log_location: self.log_location,
            why_run: self.why_run,
            diff_disabled: self.diff_disabled,
            diff_filesize_threshold: self.diff_filesize_threshold.unwrap_or(10_000_000),
            diff_output_threshold: self.diff_output_threshold.unwrap_or(1_000_000),
            run_lock_timeout: self.run_lock_timeout,
            minimal_ohai: self.minimal_ohai,
            solo_legacy_mode: self.solo_legacy_mode,
            server: self.server,
            ignored_keys: self.ignored,
        }
    }
}

/// Chef's `cache_path` default. chef-solo runs in local mode: `<config dir>/local-mode-cache`,
/// where the config dir is the config file's directory, else `~/.chef`. Legacy mode uses
/// `/var/chef` for root and `~/.chef` for anyone else.
fn default_cache_path(config_file: Option<&Path>, legacy: bool) -> PathBuf {
    let home_chef = match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".chef"),
        None => std::env::temp_dir().join("skillet-chef"),
    };
    if legacy {
        if nix::unistd::geteuid().is_root() {
            return PathBuf::from("/var/chef");
        }
        return home_chef;
    }
    let config_dir = config_file
        .and_then(Path::parent)
        .map(absolute)
        .unwrap_or(home_chef);
    config_dir.join("local-mode-cache")
}

fn first_path(value: &Value, path: &dyn Fn(&Value) -> Result<PathBuf>) -> Result<PathBuf> {
    match value {
        Value::Array(items) if !items.is_empty() => path(&items[0]),
        other => path(other),
    }
}

fn resolve(base: &Path, s: &str) -> PathBuf {
    let p = Path::new(s);
    if p.is_absolute() {
        p.to_path_buf()
    } else if let Some(rest) = s.strip_prefix("~/") {
        match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => base.join(s),
        }
    } else {
        base.join(p)
    }
}

/// The settings a `client.rb` written for a host holds, as `key 'value'` lines the reader
/// above takes back.
#[derive(Debug, Clone, Copy)]
pub struct ClientRb<'a> {
    /// Who wrote it, for the first line (`skillet bootstrap`, `skillet kitchen`).
    pub written_by: &'a str,
    pub chef_server_url: &'a str,
    pub node_name: &'a str,
    pub validation_client_name: &'a str,
    pub validation_key: &'a str,
    pub client_key: &'a str,
    pub file_cache_path: &'a str,
    pub file_backup_path: &'a str,
    pub environment: Option<&'a str>,
    /// `ssl_verify_mode`: `:verify_none` when true, `:verify_peer` when false.
    pub ssl_verify_none: Option<bool>,
}

impl ClientRb<'_> {
    /// The file's text.
    pub fn render(&self) -> String {
        let mut text = format!("# Written by {}.\n", self.written_by);
        for (key, value) in [
            ("chef_server_url", self.chef_server_url),
            ("node_name", self.node_name),
            ("validation_client_name", self.validation_client_name),
            ("validation_key", self.validation_key),
            ("client_key", self.client_key),
            ("file_cache_path", self.file_cache_path),
            ("file_backup_path", self.file_backup_path),
        ]
        .into_iter()
        .chain(self.environment.map(|e| ("environment", e)))
        {
            text.push_str(&format!("{key} {}\n", ruby_string(value)));
        }
        match self.ssl_verify_none {
            Some(true) => text.push_str("ssl_verify_mode :verify_none\n"),
            Some(false) => text.push_str("ssl_verify_mode :verify_peer\n"),
            None => {}
        }
        text
    }
}

/// A single-quoted Ruby string literal.
fn ruby_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `path` made absolute against the current directory.
pub fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    match std::env::current_dir() {
        Ok(cwd) => {
            let joined = cwd.join(path);
            // Drop `.` components so printed paths stay readable.
            joined.components().collect()
        }
        Err(_) => path.to_path_buf(),
    }
}

fn expected(location: &SourceLocation, key: &str, what: &str, got: &Value) -> Error {
    Error::compile_as(
        "Chef::Exceptions::ConfigurationError",
        location.clone(),
        format!("expected `{key}` to be {what}, got {}", kind_of(got)),
    )
}

/// A JSON value's kind, for error messages.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_written_client_rb_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let text = ClientRb {
            written_by: "skillet kitchen",
            chef_server_url: "http://10.201.0.1:8889",
            node_name: "lb",
            validation_client_name: "chef-validator",
            validation_key: "/etc/chef/validation.pem",
            client_key: "/etc/chef/client.pem",
            file_cache_path: "/var/chef/cache",
            file_backup_path: "/var/chef/backup",
            environment: Some("it's"),
            ssl_verify_none: Some(true),
        }
        .render();
        assert!(
            text.starts_with("# Written by skillet kitchen.\n"),
            "{text}"
        );
        let config = Config::load_for_server(Some(&write(dir.path(), "client.rb", &text))).unwrap();
        let server = &config.server;
        assert_eq!(
            server.chef_server_url.as_deref(),
            Some("http://10.201.0.1:8889")
        );
        assert_eq!(config.node_name.as_deref(), Some("lb"));
        assert_eq!(config.environment.as_deref(), Some("it's"));
        assert_eq!(
            server.validation_key.as_deref(),
            Some(Path::new("/etc/chef/validation.pem"))
        );
        assert!(server.ssl_verify_none);
        assert_eq!(config.file_cache_path, Path::new("/var/chef/cache"));
    }

    #[test]
    fn json_config_resolves_relative_paths_against_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "solo.json",
            r#"{"cookbook_path": ["cookbooks", "/abs/cb"], "file_cache_path": "cache"}"#,
        );
        let c = Config::load(Some(&p)).unwrap();
        assert_eq!(
            c.cookbook_path,
            vec![dir.path().join("cookbooks"), PathBuf::from("/abs/cb")]
        );
        assert_eq!(c.chef_repo_path, dir.path());
        assert_eq!(c.role_path, dir.path().join("roles"));
        assert_eq!(c.file_cache_path, dir.path().join("cache"));
        assert_eq!(c.lockfile, dir.path().join("cache/chef-client-running.pid"));
    }

    #[test]
    fn client_rb_names_the_server_and_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "client.rb",
            "chef_server_url 'https://chef.example/organizations/acme'\n\
             validation_client_name 'acme-validator'\n\
             validation_key 'validation.pem'\n\
             client_key '/etc/chef/client.pem'\n\
             ssl_verify_mode :verify_none\n\
             authentication_protocol_version '1.0'\n",
        );
        let c = Config::load_for_server(Some(&p)).unwrap();
        let s = &c.server;
        assert_eq!(
            s.chef_server_url.as_deref(),
            Some("https://chef.example/organizations/acme")
        );
        assert_eq!(s.validation_client_name.as_deref(), Some("acme-validator"));
        assert_eq!(s.validation_key, Some(dir.path().join("validation.pem")));
        assert_eq!(s.client_key, Some(PathBuf::from("/etc/chef/client.pem")));
        assert!(s.ssl_verify_none);
        assert_eq!(s.authentication_protocol_version.as_deref(), Some("1.0"));
        assert!(c.ignored_keys.is_empty(), "{:?}", c.ignored_keys);
        assert!(!c.solo_legacy_mode);
    }

    #[test]
    fn a_client_run_caches_in_var_chef_not_beside_its_config() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "client.json", r#"{"node_name": "web1"}"#);
        let c = Config::load_for_server(Some(&p)).unwrap();
        assert_eq!(c.file_cache_path, PathBuf::from("/var/chef/cache"));
        assert_eq!(c.node_name.as_deref(), Some("web1"));
        let verified = write(dir.path(), "v.rb", "ssl_verify_mode :verify_peer\n");
        assert!(
            !Config::load_for_server(Some(&verified))
                .unwrap()
                .server
                .ssl_verify_none
        );
    }

    #[test]
    fn cache_defaults_to_local_mode_cache_beside_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "solo.json", "{}");
        let c = Config::load(Some(&p)).unwrap();
        assert_eq!(c.file_cache_path, dir.path().join("local-mode-cache/cache"));
        assert_eq!(
            c.file_backup_path,
            dir.path().join("local-mode-cache/backup")
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "solo.json", r#"{"role_path": 3}"#);
        let err = Config::load(Some(&p)).unwrap_err().to_string();
        assert!(
            err.contains("expected `role_path` to be a path string, got a number"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_kept_for_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "solo.json", r#"{"frobnicate": true}"#);
        let c = Config::load(Some(&p)).unwrap();
        assert_eq!(c.ignored_keys[0].0, "frobnicate");
    }
}
