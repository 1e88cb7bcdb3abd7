//! The `ouguard` binary: parse the command line, run, report, exit. Nothing else lives here.

use clap::Parser;

/// mimalloc: DN parsing and plan building allocate many small strings; the system allocator
/// spent a quarter of planning time in malloc/free (see examples/bench_plan.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = ouguard::cli::Cli::parse();
    let code = match ouguard::commands::run(cli) {
        Ok(outcome) => outcome.code(),
        Err(error) if ouguard::exit::is_broken_pipe(&error) => ouguard::exit::BROKEN_PIPE_CODE,
        Err(error) => {
            ouguard::exit::report_error(&error, &mut std::io::stderr().lock());
            ouguard::exit::ERROR_CODE
        }
    };
    std::process::exit(code);
}
