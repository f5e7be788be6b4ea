//! Reports of `skillet kitchen test`: the summary table, JSON, and JUnit XML for CI systems.

use super::actions::InstanceOutcome;
use serde_json::{json, Value};

/// The outcomes as one JSON document: `{"instances": [{instance, passed, error, phases:
/// [{phase, passed, seconds}]}]}`.
pub fn to_json(outcomes: &[InstanceOutcome]) -> Value {
    let instances: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            json!({
                "instance": o.instance,
                "passed": o.error.is_none(),
                "error": o.error,
                "phases": o.phases.iter().map(|p| json!({
                    "phase": p.phase,
                    "passed": p.passed,
                    "seconds": p.elapsed.as_secs_f64(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "instances": instances })
}

/// The outcomes as JUnit XML: one test suite, one test case per instance, its failure holding
/// the error.
pub fn to_junit(outcomes: &[InstanceOutcome]) -> String {
    let failures = outcomes.iter().filter(|o| o.error.is_some()).count();
    let total: f64 = outcomes.iter().map(seconds).sum();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"skillet kitchen\" tests=\"{}\" failures=\"{failures}\" time=\"{total:.3}\">\n",
        outcomes.len()
    );
    for outcome in outcomes {
        let name = escape(&outcome.instance);
        let time = seconds(outcome);
        match &outcome.error {
            None => xml.push_str(&format!(
                "    <testcase classname=\"kitchen\" name=\"{name}\" time=\"{time:.3}\"/>\n"
            )),
            Some(error) => {
                let first = escape(error.lines().next().unwrap_or(""));
                xml.push_str(&format!(
                    "    <testcase classname=\"kitchen\" name=\"{name}\" time=\"{time:.3}\">\n      <failure message=\"{first}\">{}</failure>\n    </testcase>\n",
                    escape(error)
                ));
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn seconds(outcome: &InstanceOutcome) -> f64 {
    outcome.phases.iter().map(|p| p.elapsed.as_secs_f64()).sum()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kitchen::actions::PhaseOutcome;
    use std::time::Duration;

    fn outcomes() -> Vec<InstanceOutcome> {
        let phase = |phase, passed| PhaseOutcome {
            phase,
            passed,
            elapsed: Duration::from_millis(250),
        };
        vec![
            InstanceOutcome {
                instance: "good-debian".into(),
                phases: vec![phase("create", true), phase("verify", true)],
                error: None,
            },
            InstanceOutcome {
                instance: "bad-debian".into(),
                phases: vec![phase("converge", false)],
                error: Some("file[/x] <changed> & \"more\"\nsecond line".into()),
            },
        ]
    }

    #[test]
    fn junit_has_one_case_per_instance_and_escapes_errors() {
        let xml = to_junit(&outcomes());
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(
            xml.contains("<testcase classname=\"kitchen\" name=\"good-debian\" time=\"0.500\"/>")
        );
        assert!(
            xml.contains("message=\"file[/x] &lt;changed&gt; &amp; &quot;more&quot;\""),
            "{xml}"
        );
    }

    #[test]
    fn json_names_each_phase_and_the_error() {
        let doc = to_json(&outcomes());
        assert_eq!(doc["instances"][0]["passed"], true);
        assert_eq!(doc["instances"][1]["phases"][0]["phase"], "converge");
        assert_eq!(doc["instances"][1]["phases"][0]["seconds"], 0.25);
    }
}
