//! `codeassist`: the command-line face of the codeassist library.
#![forbid(unsafe_code)]

mod explain;

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Parser, Subcommand};
use http::HeaderMap;

/// Google sign-in, Gemini Code Assist projects, and Google errors explained.
#[derive(Debug, Parser)]
#[command(name = "codeassist", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Explain a failed Google response read from stdin.
    ///
    /// Stdin holds the response as `curl -i` prints it (status line, headers, blank
    /// line, body); with --status it holds the body alone.
    ExplainError {
        /// The HTTP status of a body-only input.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(100..=599))]
        status: Option<u16>,
        /// A response header of a body-only input, as `Name: value` (repeatable).
        #[arg(long = "header", value_name = "NAME: VALUE", requires = "status")]
        headers: Vec<String>,
        /// Print one JSON object instead of the human line.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::ExplainError {
            status,
            headers,
            json,
        } => explain_error(status, &headers, json),
    }
}

fn explain_error(status: Option<u16>, header_args: &[String], json: bool) -> ExitCode {
    let mut input = Vec::new();
    if let Err(error) = std::io::stdin()
        .take(explain::MAX_INPUT)
        .read_to_end(&mut input)
    {
        eprintln!("codeassist: could not read stdin: {error}");
        return ExitCode::from(2);
    }
    let response = match status {
        Some(status) => {
            let mut headers = HeaderMap::new();
            for arg in header_args {
                match explain::split_header(arg.as_bytes()) {
                    Some((name, value)) => {
                        headers.append(name, value);
                    }
                    None => {
                        eprintln!("codeassist: --header {arg:?} is not of the form 'Name: value'");
                        return ExitCode::from(2);
                    }
                }
            }
            explain::RawResponse {
                status,
                headers,
                body: input,
            }
        }
        None => match explain::parse_curl_output(&input) {
            Ok(response) => response,
            Err(message) => {
                eprintln!("codeassist: {message}");
                return ExitCode::from(2);
            }
        },
    };
    let line = explain::explain(&response, SystemTime::now(), json);
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}").is_err() {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
