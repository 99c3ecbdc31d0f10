//! `report`: a report in one format from finished results.

use std::path::Path;
use std::process::ExitCode;

use crate::commands::flags::{ReportArgs, ReportFormat};
use crate::model::baseline;
use crate::report;

impl ReportArgs {
    /// Exit 1 when `--fail-on` says the results fail (`regression` without `--baseline` is
    /// `fail`, said on stderr), saying why on stderr; 2 when a results file is unreadable.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let (fail_on, fallback) = baseline::effective(self.fail_on, self.baseline.is_some());
        let mut loaded = report::load(&self.results)?;
        if let Some(old) = &self.baseline {
            let old = report::load(std::slice::from_ref(old))?;
            baseline::compare(&mut loaded.results.cells, &old.results.cells);
        }
        let mut buf: Vec<u8> = Vec::new();
        // The HTML report links logs relative to the folder it is written to.
        let out_dir = self
            .output
            .as_ref()
            .and_then(|o| o.parent())
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()));
        // Colour as anstream decides for where the text goes: `--color`, NO_COLOR,
        // CLICOLOR_FORCE, and whether stdout is a terminal (a file never is).
        let colour = match self.output {
            None => anstream::AutoStream::choice(&std::io::stdout()),
            Some(_) => anstream::AutoStream::choice(&Vec::new()),
        };
        let grid = report::Grid::new(&loaded);
        match self.format {
            ReportFormat::Text => {
                report::text::write(&grid, &mut anstream::AutoStream::new(&mut buf, colour))?
            }
            ReportFormat::Json => {
                serde_json::to_writer_pretty(&mut buf, &loaded.results)?;
                buf.push(b'\n');
            }
            ReportFormat::Markdown => report::markdown::write(&grid, &mut buf)?,
            ReportFormat::Junit => report::junit::write(&grid, &mut buf)?,
            ReportFormat::Kcidb => report::kcidb::write(&grid, &mut buf)?,
            ReportFormat::Html => report::html::write(&grid, &mut buf, out_dir.as_deref())?,
            ReportFormat::Github => {
                // A token no patch can know in advance: it ends the stop-commands block.
                let token = report::github::stop_token()
                    .map_err(|e| anyhow::anyhow!("read a random token from /dev/urandom: {e}"))?;
                let root = crate::sys::paths::project_root();
                report::github::write(&grid, &mut buf, &token, &root)?
            }
        }
        match &self.output {
            Some(p) => {
                std::fs::write(p, &buf).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
            }
            None => std::io::Write::write_all(&mut std::io::stdout(), &buf)?,
        }
        if let Some(line) = fallback {
            eprintln!("{line}");
        }
        for n in &loaded.results.expectations {
            eprintln!("{}", report::text::note_line(n));
        }
        let (cells, notes) = (&loaded.results.cells, &loaded.results.expectations);
        Ok(match baseline::failure_with(cells, notes, fail_on) {
            Some(why) => {
                eprintln!("report: {why}");
                ExitCode::from(1)
            }
            None => ExitCode::SUCCESS,
        })
    }
}
