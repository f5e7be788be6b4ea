//! What the benches share: running the binary the way an operator does.

use std::path::Path;
use std::process::{Command, Output};

/// `skillet solo -c solo.json -o bench -F min` in `dir`.
pub fn solo(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillet"))
        .args([
            "solo",
            "-c",
            "solo.json",
            "-o",
            "bench",
            "--no-color",
            "-F",
            "min",
        ])
        .current_dir(dir)
        .output()
        .expect("skillet runs")
}

/// Asserts that `out` is a successful run that changed nothing: `0/<actions> resources updated`.
pub fn assert_noop(out: &Output, actions: usize) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(&format!("0/{actions} resources updated")),
        "not a no-op:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Times whole `skillet solo` runs in `dir` under `name`.
pub fn bench_solo(c: &mut criterion::Criterion, name: &str, dir: &Path) {
    c.bench_function(name, |b| {
        b.iter(|| {
            let out = solo(dir);
            assert!(out.status.success());
        })
    });
}
