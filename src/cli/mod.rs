//! The command line: `skillet solo`, `skillet check`, and `chef-solo` through argv[0].

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    0
}
