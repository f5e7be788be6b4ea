//! What a run shares with every resource it converges.

use crate::platform::accounts::AccountsCache;
use crate::platform::command::CommandEnv;
use crate::platform::services::ServiceCache;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Settings for the diffs printed under `update content` lines (Chef's config names).
#[derive(Debug, Clone)]
pub struct DiffSettings {
    pub disabled: bool,
    pub filesize_threshold: u64,
    pub output_threshold: usize,
}

impl Default for DiffSettings {
    fn default() -> Self {
        Self {
            disabled: false,
            filesize_threshold: 10_000_000,
            output_threshold: 1_000_000,
        }
    }
}

/// The run's shared state: why-run, where managed paths live, caches of host state.
#[derive(Debug)]
pub struct Context {
    /// Report what would change; change nothing.
    pub why_run: bool,
    /// Managed absolute paths are resolved under this directory (`/` for a real host).
    pub root: PathBuf,
    /// Chef's `file_cache_path`.
    pub file_cache_path: PathBuf,
    /// Chef's `file_backup_path`: backups of replaced files go below it.
    pub file_backup_path: PathBuf,
    pub diff: DiffSettings,
    /// The node's merged attributes, as templates see them.
    pub node: Arc<Value>,
    /// Stream the output of commands as they run (`live_stream`, log level info).
    pub live_output: bool,
    /// Installed packages (dpkg's status, read once) and apt's candidate versions.
    pub packages: crate::platform::packages::PackageState,
    /// passwd, group and shadow as read once this run (dropped after a change).
    pub accounts: AccountsCache,
    /// The init system and systemd unit states, asked once per unit.
    pub services: ServiceCache,
}

impl Context {
    /// A context for a host rooted at `/`, with Chef's default cache paths under `cache`.
    pub fn new(cache: &Path) -> Self {
        Self {
            why_run: false,
            root: PathBuf::from("/"),
            file_cache_path: cache.to_path_buf(),
            file_backup_path: cache.join("backup"),
            diff: DiffSettings::default(),
            node: Arc::new(Value::Object(Default::default())),
            live_output: false,
            packages: Default::default(),
            accounts: AccountsCache::default(),
            services: ServiceCache::default(),
        }
    }

    /// The real location of a managed absolute path (`/etc/x` → `<root>/etc/x`).
    pub fn host_path(&self, path: &Path) -> PathBuf {
        if self.root == Path::new("/") {
            return path.to_path_buf();
        }
        let relative = path.strip_prefix("/").unwrap_or(path);
        self.root.join(relative)
    }

    /// How commands are spawned on this host.
    pub fn command_env(&self) -> CommandEnv {
        CommandEnv {
            live_output: self.live_output,
        }
    }
}
