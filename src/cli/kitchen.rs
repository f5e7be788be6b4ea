//! `skillet kitchen`: Test Kitchen's commands on namespace hosts.
//!
//! `list`, `create`, `converge`, `verify`, `destroy`, `test`, `login` and `exec` take an
//! instance name or a regular expression (all instances when omitted); `-c N` runs N instances
//! at a time. `__init` and `__enter` are the driver's hidden modes (a host's PID 1, a command
//! inside a host); `__in` is what `KITCHEN_EXEC` names for a multi-host suite's lab scripts;
//! `__forward` makes the lab's package cache reachable from the lab (`apt_network: cache`).

use crate::error::{Error, Result};
use crate::kitchen::driver::host_enter::{self, EnterSpec};
use crate::kitchen::driver::host_init::{self, HostSpec};
use crate::kitchen::driver::layer::{self, LayerSpec};
use crate::kitchen::driver::namespace::{host_path, is_running};
use crate::kitchen::driver::require_root;
use crate::kitchen::stream::{self, progress};
use crate::kitchen::{cache, report};
use crate::kitchen::{DestroyPolicy, Instance, InstanceOutcome, Kitchen};
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `skillet kitchen`'s arguments.
#[derive(Debug, Args, Clone)]
pub struct KitchenArgs {
    #[command(subcommand)]
    command: KitchenCommand,
}

#[derive(Debug, Subcommand, Clone)]
enum KitchenCommand {
    /// List instances: driver, provisioner, last action, whether the host runs.
    List(Select),
    /// Create hosts.
    Create(Many),
    /// Create hosts if needed and converge them.
    Converge(Many),
    /// Converge if needed, then run each suite's verifier.
    Verify(Many),
    /// Destroy hosts, leaving nothing behind.
    Destroy(Many),
    /// Destroy, create, converge twice (idempotency gate), verify, destroy.
    Test(TestArgs),
    /// A shell inside the host.
    Login(LoginArgs),
    /// Run a command inside hosts.
    Exec(ExecArgs),
    #[command(name = "__init", hide = true)]
    Init(InitArgs),
    #[command(name = "__layer", hide = true)]
    Layer(LayerArgs),
    #[command(name = "__enter", hide = true)]
    Enter(EnterArgs),
    #[command(name = "__in", hide = true)]
    In(InArgs),
    #[command(name = "__forward", hide = true)]
    Forward(ForwardArgs),
}

#[derive(Debug, Args, Clone)]
struct LoginArgs {
    /// An instance name, or a regular expression matching one instance.
    pattern: Option<String>,
    /// The host of a multi-host suite (default: its first).
    #[arg(long = "host", value_name = "NAME")]
    host: Option<String>,
}

#[derive(Debug, Args, Clone)]
struct Select {
    /// An instance name, or a regular expression over instance names (default: all).
    pattern: Option<String>,
}

#[derive(Debug, Args, Clone)]
struct Many {
    /// An instance name, or a regular expression over instance names (default: all).
    pattern: Option<String>,
    /// How many instances at a time (without N: all at once).
    #[arg(short = 'c', long = "concurrency", num_args = 0..=1, default_missing_value = "0")]
    concurrency: Option<usize>,
}

#[derive(Debug, Args, Clone)]
struct TestArgs {
    #[command(flatten)]
    many: Many,
    /// When to destroy the host at the end.
    #[arg(long = "destroy", value_enum, default_value = "passing")]
    destroy: DestroyWhen,
    /// The summary as a table (default) or as JSON on standard output.
    #[arg(long = "format", value_enum, default_value = "table")]
    format: SummaryFormat,
    /// Also write the results as JUnit XML to this file.
    #[arg(long = "junit", value_name = "FILE")]
    junit: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SummaryFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DestroyWhen {
    Passing,
    Always,
    Never,
}

#[derive(Debug, Args, Clone)]
struct ExecArgs {
    /// An instance name, or a regular expression over instance names (default: all).
    pattern: Option<String>,
    /// The command line to run (with /bin/sh -c).
    #[arg(short = 'c', long = "command", required = true)]
    command: String,
    /// The host of a multi-host suite (default: its first).
    #[arg(long = "host", value_name = "NAME")]
    host: Option<String>,
}

#[derive(Debug, Args, Clone)]
struct InitArgs {
    #[arg(long)]
    netns: PathBuf,
    #[arg(long)]
    lower: PathBuf,
    #[arg(long)]
    scratch: PathBuf,
    #[arg(long)]
    hostname: String,
    #[arg(long)]
    apt_netns: bool,
    #[arg(long)]
    layer: Option<PathBuf>,
    #[arg(long)]
    apt_proxy: Option<String>,
}

#[derive(Debug, Args, Clone)]
struct LayerArgs {
    #[arg(long)]
    lower: PathBuf,
    #[arg(long)]
    scratch: PathBuf,
    #[arg(long)]
    out: PathBuf,
    #[arg(last = true)]
    packages: Vec<String>,
}

/// `__forward --lab-netns FILE --to ADDRESS`: the package cache's forwarder.
#[derive(Debug, Args, Clone)]
struct ForwardArgs {
    #[arg(long)]
    lab_netns: PathBuf,
    #[arg(long)]
    to: std::net::SocketAddr,
}

#[derive(Debug, Args, Clone)]
struct EnterArgs {
    #[arg(long)]
    pid: i32,
    #[arg(long)]
    skillet: bool,
    #[arg(long = "env")]
    env: Vec<String>,
    #[arg(long)]
    timeout: Option<u64>,
    /// A terminal of the host's own when standard input is a terminal.
    #[arg(long)]
    tty: bool,
    /// Run on the machine in this network namespace (the lab's) instead of inside a host.
    #[arg(long)]
    lab_netns: Option<PathBuf>,
    #[arg(last = true)]
    argv: Vec<String>,
}

/// `__in HOSTS NAME COMMAND...`: HOSTS is `name=pid,...` as `KITCHEN_EXEC` carries it.
#[derive(Debug, Args, Clone)]
struct InArgs {
    hosts: String,
    name: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    argv: Vec<String>,
}

/// Runs `skillet kitchen ...` and returns the exit code.
pub fn run(args: &KitchenArgs) -> i32 {
    match &args.command {
        KitchenCommand::Init(a) => return host_init::run(&init_spec(a)),
        KitchenCommand::Layer(a) => {
            return layer::run(&LayerSpec {
                lower: a.lower.clone(),
                scratch: a.scratch.clone(),
                out: a.out.clone(),
                packages: a.packages.clone(),
            })
        }
        KitchenCommand::Enter(a) => {
            let spec = enter_spec(a);
            return match (&a.lab_netns, a.tty) {
                (Some(netns), _) => host_enter::run_in_lab(netns, &spec),
                (None, true) => host_enter::run_with_terminal(&spec),
                (None, false) => host_enter::run(&spec),
            };
        }
        KitchenCommand::In(a) => return run_in(a),
        KitchenCommand::Forward(a) => return cache::run_forwarder(&a.lab_netns, a.to),
        _ => {}
    }
    match dispatch(&args.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(">>>>>> {e}");
            1
        }
    }
}

fn dispatch(command: &KitchenCommand) -> Result<i32> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let kitchen = Kitchen::load(&cwd)?;
    for warning in &kitchen.config.warnings {
        eprintln!("WARN: {warning}");
    }
    if let KitchenCommand::List(select) = command {
        return list(&kitchen, select.pattern.as_deref());
    }
    require_root()?;
    match command {
        KitchenCommand::Create(m) => each(&kitchen, m, |k, i| k.create(i).map(|_| ())),
        KitchenCommand::Converge(m) => each(&kitchen, m, Kitchen::converge),
        KitchenCommand::Verify(m) => each(&kitchen, m, Kitchen::verify),
        KitchenCommand::Destroy(m) => destroy(&kitchen, m),
        KitchenCommand::Test(t) => test(&kitchen, t),
        KitchenCommand::Login(l) => login(&kitchen, l),
        KitchenCommand::Exec(e) => exec(&kitchen, e),
        _ => Ok(0),
    }
}

/// `$KITCHEN_EXEC NAME COMMAND...`: the command inside the named host, its status passed on.
fn run_in(a: &InArgs) -> i32 {
    let found = a
        .hosts
        .split(',')
        .filter_map(|entry| entry.split_once('='))
        .find(|(name, _)| *name == a.name)
        .and_then(|(_, pid)| pid.parse::<i32>().ok());
    let Some(pid) = found else {
        let names: Vec<&str> = a
            .hosts
            .split(',')
            .filter_map(|e| e.split_once('=').map(|(n, _)| n))
            .collect();
        eprintln!(
            "no host `{}` in this instance: its hosts are {}",
            a.name,
            names.join(", ")
        );
        return 127;
    };
    host_enter::run(&EnterSpec {
        pid,
        skillet: false,
        env: Vec::new(),
        timeout: None,
        argv: a.argv.clone(),
    })
}

fn init_spec(a: &InitArgs) -> HostSpec {
    HostSpec {
        netns: a.netns.clone(),
        lower: a.lower.clone(),
        scratch: a.scratch.clone(),
        hostname: a.hostname.clone(),
        hosts: read_stdin(),
        apt_netns: a.apt_netns,
        layer: a.layer.clone(),
        apt_proxy: a.apt_proxy.clone(),
    }
}

fn read_stdin() -> String {
    let mut text = String::new();
    let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text);
    text
}

fn enter_spec(a: &EnterArgs) -> EnterSpec {
    EnterSpec {
        pid: a.pid,
        skillet: a.skillet,
        env: a
            .env
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        timeout: a.timeout.map(Duration::from_secs),
        argv: a.argv.clone(),
    }
}

fn list(kitchen: &Kitchen, pattern: Option<&str>) -> Result<i32> {
    let mut rows = vec![[
        "Instance",
        "Driver",
        "Provisioner",
        "Verifier",
        "Last Action",
        "State",
        "Last Error",
    ]
    .map(str::to_string)];
    for instance in kitchen.config.select(pattern)? {
        let state = kitchen.states.load(&instance.name)?;
        let host_state = if state.hosts.is_empty() {
            "-".to_string()
        } else if !state.hosts.iter().all(is_running) {
            "stopped".to_string()
        } else if instance.is_multi_host() {
            let each: Vec<String> = state
                .hosts
                .iter()
                .map(|h| format!("{} {}", h.name, h.address))
                .collect();
            format!("running ({})", each.join(", "))
        } else {
            format!("running ({})", state.hosts[0].address)
        };
        rows.push([
            instance.name.clone(),
            instance.driver.name.clone(),
            instance.provisioner.name.clone(),
            instance.verifier.name.clone(),
            state.last_action.unwrap_or_else(|| "<Not Created>".into()),
            host_state,
            state
                .last_error
                .map(|e| e.lines().next().unwrap_or("").to_string())
                .unwrap_or_else(|| "<None>".into()),
        ]);
    }
    print_table(&rows);
    Ok(0)
}

fn print_table<const N: usize>(rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}

/// Runs `action` on every selected instance, `-c` at a time; errors are reported per instance.
fn each(
    kitchen: &Kitchen,
    many: &Many,
    action: impl Fn(&Kitchen, &Instance) -> Result<()> + Sync,
) -> Result<i32> {
    let instances = kitchen.config.select(many.pattern.as_deref())?;
    let outcomes = concurrently(&instances, many.concurrency, |instance| {
        let result = action(kitchen, instance);
        InstanceOutcome {
            instance: instance.name.clone(),
            phases: Vec::new(),
            error: result.err().map(|e| e.to_string()),
        }
    });
    Ok(report_failures(&outcomes))
}

fn destroy(kitchen: &Kitchen, many: &Many) -> Result<i32> {
    let code = each(kitchen, many, |k, i| k.destroy(&i.name))?;
    if many.pattern.is_some() {
        return Ok(code);
    }
    // Instances no longer in kitchen.yml still have hosts to take down.
    let known: Vec<&str> = kitchen
        .config
        .instances
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    let mut failed = code;
    for name in kitchen.states.names() {
        if !known.contains(&name.as_str()) {
            if let Err(e) = kitchen.destroy(&name) {
                eprintln!(">>>>>> {name}: {e}");
                failed = 1;
            }
        }
    }
    // So do hosts whose state was never written (a crash in the middle of a create).
    let hosts: Vec<_> = kitchen
        .states
        .names()
        .iter()
        .filter_map(|n| kitchen.states.load(n).ok())
        .flat_map(|s| s.hosts)
        .collect();
    for netns in kitchen.driver().sweep_orphans(&hosts)? {
        progress(&format!("Destroyed a host with no state ({netns})"));
    }
    for dir in kitchen.sweep_orphan_servers() {
        progress(&format!(
            "Stopped a Chef server with no state ({})",
            dir.display()
        ));
    }
    Ok(failed)
}

fn test(kitchen: &Kitchen, args: &TestArgs) -> Result<i32> {
    let instances = kitchen.config.select(args.many.pattern.as_deref())?;
    let policy = match args.destroy {
        DestroyWhen::Passing => DestroyPolicy::Passing,
        DestroyWhen::Always => DestroyPolicy::Always,
        DestroyWhen::Never => DestroyPolicy::Never,
    };
    if matches!(args.format, SummaryFormat::Json) {
        stream::keep_stdout_for_documents();
    }
    let started = Instant::now();
    let outcomes = concurrently(&instances, args.many.concurrency, |instance| {
        kitchen.test(instance, policy)
    });
    match args.format {
        SummaryFormat::Table => {
            print_summary(&outcomes);
            progress(&format!(
                "Test finished in {:.2}s",
                started.elapsed().as_secs_f64()
            ));
        }
        SummaryFormat::Json => println!("{:#}", report::to_json(&outcomes)),
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, report::to_junit(&outcomes)).map_err(|e| Error::io(path, e))?;
    }
    Ok(report_failures(&outcomes))
}

fn print_summary(outcomes: &[InstanceOutcome]) {
    let mut rows = vec![["Instance", "Result", "Phases"].map(str::to_string)];
    for outcome in outcomes {
        let phases: Vec<String> = outcome
            .phases
            .iter()
            .map(|p| {
                let mark = if p.passed { "ok" } else { "FAILED" };
                format!("{} {mark} {:.2}s", p.phase, p.elapsed.as_secs_f64())
            })
            .collect();
        let result = if outcome.error.is_none() {
            "passed"
        } else {
            "FAILED"
        };
        rows.push([
            outcome.instance.clone(),
            result.to_string(),
            phases.join(", "),
        ]);
    }
    print_table(&rows);
}

fn report_failures(outcomes: &[InstanceOutcome]) -> i32 {
    let mut code = 0;
    for outcome in outcomes {
        if let Some(error) = &outcome.error {
            eprintln!(">>>>>> {}: {error}", outcome.instance);
            code = 1;
        }
    }
    code
}

/// Runs `work` over the instances on up to `limit` threads (None: one at a time; 0: all).
fn concurrently(
    instances: &[Instance],
    limit: Option<usize>,
    work: impl Fn(&Instance) -> InstanceOutcome + Sync,
) -> Vec<InstanceOutcome> {
    let threads = match limit {
        None => 1,
        Some(0) => instances.len(),
        Some(n) => n,
    }
    .clamp(1, instances.len().max(1));
    let next = AtomicUsize::new(0);
    let mut outcomes: Vec<(usize, InstanceOutcome)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(instance) = instances.get(i) else {
                            break done;
                        };
                        done.push((i, work(instance)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

fn one_instance(kitchen: &Kitchen, pattern: Option<&str>) -> Result<Instance> {
    let mut found = kitchen.config.select(pattern)?;
    if found.len() != 1 {
        let names: Vec<String> = found.iter().map(|i| i.name.clone()).collect();
        return Err(Error::input(
            "Kitchen::UserError",
            format!(
                "login needs exactly one instance, and `{}` matches {}: name one",
                pattern.unwrap_or(""),
                names.join(", ")
            ),
        ));
    }
    Ok(found.remove(0))
}

fn login(kitchen: &Kitchen, args: &LoginArgs) -> Result<i32> {
    let instance = one_instance(kitchen, args.pattern.as_deref())?;
    let host = kitchen.running_host_named(&instance.name, args.host.as_deref())?;
    let shell = if host_path(&host, "/bin/bash").exists() {
        vec!["/bin/bash".to_string(), "-l".to_string()]
    } else {
        vec!["/bin/sh".to_string(), "-l".to_string()]
    };
    let spec = EnterSpec {
        pid: host.pid,
        skillet: false,
        env: Vec::new(),
        timeout: None,
        argv: shell,
    };
    let status = kitchen
        .driver()
        .terminal_command(&host, &spec)?
        .status()
        .map_err(|e| Error::io("skillet kitchen __enter", e))?;
    Ok(status.code().unwrap_or(1))
}

fn exec(kitchen: &Kitchen, args: &ExecArgs) -> Result<i32> {
    let mut code = 0;
    for instance in kitchen.config.select(args.pattern.as_deref())? {
        let host = kitchen.running_host_named(&instance.name, args.host.as_deref())?;
        progress(&format!("Execute command on {}.", instance.name));
        let spec = EnterSpec {
            pid: host.pid,
            skillet: false,
            env: Vec::new(),
            timeout: None,
            argv: vec!["/bin/sh".into(), "-c".into(), args.command.clone()],
        };
        let status = kitchen
            .driver()
            .command(&host, &spec)?
            .status()
            .map_err(|e| Error::io("skillet kitchen __enter", e))?;
        if !status.success() {
            code = status.code().unwrap_or(1);
        }
    }
    Ok(code)
}
