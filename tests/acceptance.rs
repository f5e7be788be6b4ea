//! The shared, language-neutral acceptance cases (`SKILLET_ACCEPTANCE_DIR`, default
//! `../shared/acceptance`). Every `*.json` file there is a group of cases; each group is run by
//! the module that knows its format, and a line `GROUP: N passed, M failed` is printed per group.

#[path = "acceptance/harness.rs"]
mod harness;

#[test]
fn acceptance_cases() {
    harness::run_all();
}
