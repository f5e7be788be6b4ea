//! No-op checks of 50 installed packages taken from this machine's dpkg status database.
//!
//! `check_50_installed_packages` builds 50 `package` resources and checks `:install` on each
//! with a fresh run context per iteration, so each iteration reads and parses the status file
//! once, as a run does; nothing is spawned. `solo_process_noop_50_packages` runs the binary on a
//! recipe of the same 50 packages (start-up, compile, converge, node save).

#[path = "support/mod.rs"]
mod support;
use support::{assert_noop, bench_solo, solo};

use criterion::{criterion_group, criterion_main, Criterion};
use skillet::compile::decl::ResourceDecl;
use skillet::resource::build::{self, Segment, Sources};
use skillet::resource::{Action, Context, Resource};
use skillet::template::TemplateEngine;
use skillet::{Error, Result, SourceLocation};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const STATUS: &str = "/var/lib/dpkg/status";

/// The first 50 installed packages of the host (by name, qualified when Multi-Arch).
fn installed_packages() -> Vec<String> {
    let text = std::fs::read_to_string(STATUS).expect("this benchmark needs a dpkg status file");
    let status = skillet::platform::packages::dpkg_status::DpkgStatus::parse(&text);
    let mut names: Vec<String> = status
        .entries()
        .iter()
        .filter(|e| e.installed_version().is_some())
        .map(|e| e.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names.truncate(50);
    assert_eq!(names.len(), 50, "fewer than 50 installed packages");
    names
}

/// No cookbook files: package resources here have no response files.
struct NoSources;

impl Sources for NoSources {
    fn cookbook_file(
        &self,
        _cookbook: &str,
        _segment: Segment,
        source: &str,
        location: &SourceLocation,
    ) -> Result<PathBuf> {
        Err(Error::compile(location.clone(), format!("no {source}")))
    }

    fn template(&self, _path: &Path, location: &SourceLocation) -> Result<Arc<dyn TemplateEngine>> {
        Err(Error::compile(location.clone(), "no templates"))
    }
}

fn resources(names: &[String]) -> Vec<Box<dyn Resource>> {
    names
        .iter()
        .map(|name| {
            let decl = ResourceDecl {
                kind: "package".into(),
                name: name.clone(),
                properties: Default::default(),
                location: SourceLocation::new("bench.yml", 1, 1),
                cookbook: "bench".into(),
                recipe: "default".into(),
            };
            build::build(&decl, &NoSources).expect("builds")
        })
        .collect()
}

fn check_all(resources: &[Box<dyn Resource>], cache: &Path) -> Context {
    let mut cx = Context::new(cache);
    for r in resources {
        let plan = r.check(Action::Install, &mut cx).expect("checks");
        assert!(plan.is_empty(), "{:?} is not up to date", r.id());
    }
    cx
}

fn solo_repo(dir: &Path, names: &[String]) {
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write(
        "solo.json",
        r#"{"cookbook_path": ["cookbooks"], "node_path": "nodes", "file_cache_path": "cache", "node_name": "bench"}"#,
    );
    write(
        "cookbooks/bench/metadata.json",
        r#"{"name": "bench", "version": "1.0.0"}"#,
    );
    let mut yaml = String::from("resources:\n");
    for name in names {
        let _ = writeln!(yaml, "  - type: package\n    name: \"{name}\"");
    }
    write("cookbooks/bench/recipes/default.yml", &yaml);
}

fn bench(c: &mut Criterion) {
    let names = installed_packages();
    let list = resources(&names);
    let cache = tempfile::tempdir().expect("tempdir");
    let cx = check_all(&list, cache.path());
    assert_eq!(cx.packages.status_reads(), 1);
    assert_eq!(cx.packages.queries(), 0, "the no-op path spawned a command");

    let text = std::fs::read_to_string(STATUS).expect("status file");
    c.bench_function("parse_dpkg_status", |b| {
        b.iter(|| skillet::platform::packages::dpkg_status::DpkgStatus::parse(&text))
    });

    c.bench_function("check_50_installed_packages", |b| {
        b.iter(|| check_all(&list, cache.path()))
    });

    let dir = tempfile::tempdir().expect("tempdir");
    solo_repo(dir.path(), &names);
    assert_noop(&solo(dir.path()), 50);
    bench_solo(c, "solo_process_noop_50_packages", dir.path());
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench
}
criterion_main!(benches);
