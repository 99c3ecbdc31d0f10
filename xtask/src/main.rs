//! `cargo xtask`: the patch-health harness for Rust-for-Linux. Parse flags, dispatch.

use std::process::ExitCode;

use clap::Parser;
use xtask::commands::Flags;

fn main() -> ExitCode {
    // A closed pipe (`… | head`) ends the program quietly, as for any Unix tool, instead of a
    // panic in println!.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match Flags::parse().run() {
        Ok(code) => code,
        Err(e) => {
            // An error may quote outside text (a matrix value, a server's answer).
            eprintln!(
                "error: {}",
                xtask::model::text::term_safe(&format!("{e:#}"))
            );
            ExitCode::from(2)
        }
    }
}
