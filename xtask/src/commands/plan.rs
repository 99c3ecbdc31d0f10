//! `plan`: the cells a run would execute, as text, JSON or a GitHub Actions matrix.

use std::process::ExitCode;

use crate::commands::flags::{PlanArgs, PlanFormat};
use crate::commands::select;
use crate::model::plan;

impl PlanArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let m = select::load_matrix(self.sel.matrix.as_deref())?;
        let p = plan::plan(&m, &select::filters(&m, &self.sel)?);
        print!(
            "{}",
            match self.format {
                PlanFormat::Text => p.to_text(),
                PlanFormat::Json => p.to_json(),
                PlanFormat::Github => p.to_github(self.max_jobs),
            }
        );
        Ok(ExitCode::SUCCESS)
    }
}
