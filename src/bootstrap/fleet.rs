//! Many targets at once: a hosts file, N threads, and the summary (a table or JSON).

use super::{bootstrap, Binary, Bundle, Outcome, Plan};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Targets from a hosts file: one a line; blank lines and `#` comments are skipped.
pub fn read_hosts_file(path: &Path) -> crate::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
    Ok(parse_hosts(&text))
}

fn parse_hosts(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Bootstraps `targets`, `concurrency` at a time; outcomes in the targets' order.
pub fn bootstrap_all(
    targets: &[String],
    concurrency: usize,
    plan: &Plan,
    bundle: &Bundle,
    binary: &Binary,
) -> Vec<Outcome> {
    let prefixed = targets.len() > 1;
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Outcome>>> = targets.iter().map(|_| Mutex::new(None)).collect();
    let workers = concurrency.clamp(1, targets.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(target) = targets.get(i) else {
                    break;
                };
                let outcome = bootstrap(target, plan, bundle, binary, prefixed);
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(outcome);
                }
            });
        }
    });
    results
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect()
}

/// The exit code of a whole bootstrap: 0 when every target converged; the failing targets'
/// code when they share one; else 1.
pub fn exit_code(outcomes: &[Outcome]) -> i32 {
    let mut codes = outcomes.iter().filter(|o| !o.succeeded()).map(|o| {
        if o.exit_code == 0 {
            1
        } else {
            o.exit_code
        }
    });
    let Some(first) = codes.next() else {
        return 0;
    };
    if codes.all(|c| c == first) {
        first
    } else {
        1
    }
}

/// The summary table: target, result, resources updated, time.
pub fn table(outcomes: &[Outcome]) -> String {
    let rows: Vec<[String; 4]> = outcomes
        .iter()
        .map(|o| {
            let result = match &o.error {
                None => "converged".to_string(),
                Some(e) => format!("FAILED ({}): {e}", o.exit_code),
            };
            let updated = match (o.updated, o.total) {
                (Some(u), Some(t)) => format!("{u}/{t}"),
                _ => "-".to_string(),
            };
            [
                o.target.clone(),
                result,
                updated,
                format!("{:.1}s", o.elapsed.as_secs_f64()),
            ]
        })
        .collect();
    let header = [
        "Host".to_string(),
        "Result".into(),
        "Updated".into(),
        "Time".into(),
    ];
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 4]| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", text.join("  ").trim_end())
    };
    let mut out = line(&header);
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

/// The summary as JSON: one object per target.
pub fn to_json(outcomes: &[Outcome]) -> Value {
    Value::Array(
        outcomes
            .iter()
            .map(|o| {
                json!({
                    "host": o.target,
                    "result": if o.succeeded() { "converged" } else { "failed" },
                    "exit_code": o.exit_code,
                    "error": o.error,
                    "updated": o.updated,
                    "total": o.total,
                    "elapsed_ms": o.elapsed.as_millis() as u64,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcome(target: &str, code: i32, error: Option<&str>) -> Outcome {
        Outcome {
            target: target.into(),
            exit_code: code,
            error: error.map(str::to_string),
            updated: error.is_none().then_some(2),
            total: error.is_none().then_some(5),
            elapsed: Duration::from_millis(1500),
        }
    }

    #[test]
    fn hosts_files_skip_comments_and_blank_lines() {
        assert_eq!(
            parse_hosts("# web\nroot@a\n\n  b  # db\n"),
            vec!["root@a".to_string(), "b".into()]
        );
    }

    #[test]
    fn the_table_has_a_row_per_host() {
        let text = table(&[
            outcome("root@a", 0, None),
            outcome("b", 1, Some("connection refused")),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Host"));
        assert!(lines[1].contains("converged") && lines[1].contains("2/5"));
        assert!(lines[2].contains("FAILED (1): connection refused"));
        assert!(lines[1].contains("1.5s"));
    }

    #[test]
    fn exit_codes_combine() {
        assert_eq!(exit_code(&[outcome("a", 0, None)]), 0);
        assert_eq!(
            exit_code(&[outcome("a", 0, None), outcome("b", 43, Some("x"))]),
            43
        );
        assert_eq!(
            exit_code(&[outcome("a", 43, Some("x")), outcome("b", 1, Some("y"))]),
            1
        );
        let json = to_json(&[outcome("a", 0, None)]);
        assert_eq!(json[0]["result"], "converged");
        assert_eq!(json[0]["updated"], 2);
    }
}
