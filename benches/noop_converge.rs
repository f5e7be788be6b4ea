//! A no-op converge: a cookbook with 1 log, 21 directories, 100 templates (3 variables, one a
//! list), 20 files, 10 links and 1 guarded execute, already converged, run again.
//!
//! `solo_process` spawns the binary as an operator would (start-up, config, compile, converge,
//! node save, exit); the peak RSS of those runs is printed after the benchmark.

#[path = "support/mod.rs"]
mod support;
use support::{assert_noop, bench_solo, solo};

use criterion::{criterion_group, criterion_main, Criterion};
use std::fmt::Write as _;
use std::path::Path;

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// Builds the benchmark repository in `dir`; managed files go to `dir/host`.
fn build_repo(dir: &Path) {
    let host = dir.join("host");
    write(
        &dir.join("solo.json"),
        r#"{"cookbook_path": ["cookbooks"], "node_path": "nodes", "file_cache_path": "cache", "node_name": "bench"}"#,
    );
    let cb = dir.join("cookbooks/bench");
    write(
        &cb.join("metadata.json"),
        r#"{"name": "bench", "version": "1.0.0"}"#,
    );
    write(
        &cb.join("attributes/default.rb"),
        "default['bench']['port'] = 8080\ndefault['bench']['name'] = 'bench'\n",
    );
    write(
        &cb.join("templates/default/conf.erb"),
        "# generated\nname=<%= @name %>\nport=<%= @port %>\n<% @servers.each do |s| -%>\nserver <%= s %>;\n<% end -%>\nnode_port=<%= node['bench']['port'] %>\n",
    );
    let mut yaml = String::from("resources:\n  - type: log\n    name: bench run\n");
    let root = host.display();
    let _ = writeln!(
        yaml,
        "  - type: directory\n    name: \"{root}/d\"\n    recursive: true"
    );
    for d in 0..20 {
        let _ = writeln!(
            yaml,
            "  - type: directory\n    name: \"{root}/d/{d}\"\n    mode: \"0755\""
        );
    }
    for t in 0..100 {
        let _ = writeln!(
            yaml,
            "  - type: template\n    name: \"{root}/d/{}/t{t}.conf\"\n    source: conf.erb\n    mode: \"0644\"\n    variables:\n      name: t{t}\n      port: {}\n      servers: [a{t}, b{t}, c{t}]",
            t % 20,
            8000 + t
        );
    }
    for f in 0..20 {
        let _ = writeln!(
            yaml,
            "  - type: file\n    name: \"{root}/d/{f}/f{f}\"\n    content: \"file {f}\\n\"\n    mode: \"0600\""
        );
    }
    for l in 0..10 {
        let _ = writeln!(
            yaml,
            "  - type: link\n    name: \"{root}/l{l}\"\n    to: \"{root}/d/{l}\""
        );
    }
    let _ = writeln!(
        yaml,
        "  - type: execute\n    name: seed\n    command: \"touch {root}/seeded\"\n    creates: \"{root}/seeded\""
    );
    write(&cb.join("recipes/default.yml"), &yaml);
}

fn bench(c: &mut Criterion) {
    // SKILLET_BENCH_KEEP=DIR builds the fixture there and leaves it, to profile a run by hand.
    let kept = std::env::var_os("SKILLET_BENCH_KEEP").map(std::path::PathBuf::from);
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = kept.as_deref().unwrap_or(temp.path());
    if let Some(kept) = &kept {
        std::fs::create_dir_all(kept).expect("SKILLET_BENCH_KEEP directory");
    }
    build_repo(dir);
    let first = solo(dir);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    assert_noop(&solo(dir), 153);

    bench_solo(c, "solo_process_noop_153_resources", dir);

    if let Ok(usage) = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
    {
        // ru_maxrss is in kilobytes on Linux: the largest child seen.
        println!("peak RSS of a skillet run: {} kB", usage.max_rss());
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench
}
criterion_main!(benches);
