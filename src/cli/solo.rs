//! `skillet solo` (and `chef-solo`): converge this host from a local chef-repo.
//!
//! Order of a run, as chef-solo's: config, run lock, automatic attributes, node (saved node,
//! `-E`, `-j`), run list expansion, compile, converge, node save, exit code.

use super::prepare::{load_config, prepare, NodeOptions, Prepared};
use super::SoloArgs;
use crate::compile::{compile_in_order, FileRecipeLoader, RepoSources};
use crate::converge::{converge, exit_code, lock::RunLock};
use crate::error::{Error, Result};
use crate::repo::{Config, Repository};
use crate::report::{doc::DocFormatter, json::JsonReport, minimal::MinimalFormatter};
use crate::report::{Events, Fanout, NullEvents, RunEnd, RunStart};
use crate::resource::context::DiffSettings;
use crate::resource::Context;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs `solo` and returns the exit code.
pub fn run(args: &SoloArgs) -> i32 {
    let started = Instant::now();
    super::signals::install();
    let mut warnings = Vec::new();
    let config = match load_config(args.config.as_deref(), &mut warnings) {
        Ok(c) => c,
        Err(e) => return early_failure(&e),
    };
    let mut events = match sinks(args, &config) {
        Ok(e) => e,
        Err(e) => return early_failure(&e),
    };
    let why_run = args.why_run || config.why_run;
    let run = RunFrame {
        args,
        config: &config,
        why_run,
        warnings: &warnings,
        started,
    };
    run.report(events.as_mut(), |events| {
        solo_run(args, &config, why_run, events)
    })
}

/// A run as the user sees it, shared by `solo` and `client`: its start, the config's warnings,
/// the body under the run lock, its end with Chef's exit code, and the FATAL line.
pub(super) struct RunFrame<'a> {
    pub args: &'a SoloArgs,
    pub config: &'a Config,
    pub why_run: bool,
    pub warnings: &'a [String],
    pub started: Instant,
}

impl RunFrame<'_> {
    pub fn report(
        &self,
        events: &mut dyn Events,
        body: impl FnOnce(&mut dyn Events) -> Result<()>,
    ) -> i32 {
        events.run_started(&RunStart {
            version: env!("CARGO_PKG_VERSION").to_string(),
            why_run: self.why_run,
            system_info: Vec::new(),
        });
        for w in self.warnings {
            warn(w);
        }
        let result = self.locked(events, body);
        let code = match &result {
            Ok(()) => exit_code::SUCCESS,
            Err(e) => exit_code::for_error(e),
        };
        events.run_completed(&RunEnd {
            elapsed: self.started.elapsed(),
            exit_code: code,
            error: result.as_ref().err(),
        });
        if let Err(e) = &result {
            eprintln!("FATAL: {}: {e}", e.class());
        }
        code
    }

    /// `body` while holding the run lock (`--lockfile`, `--run-lock-timeout`).
    fn locked(
        &self,
        events: &mut dyn Events,
        body: impl FnOnce(&mut dyn Events) -> Result<()>,
    ) -> Result<()> {
        let lockfile = self
            .args
            .lockfile
            .clone()
            .unwrap_or_else(|| self.config.lockfile.clone());
        let timeout = self
            .args
            .run_lock_timeout
            .map(Duration::from_secs)
            .or(self.config.run_lock_timeout);
        let _lock = RunLock::acquire(&lockfile, timeout, |holder| {
            warn(&crate::converge::lock::wait_message(holder));
        })
        .inspect_err(|e| events.compile_failed(e))?;
        body(events)
    }
}

/// The solo run itself, under the lock: repository, node, compile, converge, node save.
fn solo_run(
    args: &SoloArgs,
    config: &Config,
    why_run: bool,
    events: &mut dyn Events,
) -> Result<()> {
    let repo = Repository::open(config).inspect_err(|e| events.compile_failed(e))?;
    for path in &repo.shadowed {
        warn(&format!(
            "cookbook at {} is shadowed by a cookbook of the same name earlier in cookbook_path",
            path.display()
        ));
    }
    let opts = NodeOptions {
        node_name: args.node_name.as_deref(),
        environment: args.environment.as_deref(),
        json_attributes: args.json_attributes.as_deref(),
        override_runlist: args.override_runlist.as_deref(),
        legacy_mode: args.legacy_mode || config.solo_legacy_mode,
        minimal_ohai: args.minimal_ohai,
    };
    let mut prepared = prepare(config, &repo, &opts).inspect_err(|e| events.compile_failed(e))?;
    let log_level = args.log_level.as_deref().or(config.log_level.as_deref());
    compile_and_converge(&repo, &mut prepared, config, why_run, log_level, events)?;
    let legacy = args.legacy_mode || config.solo_legacy_mode;
    if !why_run && !prepared.overridden && !legacy {
        prepared.node.save(&prepared.node_file)?;
    }
    Ok(())
}

/// Compiles the prepared run and converges it: what `solo` and `client` share once the node is
/// built and the cookbooks are on disk.
pub(super) fn compile_and_converge(
    repo: &Repository,
    prepared: &mut Prepared,
    config: &Config,
    why_run: bool,
    log_level: Option<&str>,
    events: &mut dyn Events,
) -> Result<()> {
    let items: Vec<String> = prepared
        .expansion
        .recipes
        .iter()
        .map(|r| match &r.version {
            Some(v) => format!("{}@{v}", r.name),
            None => r.name.clone(),
        })
        .collect();
    events.run_list_resolved(&items);
    if prepared.run_list.is_empty() {
        warn(&format!(
            "Node {} has an empty run list.",
            prepared.node.name
        ));
    }

    let sources = RepoSources::new(repo, prepared.host.clone());
    let compiled = match compile_run(repo, prepared, &sources, events) {
        Ok(c) => c,
        Err(e) => {
            events.compile_failed(&e);
            return Err(e);
        }
    };
    for w in &compiled.warnings {
        warn(w);
    }

    let mut cx = Context::new(&config.file_cache_path);
    cx.why_run = why_run;
    cx.file_backup_path = config.file_backup_path.clone();
    cx.diff = DiffSettings {
        disabled: config.diff_disabled,
        filesize_threshold: config.diff_filesize_threshold,
        output_threshold: config.diff_output_threshold,
    };
    cx.live_output = matches!(log_level, Some("info" | "debug" | "trace"));
    cx.node = Arc::new(prepared.node.attributes.merged());

    let (_summary, result) = converge(&compiled.collection, &mut cx, events);
    result
}

fn compile_run(
    repo: &Repository,
    prepared: &mut Prepared,
    sources: &RepoSources<'_>,
    events: &mut dyn Events,
) -> Result<crate::compile::Compiled> {
    let order = std::mem::take(&mut prepared.cookbook_order);
    let cookbooks: Vec<(String, String)> = order
        .iter()
        .filter_map(|name| repo.cookbook(name))
        .map(|cb| (cb.name().to_string(), cb.metadata.version.to_string()))
        .collect();
    events.cookbooks_synchronized(&cookbooks);
    events.compile_started();
    compile_in_order(
        repo,
        order,
        &mut prepared.node,
        &prepared.expansion,
        &prepared.environment,
        &FileRecipeLoader,
        sources,
    )
}

/// Chef's log levels.
const LOG_LEVELS: &[&str] = &["auto", "trace", "debug", "info", "warn", "error", "fatal"];

/// The formatter chosen by `-F`, writing to `-L` or standard output, plus the JSON report
/// file when `--report-file` is given.
pub(super) fn sinks(args: &SoloArgs, config: &Config) -> Result<Box<dyn Events>> {
    let logfile = args.logfile.as_ref().or(config.log_location.as_ref());
    let out: Box<dyn Write> = match logfile {
        Some(path) => Box::new(open_append(path)?),
        None => Box::new(std::io::stdout()),
    };
    let color =
        args.color || (!args.no_color && logfile.is_none() && std::io::stdout().is_terminal());
    let level = args.log_level.as_deref().or(config.log_level.as_deref());
    if let Some(level) = level {
        if !LOG_LEVELS.contains(&level) {
            return Err(Error::input(
                "Chef::Exceptions::ConfigurationError",
                format!(
                    "unknown log level `{level}`: expected one of {}",
                    LOG_LEVELS.join(", ")
                ),
            ));
        }
    }
    let format = args.format.as_deref().unwrap_or("doc");
    let main: Box<dyn Events> = match format {
        "doc" => Box::new(DocFormatter::new(out).with_color(color)),
        "min" | "minimal" => Box::new(MinimalFormatter::new(out)),
        "json" => Box::new(JsonReport::new(out)),
        "null" => Box::new(NullEvents),
        other => {
            return Err(Error::input(
                "Chef::Exceptions::ConfigurationError",
                format!("unknown formatter `{other}`: expected doc, min, json or null"),
            ))
        }
    };
    let Some(report) = &args.report_file else {
        return Ok(main);
    };
    let file = std::fs::File::create(report).map_err(|e| Error::io(report, e))?;
    Ok(Box::new(Fanout::new(vec![
        main,
        Box::new(JsonReport::new(Box::new(file))),
    ])))
}

fn open_append(path: &Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

pub(super) fn warn(message: &str) {
    eprintln!("WARN: {message}");
}

/// A failure before any formatter exists: the message and Chef's exit code.
pub(super) fn early_failure(error: &Error) -> i32 {
    eprintln!("FATAL: {error}");
    exit_code::for_error(error)
}
