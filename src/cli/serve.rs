//! `serve-evaluator`: one of evoquant's in-process models behind the
//! evaluator protocol on stdin/stdout (`studies::mixed_precision::external`).

use crate::error::{Error, Result, exit};
use crate::params::Choice;
use crate::studies::mixed_precision::external::serve;
use clap::Args;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The model to serve: mlp (the glyph classifier, measured),
    /// transformer (the BERT encoder of `model_path`, measured) or inventory
    /// (the modelled layer inventory), built from the parameters each
    /// `describe` request carries.
    #[arg(long, default_value = "mlp")]
    pub model: String,
}

pub fn serve_evaluator(args: &ServeArgs) -> Result<i32> {
    let kind = serve::SERVED
        .iter()
        .copied()
        .find(|k| k.name() == args.model)
        .ok_or_else(|| {
            let names: Vec<&str> = serve::SERVED.iter().map(|k| k.name()).collect();
            Error::user(format!(
                "--model {}: serve-evaluator serves {}",
                args.model,
                names.join(", ")
            ))
        })?;
    serve::serve(kind, std::io::stdin().lock(), std::io::stdout().lock())?;
    Ok(exit::OK)
}
