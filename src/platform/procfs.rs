//! The process table as /proc shows it: which processes there are, their arguments, their
//! state and when they started (which, with the PID, names a process even after PID reuse).

/// The PIDs of every process now.
pub fn pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

/// A process's arguments (argv[0] first); None once it is gone.
pub fn args(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut args: Vec<String> = raw
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    // The command line ends with a NUL, which leaves one empty piece.
    if args.last().is_some_and(String::is_empty) {
        args.pop();
    }
    Some(args)
}

/// A process's state letter (`Z` for a zombie, which `kill -0` still finds) and its start
/// time in clock ticks since boot; None once it is gone.
pub fn stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = text.get(text.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let started = fields.get(19)?.parse().ok()?;
    Some((state, started))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_in_the_table_with_its_arguments_and_start() {
        let own = std::process::id() as i32;
        assert!(pids().contains(&own));
        let (state, started) = stat(own).unwrap();
        assert!(matches!(state, 'R' | 'S'), "{state}");
        assert!(started > 0);
        let args = args(own).unwrap();
        assert_eq!(args.len(), std::env::args().count());
        assert!(stat(-1).is_none() && args_of_nobody().is_none());
    }

    fn args_of_nobody() -> Option<Vec<String>> {
        args(i32::MAX)
    }
}
