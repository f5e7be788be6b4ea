//! Finds case files and dispatches them by group.
//!
//! Each group module exposes `run_case(&Value) -> Outcome`. A case file with new ids runs
//! without code changes; a skipped case is listed by id with its reason, never silently.

use serde_json::Value;
use std::path::PathBuf;

#[path = "attribute_merge.rs"]
mod attribute_merge;
#[path = "idempotence.rs"]
mod idempotence;
#[path = "notification_order.rs"]
mod notification_order;
#[path = "run_list_expansion.rs"]
mod run_list_expansion;

/// The result of one case.
pub enum Outcome {
    Pass,
    Fail(String),
    /// Not runnable yet, with the reason (printed by id). Every current case runs; the variant
    /// stays so a group can name what it cannot run instead of hiding it.
    #[allow(dead_code)]
    Skip(String),
}

fn acceptance_dir() -> PathBuf {
    match std::env::var_os("SKILLET_ACCEPTANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/acceptance"),
    }
}

/// Runs every case of every group and fails if any case failed.
pub fn run_all() {
    let dir = acceptance_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read acceptance dir {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());

    let mut failures = Vec::new();
    let (mut total_pass, mut total_fail) = (0, 0);
    for file in files {
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let doc: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let group = doc["group"].as_str().unwrap_or("?").to_string();
        let cases = doc["cases"].as_array().cloned().unwrap_or_default();
        let (mut passed, mut failed, mut skipped) = (0, 0, Vec::new());
        for case in &cases {
            let id = case["id"].as_str().unwrap_or("?").to_string();
            let group_of_case = case["group"].as_str().unwrap_or(&group).to_string();
            let outcome = std::panic::catch_unwind(|| run_case(&group_of_case, case))
                .unwrap_or_else(|_| Outcome::Fail("panicked".into()));
            match outcome {
                Outcome::Pass => passed += 1,
                Outcome::Fail(why) => {
                    failed += 1;
                    failures.push(format!("{id}: {why}"));
                }
                Outcome::Skip(why) => skipped.push(format!("{id} ({why})")),
            }
        }
        if skipped.is_empty() {
            println!("{group}: {passed} passed, {failed} failed");
        } else {
            println!(
                "{group}: {passed} passed, {failed} failed, {} skipped: {}",
                skipped.len(),
                skipped.join(", ")
            );
        }
        total_pass += passed;
        total_fail += failed;
    }
    println!("acceptance: {total_pass} passed, {total_fail} failed");
    assert!(
        failures.is_empty(),
        "failed cases:\n{}",
        failures.join("\n")
    );
}

fn run_case(group: &str, case: &Value) -> Outcome {
    match group {
        "attribute_merge" => attribute_merge::run_case(case),
        "run_list_expansion" => run_list_expansion::run_case(case),
        "notification_order" => notification_order::run_case(case),
        "idempotence" => idempotence::run_case(case),
        other => Outcome::Fail(format!("no runner for group `{other}`")),
    }
}
