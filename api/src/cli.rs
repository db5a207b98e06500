//! The `dhr-graph` command line: parse, set up tracing, dispatch.

use std::process::ExitCode;

use clap::Parser;

use crate::config::{Cli, Command, IngestArgs, ServeConfig};
use crate::db;
use crate::graphql::sdl;
use crate::ingest::files::{collect_paths, ingest_paths};
use crate::server::Application;
use crate::telemetry;

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(ServeConfig::for_database(default_db_url())));
    match command {
        Command::Serve(cfg) => serve(cfg).await,
        Command::Ingest(args) => ingest(args).await,
        Command::Schema(_) => {
            print!("{}", sdl());
            ExitCode::SUCCESS
        }
    }
}

fn default_db_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://dhr-graph.db".into())
}

async fn serve(cfg: ServeConfig) -> ExitCode {
    telemetry::init(cfg.log_json);
    let app = match Application::build(&cfg).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("dhr-graph: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("serving GraphQL on http://{}/graphql", app.local_addr());
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dhr-graph: server error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn ingest(args: IngestArgs) -> ExitCode {
    telemetry::init(false);
    let paths = match collect_paths(&args.paths) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("dhr-graph: cannot list the paths: {e}");
            return ExitCode::from(2);
        }
    };
    let db = match db::connect(&args.db.database_url, args.db.db_pool_size).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("dhr-graph: {e}");
            return ExitCode::from(2);
        }
    };
    let summary = ingest_paths(&db.conn, &paths, !args.quiet).await;
    print!("{}", summary.render());
    if summary.added + summary.updated > 0 {
        // Similarity edges span reviews: one rebuild after the run, not one per page.
        match crate::similarity::rebuild(&db.conn).await {
            Ok(edges) => println!("similarity edges: {edges}"),
            Err(e) => {
                eprintln!("dhr-graph: the pages are stored, but rebuilding similarity failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if summary.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
