//! The command line: clap arguments become a validated plan here, and clap
//! types go no further. `run()` prints each error once and returns the exit code.

mod quantize;

use crate::error::{Result, exit};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "evoquant",
    version,
    about = "Reproducible studies of automated neural-network quantization"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the registered study kinds and their parameters.
    List,
    /// Quantize a tensor file (.npy or raw .f32) to ggml blocks or evoquant's packed form.
    Quantize(quantize::QuantizeArgs),
    /// Decode a file written by `quantize` into a .npy tensor.
    Dequantize(quantize::DequantizeArgs),
}

/// Parse arguments, dispatch, print errors once; returns the process exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::List => {
            for study in crate::studies::registry() {
                println!("{}  {}", study.kind(), study.about());
            }
            Ok(exit::OK)
        }
        Command::Quantize(args) => quantize::quantize(&args),
        Command::Dequantize(args) => quantize::dequantize(&args),
    }
}
