//! The command line: clap arguments become a validated plan here, and clap
//! types go no further. `run()` prints each error once and returns the exit code.

mod data;

use crate::error::{Result, exit};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

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
    /// Write built-in datasets as files.
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// The bit-allocation study's TRAIN/VALID/TEST layer inventories as JSON.
    BitAlloc {
        /// Folder to write train.json, valid.json and test.json into.
        #[arg(long)]
        out: PathBuf,
    },
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
        Command::Data(DataCommand::BitAlloc { out }) => {
            for path in data::write_bit_alloc(&out)? {
                println!("wrote {}", path.display());
            }
            Ok(exit::OK)
        }
    }
}
