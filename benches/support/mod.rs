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
