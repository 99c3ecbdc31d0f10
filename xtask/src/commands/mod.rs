//! The subcommands: `Flags::run` dispatches each to its module's `run`.

pub mod bench;
pub mod doctor;
pub mod expectations;
pub mod fetch_bench;
pub mod flags;
pub mod import;
pub mod ktap;
pub mod matrix;
pub mod plan;
pub mod publish;
pub mod report;
pub mod repro;
pub mod select;
pub mod setup;
pub mod trial;

use std::process::ExitCode;

use crate::sys::paths::Cache;
pub use flags::{Cmd, Flags};

impl Flags {
    /// Run the subcommand. `Err` is bad input or a harness fault before any cell ran (exit 2).
    pub fn run(self) -> anyhow::Result<ExitCode> {
        // anstream reads it, with NO_COLOR and CLICOLOR_FORCE, wherever colour is written.
        anstream::ColorChoice::write_global(match self.color {
            clap::ColorChoice::Auto => anstream::ColorChoice::Auto,
            clap::ColorChoice::Always => anstream::ColorChoice::Always,
            clap::ColorChoice::Never => anstream::ColorChoice::Never,
        });
        let cache = Cache::new(self.cache.as_deref());
        match self.cmd {
            Cmd::Setup(args) => args.run(&cache),
            Cmd::Doctor(args) => args.run(&cache),
            Cmd::ImportRegistry(args) => args.run(),
            Cmd::Plan(args) => args.run(),
            Cmd::Matrix(args) => args.run(&cache),
            Cmd::Try(args) => args.run(&cache),
            Cmd::Repro(args) => args.run(&cache),
            Cmd::Bench(args) => args.run(&cache),
            Cmd::Report(args) => args.run(),
            Cmd::ParseKtap(args) => args.run(),
            Cmd::Publish(args) => args.run(),
            Cmd::Expectations(args) => args.run(),
        }
    }
}
