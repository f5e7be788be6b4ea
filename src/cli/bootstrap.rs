//! `skillet bootstrap`: install this binary and a chef-repo subset on hosts over ssh and
//! converge them (solo mode), or, with `-S`, only the binary and a client's config and keys,
//! and converge them from a Chef server (server mode).
//!
//! Everything local is read and checked first (the repo, the run list, `-j`, the hosts
//! file); only then are targets contacted. One target streams its run's output as is and
//! exits with the run's code; several (`--hosts`, or more than one target) run `-c` at a
//! time with prefixed output and end with a summary table or JSON.

use crate::bootstrap::bundle::{Bundle, BundleRequest, Layout};
use crate::bootstrap::server::ServerRequest;
use crate::bootstrap::transport::{check_identity_file, SshOptions};
use crate::bootstrap::{fleet, Binary, Outcome, Plan};
use crate::converge::exit_code;
use clap::{Args, ValueEnum};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// `skillet bootstrap`'s flags (knife bootstrap's names where it has them).
#[derive(Debug, Args, Clone)]
pub struct BootstrapArgs {
    /// Targets: `[user@]host` or `ssh://[user@]host[:port]`, as ssh takes them.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// A file of targets, one a line (`#` comments).
    #[arg(long = "hosts", value_name = "FILE")]
    pub hosts: Option<PathBuf>,
    /// How many targets at a time.
    #[arg(
        short = 'c',
        long = "concurrency",
        default_value_t = 4,
        value_name = "N"
    )]
    pub concurrency: usize,
    /// The run list, comma-separated (`role[web],recipe[base]`).
    #[arg(short = 'r', long = "run-list", value_name = "RUN_LIST")]
    pub run_list: Option<String>,
    /// The node's environment.
    #[arg(short = 'E', long = "environment", value_name = "ENVIRONMENT")]
    pub environment: Option<String>,
    /// Extra first-boot attributes from a JSON file.
    #[arg(short = 'j', long = "json-attributes", value_name = "FILE")]
    pub json_attributes: Option<PathBuf>,
    /// The node's name (default: the target's FQDN). One target only.
    #[arg(short = 'N', long = "node-name", value_name = "NAME")]
    pub node_name: Option<String>,
    /// Show what would change; install and change nothing.
    #[arg(short = 'W', long = "why-run")]
    pub why_run: bool,
    /// Server mode: the Chef server the node registers with and converges from.
    #[arg(short = 'S', long = "server-url", value_name = "URL")]
    pub server_url: Option<String>,
    /// Server mode: the validator's key, sent to register the node.
    #[arg(short = 'K', long = "validation-key", value_name = "FILE")]
    pub validation_key: Option<PathBuf>,
    /// Server mode: the validator's client name (default chef-validator).
    #[arg(long = "validation-client-name", value_name = "NAME")]
    pub validation_client_name: Option<String>,
    /// Server mode: the node's `ssl_verify_mode`, `peer` or `none`.
    #[arg(long = "node-ssl-verify-mode", value_enum, value_name = "MODE")]
    pub node_ssl_verify_mode: Option<VerifyMode>,
    /// The local chef-repo's config (default ./solo.json, then ./solo.rb).
    #[arg(long = "solo-config", value_name = "FILE")]
    pub solo_config: Option<PathBuf>,
    /// Where skillet is installed on the target.
    #[arg(
        long = "install-dir",
        default_value = "/opt/skillet",
        value_name = "DIR"
    )]
    pub install_dir: String,
    /// Re-converge every N minutes from cron (/etc/cron.d/skillet).
    #[arg(long = "daemonize-interval", value_name = "MINUTES")]
    pub daemonize_interval: Option<u32>,
    /// The ssh port.
    #[arg(short = 'p', long = "ssh-port", value_name = "PORT")]
    pub port: Option<u16>,
    /// The ssh identity file.
    #[arg(short = 'i', long = "ssh-identity-file", value_name = "FILE")]
    pub identity_file: Option<PathBuf>,
    /// An ssh option, `Key=Value` (repeatable).
    #[arg(long = "ssh-option", value_name = "KEY=VALUE")]
    pub ssh_options: Vec<String>,
    /// Seconds to wait for the ssh connection.
    #[arg(long = "connect-timeout", value_name = "SECONDS")]
    pub connect_timeout: Option<u32>,
    /// Gain root with sudo when the login user is not root (`sudo -n`).
    #[arg(long = "sudo")]
    pub sudo: bool,
    /// Read the sudo password from standard input (prompted, without echo, on a terminal).
    #[arg(long = "sudo-password-stdin", requires = "sudo")]
    pub sudo_password_stdin: bool,
    /// The summary after several targets: a table, or JSON on standard output.
    #[arg(long = "format", value_enum, default_value = "table")]
    pub format: SummaryFormat,
}

/// `--node-ssl-verify-mode`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
pub enum VerifyMode {
    Peer,
    None,
}

/// How the summary of several targets is printed.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq)]
pub enum SummaryFormat {
    Table,
    Json,
}

/// Runs `skillet bootstrap` and returns the exit code.
pub fn run(args: &BootstrapArgs) -> i32 {
    match prepare(args) {
        Ok((targets, plan, bundle, binary)) => {
            let outcomes =
                fleet::bootstrap_all(&targets, args.concurrency, &plan, &bundle, &binary);
            report(args, &targets, &outcomes);
            fleet::exit_code(&outcomes)
        }
        Err(e) => {
            eprintln!("FATAL: {e}");
            exit_code::for_error(&e)
        }
    }
}

type Prepared = (Vec<String>, Plan, Bundle, Binary);

fn prepare(args: &BootstrapArgs) -> crate::Result<Prepared> {
    let mut targets = args.targets.clone();
    if let Some(file) = &args.hosts {
        targets.extend(fleet::read_hosts_file(file)?);
    }
    if targets.is_empty() {
        return Err(usage("no target: give `[user@]host` or --hosts FILE"));
    }
    if args.node_name.is_some() && targets.len() > 1 {
        return Err(usage(
            "-N names one node: it cannot be used with several targets",
        ));
    }
    if let Some(identity) = &args.identity_file {
        check_identity_file(identity).map_err(|e| usage(&e.0))?;
    }
    if !args.install_dir.starts_with('/') {
        return Err(usage("--install-dir must be an absolute path"));
    }
    let server = match (&args.server_url, &args.validation_key) {
        (Some(_), _) if args.node_name.is_none() => {
            return Err(usage(
                "-S needs the node's name: give -N NAME (the client registers under it)",
            ))
        }
        (Some(url), Some(key)) => Some(ServerRequest {
            url,
            validation_key: key,
            validation_client_name: args.validation_client_name.as_deref(),
            ssl_verify_none: args.node_ssl_verify_mode.map(|m| m == VerifyMode::None),
        }),
        (Some(_), None) => {
            return Err(usage(
                "-S needs the validator's key to register the node: give -K validation.pem",
            ))
        }
        (None, _)
            if args.validation_key.is_some()
                || args.validation_client_name.is_some()
                || args.node_ssl_verify_mode.is_some() =>
        {
            return Err(usage(
                "-K, --validation-client-name and --node-ssl-verify-mode belong to server mode: \
                 give -S URL",
            ))
        }
        (None, _) => None,
    };
    let server_mode = server.is_some();
    let bundle = Bundle::prepare(&BundleRequest {
        solo_config: args.solo_config.as_deref(),
        run_list: args.run_list.as_deref(),
        environment: args.environment.as_deref(),
        json_attributes: args.json_attributes.as_deref(),
        node_name: args.node_name.as_deref(),
        daemonize_interval: args.daemonize_interval,
        server,
    })?;
    let binary = std::env::current_exe().map_err(|e| crate::Error::io("current_exe", e))?;
    let binary = Binary::at(&binary)?;
    let sudo_password = if args.sudo_password_stdin {
        Some(read_password()?)
    } else {
        None
    };
    let single = targets.len() == 1;
    let json = args.format == SummaryFormat::Json;
    let plan = Plan {
        ssh: SshOptions {
            port: args.port,
            identity_file: args.identity_file.clone(),
            options: args.ssh_options.clone(),
            connect_timeout: args.connect_timeout,
            // A password or passphrase can be typed only for one target on a terminal.
            interactive: single && !args.sudo_password_stdin && std::io::stdin().is_terminal(),
        },
        sudo: args.sudo,
        sudo_password,
        layout: Layout {
            install_dir: args.install_dir.trim_end_matches('/').to_string(),
            server: server_mode,
        },
        why_run: args.why_run,
        color: single && !json && std::io::stdout().is_terminal(),
        stdout_to_stderr: json,
    };
    for option in &plan.ssh.options {
        if !option.contains('=') {
            return Err(usage(&format!(
                "--ssh-option `{option}`: expected Key=Value"
            )));
        }
    }
    Ok((targets, plan, bundle, binary))
}

fn report(args: &BootstrapArgs, targets: &[String], outcomes: &[Outcome]) {
    if args.format == SummaryFormat::Json {
        let text = serde_json::to_string_pretty(&fleet::to_json(outcomes)).unwrap_or_default();
        println!("{text}");
        return;
    }
    if targets.len() == 1 {
        for outcome in outcomes {
            if let Some(error) = &outcome.error {
                eprintln!("FATAL: {}: {error}", outcome.target);
            }
        }
        return;
    }
    print!("\n{}", fleet::table(outcomes));
    let _ = std::io::stdout().flush();
}

/// The sudo password: one line of standard input, read without echo from a terminal.
fn read_password() -> crate::Result<String> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    if stdin.is_terminal() {
        eprint!("sudo password: ");
        let _ = std::io::stderr().flush();
        let echo = EchoOff::new(&stdin);
        let read = stdin.lock().read_line(&mut line);
        drop(echo);
        eprintln!();
        read.map_err(|e| crate::Error::io("standard input", e))?;
    } else {
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| crate::Error::io("standard input", e))?;
    }
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err(usage(
            "--sudo-password-stdin: standard input held no password",
        ));
    }
    Ok(password)
}

/// Turns terminal echo off until dropped.
struct EchoOff {
    saved: Option<nix::sys::termios::Termios>,
}

impl EchoOff {
    fn new(stdin: &std::io::Stdin) -> EchoOff {
        use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
        let saved = tcgetattr(stdin).ok();
        if let Some(saved) = &saved {
            let mut quiet = saved.clone();
            quiet.local_flags.remove(LocalFlags::ECHO);
            let _ = tcsetattr(stdin, SetArg::TCSANOW, &quiet);
        }
        EchoOff { saved }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}

fn usage(message: &str) -> crate::Error {
    crate::Error::input("Chef::Exceptions::ConfigurationError", message.to_string())
}
