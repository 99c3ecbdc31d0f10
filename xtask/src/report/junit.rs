//! JUnit XML: a suite per (entry, arch, stage); KUnit tests one case each with a classname
//! that keeps them unique.

use std::collections::BTreeMap;
use std::io::Write;

use crate::model::outcome::{Case, CaseStatus, Stage, Status};
use crate::report::html::xml_escape;
use crate::report::{first_line, log_tail, Grid};

/// `<failure>` for the code's failures, `<error>` for faults.
pub fn write(g: &Grid, w: &mut dyn Write) -> std::io::Result<()> {
    let r = g.results;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // Each stage is one test, except a KUnit stage with tests: each of its tests is one.
    let total: usize = r
        .cells
        .iter()
        .map(|c| {
            c.stages
                .iter()
                .filter(|s| s.stage != Stage::Kunit || c.kunit.tests.is_empty())
                .count()
                + c.kunit.tests.len()
        })
        .sum();
    out.push_str(&format!(
        "<testsuites name=\"rfl-health\" tests=\"{total}\">\n"
    ));
    for cell in g.cells() {
        let c = cell.result;
        let who = cell.name().replace(' ', "-");
        let dir = cell.run_dir;
        for s in &c.stages {
            if s.stage == Stage::Kunit && !c.kunit.tests.is_empty() {
                let mut by_suite: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
                for t in &c.kunit.tests {
                    by_suite.entry(t.suite.as_str()).or_default().push(t);
                }
                for (suite, tests) in by_suite {
                    let count = |s: CaseStatus| tests.iter().filter(|t| t.status == s).count();
                    let fails = count(CaseStatus::Fail);
                    let errors = count(CaseStatus::Crash);
                    let skipped = count(CaseStatus::Skip);
                    out.push_str(&format!(
                        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"0\" timestamp=\"{}\">\n",
                        xml_escape(&format!("{who}.{}.kunit.{suite}", c.arch)),
                        tests.len(),
                        xml_escape(&c.started)
                    ));
                    for t in tests {
                        let (file, line) = t
                            .location
                            .as_deref()
                            .and_then(|l| l.rsplit_once(':'))
                            .map_or((None, None), |(f, n)| (Some(f), Some(n)));
                        out.push_str(&format!(
                            "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"{}{}>",
                            xml_escape(&t.name),
                            xml_escape(&format!("{who}.{}.{suite}", c.arch)),
                            file.map(|f| format!(" file=\"{}\"", xml_escape(f)))
                                .unwrap_or_default(),
                            line.map(|n| format!(" line=\"{}\"", xml_escape(n)))
                                .unwrap_or_default()
                        ));
                        match t.status {
                            CaseStatus::Fail => out.push_str(&format!(
                                "<failure message=\"{}\">{}</failure>",
                                xml_escape(&format!("{} failed", t.name)),
                                xml_escape(&t.summary)
                            )),
                            CaseStatus::Crash => out.push_str(&format!(
                                "<error message=\"{}\">{}</error>",
                                xml_escape(&format!("{} crashed", t.name)),
                                xml_escape(&t.summary)
                            )),
                            CaseStatus::Skip => out.push_str(&format!(
                                "<skipped message=\"{}\"/>",
                                xml_escape(&t.summary)
                            )),
                            CaseStatus::Pass => {}
                        }
                        out.push_str("</testcase>\n");
                    }
                    out.push_str("  </testsuite>\n");
                }
                continue;
            }
            let (f, e, sk) = match s.status {
                Status::Fail => (1, 0, 0),
                Status::Error => (0, 1, 0),
                Status::Skip => (0, 0, 1),
                Status::Pass => (0, 0, 0),
            };
            out.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"1\" failures=\"{f}\" errors=\"{e}\" skipped=\"{sk}\" time=\"{:.3}\" timestamp=\"{}\">\n",
                xml_escape(&format!("{who}.{}.{}", c.arch, s.stage.name())),
                s.duration_s,
                xml_escape(&c.started)
            ));
            let loc = s.diagnostics.iter().find(|d| d.file.is_some());
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"{}{}>",
                s.stage.name(),
                xml_escape(&format!("{who}.{}", c.arch)),
                s.duration_s,
                loc.and_then(|d| d.file.as_ref())
                    .map(|f| format!(" file=\"{}\"", xml_escape(f)))
                    .unwrap_or_default(),
                loc.and_then(|d| d.line)
                    .map(|n| format!(" line=\"{n}\""))
                    .unwrap_or_default()
            ));
            let detail = s
                .diagnostics
                .iter()
                .take(20)
                .map(|d| d.render())
                .collect::<Vec<_>>()
                .join("\n");
            match s.status {
                Status::Fail => out.push_str(&format!(
                    "<failure message=\"{}\">{}</failure>",
                    xml_escape(first_line(&s.summary)),
                    xml_escape(&detail)
                )),
                Status::Error => out.push_str(&format!(
                    "<error message=\"{}\">{}</error>",
                    xml_escape(first_line(&s.summary)),
                    xml_escape(&detail)
                )),
                Status::Skip => out.push_str(&format!(
                    "<skipped message=\"{}\"/>",
                    xml_escape(&s.summary)
                )),
                Status::Pass => {}
            }
            if matches!(s.status, Status::Fail | Status::Error) {
                out.push_str(&format!(
                    "<system-out>{}</system-out>",
                    xml_escape(&log_tail(dir, c, s.log.as_deref(), 40))
                ));
            }
            out.push_str("</testcase>\n  </testsuite>\n");
        }
    }
    out.push_str("</testsuites>\n");
    w.write_all(out.as_bytes())
}
