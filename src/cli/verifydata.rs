//! `moxide verifydata DIR`: checks a stopped server's data directory, or a backup of one, without
//! writing anything (see `store::verify`). Prints each problem on its own line, then a summary.
//! Exit status: 0 when clean, 1 when problems were found, 2 when the directory could not be
//! checked at all (not a data directory, or a running server holds it).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::store::verify;

#[derive(Args)]
pub struct VerifydataArgs {
    /// A data directory, or a directory holding one as `data/` (a backup, a configuration
    /// directory).
    pub dir: PathBuf,
}

pub fn run(args: VerifydataArgs) -> ExitCode {
    match verify::verify(&args.dir) {
        Ok(report) => {
            for p in &report.problems {
                println!("{p}");
            }
            println!("{}", report.summary());
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("moxide: verifydata: {e}");
            ExitCode::from(2)
        }
    }
}
