//! `parse-ktap`: a console's KTAP output as JSON: the KUnit stage's verdict and summary, the
//! counts, every suite's counts, the cases, and kunit_parser's parse errors.

use std::process::ExitCode;

use crate::commands::flags::ParseKtapArgs;
use crate::stages::ktap;

impl ParseKtapArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let bytes = std::fs::read(&self.file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.file.display()))?;
        let text = ktap::decode(&bytes);
        let blocks = if self.all {
            ktap::parse_all(&text)
        } else {
            vec![ktap::parse_first(&text)]
        };
        let (k, r) = ktap::judge_blocks(&blocks, text.is_empty(), None);
        let out = serde_json::json!({
            "verdict": r.status,
            "summary": r.summary,
            "counts": k.counts,
            "suites": k.suites,
            "tests": k.tests,
            "errors": k.errors,
            "errors_total": k.errors_total,
            "blocks": k.blocks,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        Ok(ExitCode::SUCCESS)
    }
}
