//! The `ouguard` binary: parse the command line, run, report, exit. Nothing else lives here.

use clap::Parser;

fn main() {
    let cli = ouguard::cli::Cli::parse();
    let code = match ouguard::commands::run(cli) {
        Ok(outcome) => outcome.code(),
        Err(error) => {
            ouguard::exit::report_error(&error, &mut std::io::stderr().lock());
            ouguard::exit::ERROR_CODE
        }
    };
    std::process::exit(code);
}
