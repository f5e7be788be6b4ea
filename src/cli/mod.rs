//! The command line: `skillet solo`, `client`, `upload`, `check`, `ohai`, `kitchen`,
//! `bootstrap`, and `chef-solo`/`chef-client` through argv[0].

mod bootstrap;
mod check;
mod client;
mod kitchen;
mod ohai;
mod prepare;
mod signals;
mod solo;
mod upload;

pub use prepare::load_config as load_solo_config;

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// skillet: a Chef-compatible convergence agent.
#[derive(Debug, Parser)]
#[command(name = "skillet", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Test Kitchen's loop on throwaway namespace hosts: create, converge, verify, destroy.
    #[command(display_order = 90)]
    Kitchen(kitchen::KitchenArgs),
    /// Converge this host from a local chef-repo, as chef-solo does.
    Solo(Box<SoloArgs>),
    /// Compile every cookbook, role, environment and data bag; change nothing.
    Check(CheckArgs),
    /// Print the automatic attributes (all, or the values at the given paths), like `ohai`.
    Ohai(OhaiArgs),
    /// Install skillet and the repo a run list needs on hosts over ssh, and converge them.
    Bootstrap(Box<bootstrap::BootstrapArgs>),
    /// Converge this host from a Chef server, as chef-client does.
    Client(Box<ClientArgs>),
    /// Put a chef-repo's cookbooks, roles, environments, data bags or nodes on a Chef server.
    Upload(UploadArgs),
}

/// chef-solo's flags.
#[derive(Debug, Args, Clone)]
pub struct SoloArgs {
    /// The configuration file (solo.json or solo.rb; client.rb or client.json for `client`).
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// Node attributes and run list from a JSON file.
    #[arg(short = 'j', long = "json-attributes", value_name = "JSON_ATTRIBS")]
    pub json_attributes: Option<PathBuf>,
    /// Run these items instead of the node's run list, for this run only (comma-separated).
    #[arg(short = 'o', long = "override-runlist", value_name = "RUN_LIST_ITEM")]
    pub override_runlist: Option<String>,
    /// The environment of the node.
    #[arg(short = 'E', long = "environment", value_name = "ENVIRONMENT")]
    pub environment: Option<String>,
    /// The node's name (default: the host's FQDN).
    #[arg(short = 'N', long = "node-name", value_name = "NODE_NAME")]
    pub node_name: Option<String>,
    /// Show what would change; change nothing.
    #[arg(short = 'W', long = "why-run")]
    pub why_run: bool,
    /// Log level: auto, trace, debug, info, warn, error, fatal.
    #[arg(
        short = 'l',
        long = "log_level",
        alias = "log-level",
        value_name = "LEVEL"
    )]
    pub log_level: Option<String>,
    /// Write output to this file instead of standard output.
    #[arg(short = 'L', long = "logfile", value_name = "LOGLOCATION")]
    pub logfile: Option<PathBuf>,
    /// Output format: doc (default), min(imal), json, null.
    #[arg(short = 'F', long = "format", value_name = "FORMATTER")]
    pub format: Option<String>,
    /// Use the formatter even when logging to a file.
    #[arg(long = "force-formatter")]
    pub force_formatter: bool,
    /// Print log lines instead of formatter output.
    #[arg(long = "force-logger")]
    pub force_logger: bool,
    /// Write a JSON report of the run to this file (whatever the formatter).
    #[arg(long = "report-file", value_name = "PATH")]
    pub report_file: Option<PathBuf>,
    /// The run lock file (default: <file_cache_path>/chef-client-running.pid).
    #[arg(long = "lockfile", value_name = "LOCKFILE")]
    pub lockfile: Option<PathBuf>,
    /// Seconds to wait for another run's lock (0: do not wait).
    #[arg(long = "run-lock-timeout", value_name = "SECONDS")]
    pub run_lock_timeout: Option<u64>,
    /// Colour in output.
    #[arg(long = "color", overrides_with = "no_color")]
    pub color: bool,
    /// No colour in output.
    #[arg(long = "no-color")]
    pub no_color: bool,
    /// Gather only the minimal automatic attributes.
    #[arg(long = "minimal-ohai")]
    pub minimal_ohai: bool,
    /// Read roles and environments straight from their paths and never save the node (solo).
    #[arg(long = "legacy-mode")]
    pub legacy_mode: bool,
    /// Accepted for compatibility with chef-solo; skillet needs no license.
    #[arg(long = "chef-license", value_name = "ACCEPTANCE", hide = true)]
    pub chef_license: Option<String>,
}

/// `skillet check`'s flags.
#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// The configuration file (solo.json or solo.rb).
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Option<PathBuf>,
}

/// chef-client's flags: chef-solo's, plus the server and the keys.
#[derive(Debug, Args, Clone)]
pub struct ClientArgs {
    #[command(flatten)]
    pub run: SoloArgs,
    /// The Chef server URL (`chef_server_url`).
    #[arg(short = 'S', long = "server", value_name = "CHEFSERVERURL")]
    pub server_url: Option<String>,
    /// The validator's key, used to register when the client key does not exist.
    #[arg(
        short = 'K',
        long = "validation_key",
        alias = "validation-key",
        value_name = "KEY_FILE"
    )]
    pub validation_key: Option<PathBuf>,
    /// This client's key (default /etc/chef/client.pem).
    #[arg(
        short = 'k',
        long = "client_key",
        alias = "client-key",
        value_name = "KEY_FILE"
    )]
    pub client_key: Option<PathBuf>,
}

/// `skillet upload`'s flags (knife's names).
#[derive(Debug, Args, Clone)]
pub struct UploadArgs {
    /// What to upload: cookbooks, roles, environments, data_bags, nodes (default: all but nodes).
    #[arg(value_name = "KIND")]
    pub kinds: Vec<String>,
    /// The configuration file (knife.rb style; default `.chef/config.rb`, `.chef/knife.rb`, `knife.rb`).
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// The chef-repo to upload from (default: from the config, else the current directory).
    #[arg(long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// The Chef server URL.
    #[arg(short = 'S', long = "server-url", value_name = "URL")]
    pub server_url: Option<String>,
    /// The user or client to sign requests as.
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,
    /// The private key to sign with.
    #[arg(short = 'k', long = "key", value_name = "KEY")]
    pub key: Option<PathBuf>,
}

/// `skillet ohai`'s flags.
#[derive(Debug, Args, Clone)]
pub struct OhaiArgs {
    /// Attribute paths to print (`platform`, `network/interfaces`); all when none.
    #[arg(value_name = "ATTRIBUTE_PATH")]
    pub paths: Vec<String>,
    /// Gather only Chef's minimal set of automatic attributes.
    #[arg(short = 'm', long = "minimal-ohai")]
    pub minimal_ohai: bool,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let args: Vec<OsString> = std::env::args_os().collect();
    run(args)
}

/// Runs with explicit arguments (argv[0] first); a link named `chef-solo` means `skillet solo`,
/// one named `chef-client` means `skillet client`.
pub fn run(mut args: Vec<OsString>) -> i32 {
    let invoked_as = args
        .first()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    if invoked_as == "chef-solo" {
        args.insert(1, OsString::from("solo"));
    } else if invoked_as == "chef-client" {
        args.insert(1, OsString::from("client"));
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    match cli.command {
        Command::Kitchen(args) => kitchen::run(&args),
        Command::Solo(args) => solo::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Ohai(args) => ohai::run(&args),
        Command::Bootstrap(args) => bootstrap::run(&args),
        Command::Client(args) => client::run(&args),
        Command::Upload(args) => upload::run(&args),
    }
}
