//! `dhr-graph`: thin entry point; everything lives in the `dhr-graph-api` library.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    dhr_graph_api::cli::run().await
}
