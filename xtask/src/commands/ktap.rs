//! `parse-ktap`: a console's KTAP output as JSON test cases.

use std::process::ExitCode;

use crate::commands::flags::ParseKtapArgs;
use crate::model::outcome::Case;
use crate::stages::ktap;

impl ParseKtapArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let bytes = std::fs::read(&self.file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.file.display()))?;
        let text = ktap::decode(&bytes);
        let cases: Vec<Case> = if self.all {
            ktap::parse_all(&text)
                .iter()
                .flat_map(ktap::cases)
                .collect()
        } else {
            ktap::cases(&ktap::parse_first(&text))
        };
        println!("{}", serde_json::to_string_pretty(&cases)?);
        Ok(ExitCode::SUCCESS)
    }
}
