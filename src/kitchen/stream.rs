//! Running a command with its output streamed to the user, each line prefixed with the
//! instance name, so the output of hosts converging side by side stays readable.

use crate::error::{Error, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

/// How a streamed command ended.
#[derive(Debug, Clone)]
pub struct Streamed {
    /// The exit status (128 + signal when killed).
    pub code: i32,
    /// Its last lines of output (standard output and error), for error messages.
    pub tail: Vec<String>,
}

const TAIL_LINES: usize = 20;

/// Set when standard output carries a document (`--format json`): progress goes to stderr.
static OUTPUT_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// Sends all progress and streamed output to standard error from now on.
pub fn keep_stdout_for_documents() {
    OUTPUT_TO_STDERR.store(true, Ordering::SeqCst);
}

/// Runs `cmd`, printing each line of its output as `       [prefix] line`.
pub fn run_streamed(mut cmd: Command, prefix: &str) -> Result<Streamed> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("skillet kitchen __enter", e))?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (out_lines, err_lines) = std::thread::scope(|s| {
        let out = s.spawn(|| pump(stdout, prefix, false));
        let err = s.spawn(|| pump(stderr, prefix, true));
        (
            out.join().unwrap_or_default(),
            err.join().unwrap_or_default(),
        )
    });
    let status = child
        .wait()
        .map_err(|e| Error::io("skillet kitchen __enter", e))?;
    let code = status.code().unwrap_or_else(|| {
        128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
    });
    let mut tail = out_lines;
    tail.extend(err_lines);
    let skip = tail.len().saturating_sub(TAIL_LINES);
    Ok(Streamed {
        code,
        tail: tail.split_off(skip),
    })
}

fn pump(source: Option<impl Read>, prefix: &str, to_stderr: bool) -> Vec<String> {
    let Some(source) = source else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    for line in BufReader::new(source).lines().map_while(|l| l.ok()) {
        print_line(prefix, &line, to_stderr);
        kept.push(line);
        if kept.len() > TAIL_LINES * 2 {
            kept.drain(..TAIL_LINES);
        }
    }
    kept
}

/// Prints one line with the instance prefix, whole, even when threads print at once.
pub fn print_line(prefix: &str, line: &str, to_stderr: bool) {
    let text = format!("       [{prefix}] {line}\n");
    write_out(&text, to_stderr);
}

fn write_out(text: &str, to_stderr: bool) {
    if to_stderr || OUTPUT_TO_STDERR.load(Ordering::SeqCst) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    } else {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
}

/// Prints a progress line (`-----> ...`), as Test Kitchen does.
pub fn progress(text: &str) {
    write_out(&format!("-----> {text}\n"), false);
}
