//! `expectations lint`: the known-failures file checked without running anything, every
//! problem at its file:line:col.

use std::process::ExitCode;

use crate::commands::flags::{ExpectationsArgs, ExpectationsCmd, LintArgs};
use crate::commands::select;
use crate::model::expect::{self, Known};

impl ExpectationsArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self.cmd {
            ExpectationsCmd::Lint(args) => args.run(),
        }
    }
}

impl LintArgs {
    /// Exit 0 when the file is clean, 1 with findings (each on stdout), 2 when it or the
    /// matrix cannot be read.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let m = select::load_file_alone(&select::matrix_path(self.matrix.as_deref()))?;
        let path = self
            .expectations
            .unwrap_or_else(|| m.dir().join(expect::FILE_NAME));
        let Some(text) = select::read_expectations(&path)? else {
            anyhow::bail!("{}: no such file", path.display());
        };
        let shown = select::shown_path(&path);
        let (x, errors) = expect::parse_all(&shown, &text, &Known::of(&m), select::today()?);
        let mut findings: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        findings.extend(x.list.iter().filter(|e| x.expired(e)).map(|e| {
            format!(
                "{}: expectation `{}` expired on {} (today is {}): delete it or renew it with \
                 a new reason",
                e.expires_at, e.id, e.expires, x.today
            )
        }));
        for f in &findings {
            println!("{}", crate::model::text::one_line(f));
        }
        Ok(if findings.is_empty() {
            println!("{}: clean", shown.display());
            ExitCode::SUCCESS
        } else {
            eprintln!(
                "expectations lint: {} finding{}",
                findings.len(),
                if findings.len() == 1 { "" } else { "s" }
            );
            ExitCode::from(1)
        })
    }
}
