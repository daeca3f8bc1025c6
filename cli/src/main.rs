//! `codeassist`: see the library's docs for the commands.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    codeassist_cli::run()
}
