//! The `berth` binary: configuration, wiring of concrete backends, sockets and the CLI.
//!
//! It is the only crate that names concrete storage and metadata backends. The `serve`, `gc` and
//! `admin` commands arrive with the protocol issue; until then it only reports its version.

use std::process::ExitCode;

fn main() -> ExitCode {
    let version = env!("CARGO_PKG_VERSION");
    match std::env::args().nth(1).as_deref() {
        Some("--version" | "-V") => {
            println!("berth {version}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "berth {version}: no commands are available yet (`berth serve` arrives with the server)"
            );
            ExitCode::from(2)
        }
    }
}
