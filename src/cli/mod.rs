//! The command line: clap arguments become plain options here, and clap
//! types go no further. `run()` prints each error once and returns the exit
//! code (see [`crate::error::exit`]).

mod apply;
mod check;
mod data;
mod diff;
mod eval;
mod list;
mod merge;
mod quantize;
mod report;
mod run;
mod serve;
mod slurm;

use crate::error::{Error, Result, exit};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "evoquant",
    version,
    about = "Reproducible studies of automated neural-network quantization",
    after_help = "Exit codes: 0 ok, 1 a trial failed / results differ / snapshots drifted, \
                  2 bad input (manifest, flag, file), 3 internal or I/O failure."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run manifests (a folder means every *.toml in it) and write results and reports.
    Run(run::RunArgs),
    /// Combine the shards of a results folder (`run --shard`) into its final files.
    Merge(merge::MergeArgs),
    /// Write (and with --submit, submit) sbatch scripts: a job array of shards and a merge job.
    Slurm(slurm::SlurmArgs),
    /// Print the expanded trial table of a manifest without running it.
    Plan(run::PlanArgs),
    /// Validate manifests without running them.
    Validate(run::ValidateArgs),
    /// List the registered study kinds and their parameters.
    List(list::ListArgs),
    /// Compare two results folders or two CSV files.
    Diff(diff::DiffArgs),
    /// Write report.md and SVG plots for a results folder.
    Report(report::ReportArgs),
    /// Rerun manifests and compare their outputs with the committed snapshots.
    Check(check::CheckArgs),
    /// Quantize a tensor file (.npy or raw .f32) to ggml blocks or evoquant's packed form.
    Quantize(quantize::QuantizeArgs),
    /// Decode a file written by `quantize` into a .npy tensor.
    Dequantize(quantize::DequantizeArgs),
    /// Write a model quantized as a configuration says: GGUF, safetensors, or a llama-quantize command.
    Apply(apply::ApplyArgs),
    /// Measure what a quantization config costs a pretrained transformer (vs the model as loaded).
    Eval(eval::EvalArgs),
    /// Serve a built-in model over the evaluator protocol (JSON lines on stdin/stdout), for `model = "command"`.
    ServeEvaluator(serve::ServeArgs),
    /// Write built-in datasets as files.
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// The bit-allocation study's TRAIN/VALID/TEST layer inventories as JSON,
    /// or (--from-model) a TEST inventory measured on a real network.
    BitAlloc {
        /// Folder to write train.json, valid.json and test.json into (with
        /// --from-model: measured.json).
        #[arg(long)]
        out: PathBuf,
        /// Measure every linear layer's loss at INT2 … FP16 on this model (a
        /// BERT-family folder, a LLaMA-family GGUF or folder) instead.
        #[arg(long, value_name = "MODEL")]
        from_model: Option<String>,
        /// With --from-model: the first N built-in evaluation texts.
        #[arg(long, default_value_t = 16)]
        eval_texts: usize,
        /// With --from-model: tokens per text at most.
        #[arg(long, default_value_t = 32)]
        max_seq_len: usize,
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
            // Nothing more to do if stderr itself is gone; never panic.
            let _ = writeln!(std::io::stderr(), "error: {e}");
            e.exit_code()
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Merge(args) => merge::merge(args),
        Command::Slurm(args) => slurm::slurm(args),
        Command::Plan(args) => run::plan(args),
        Command::Validate(args) => run::validate(args),
        Command::List(args) => list::list(args),
        Command::Diff(args) => diff::diff(args),
        Command::Report(args) => report::report(args),
        Command::Check(args) => check::check(args),
        Command::Quantize(args) => quantize::quantize(&args),
        Command::Dequantize(args) => quantize::dequantize(&args),
        Command::Eval(args) => eval::eval(&args),
        Command::Apply(args) => apply::apply(&args),
        Command::ServeEvaluator(args) => serve::serve_evaluator(&args),
        Command::Data(DataCommand::BitAlloc {
            out,
            from_model: None,
            ..
        }) => {
            for path in data::write_bit_alloc(&out)? {
                say(&format!("wrote {}", path.display()))?;
            }
            Ok(exit::OK)
        }
        Command::Data(DataCommand::BitAlloc {
            out,
            from_model: Some(model),
            eval_texts,
            max_seq_len,
        }) => {
            let path = data::write_measured(&out, &model, eval_texts, max_seq_len)?;
            say(&format!("wrote {}", path.display()))?;
            Ok(exit::OK)
        }
    }
}

/// Worker threads when `--jobs` is not given: every core.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Print `text` to stdout. `println!` panics when stdout is full (ENOSPC,
/// `> /dev/full`); a failed write is an I/O failure instead: exit 3.
pub(crate) fn say(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("cannot write to stdout", e))
}

/// [`say`] for stderr: progress and summaries that must not panic either.
pub(crate) fn say_err(text: &str) -> Result<()> {
    writeln!(std::io::stderr(), "{text}").map_err(|e| Error::io("cannot write to stderr", e))
}

/// `--out DIR` naming an existing non-folder is the user's to fix (exit 2),
/// not an I/O failure discovered halfway through writing.
pub(crate) fn check_out_dir(path: &std::path::Path) -> Result<()> {
    if path.exists() && !path.is_dir() {
        return Err(Error::user(format!(
            "--out {}: exists and is not a folder",
            path.display()
        )));
    }
    Ok(())
}

/// `--out FILE` naming an existing folder: exit 2 before any work.
pub(crate) fn check_out_file(path: &std::path::Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::user(format!(
            "--out {}: is a folder; name the file to write",
            path.display()
        )));
    }
    Ok(())
}
