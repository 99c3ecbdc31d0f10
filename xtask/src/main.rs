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
    // What a command the harness runs starts and leaves behind is the harness's to end.
    xtask::sys::proc::contain_descendants();
    let result = Flags::parse().run();
    xtask::sys::proc::sweep_orphans(true);
    match result {
        Ok(code) => code,
        Err(e) => {
            // An error may quote outside text (a matrix value, a server's answer, a results
            // file a CI job uploaded): one line, so nothing it quotes begins a line.
            eprintln!("error: {}", xtask::model::text::one_line(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}
