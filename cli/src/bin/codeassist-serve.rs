//! `codeassist-serve`: the gateway's binary, which `codeassist serve` runs in its place
//! (the other commands work here too).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    codeassist_cli::run_serve()
}
