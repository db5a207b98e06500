//! The `dhr-graph` command line: parse, set up tracing, dispatch.

use std::process::ExitCode;

use clap::Parser;

use crate::config::{
    AgenciesArgs, AgencyAction, Cli, Command, ExportArgs, ImportArgs, ImportDhrdArgs, IngestArgs,
    KeyAction, KeysArgs, ReviewAction, ReviewsArgs, ServeConfig, SimilarityAction, SimilarityArgs,
    SynthArgs,
};
use crate::db;
use crate::graphql::sdl;
use crate::ingest::files::{collect_paths, ingest_paths};
use crate::server::Application;
use crate::telemetry;
use crate::write::WritePath;

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(ServeConfig::for_database(default_db_url())));
    match command {
        Command::Serve(cfg) => serve(cfg).await,
        Command::Ingest(args) => ingest(args).await,
        Command::Agencies(args) => agencies(args).await,
        Command::Reviews(args) => reviews(args).await,
        Command::ImportDhrd(args) => import_dhrd(args).await,
        Command::Keys(args) => keys(args).await,
        Command::Export(args) => export(args).await,
        Command::Import(args) => import(args).await,
        Command::Synth(args) => synth(args).await,
        Command::Similarity(args) => similarity(args).await,
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
    let db = match open(&args.db).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let path = WritePath::batch(db.conn.clone());
    let opts = crate::ingest::StoreOptions {
        allow_withdraw: args.allow_withdraw,
        ..Default::default()
    };
    let summary = ingest_paths(&path, &paths, !args.quiet, &opts).await;
    print!("{}", summary.render());
    if summary.added + summary.updated > 0 {
        // Similarity edges span reviews: settled once after the run, not once per page.
        match path.settle().await {
            Ok(s) => println!("similarity: {}", settled(&s)),
            Err(e) => {
                eprintln!("dhr-graph: the pages are stored, but similarity failed: {e}");
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

async fn agencies(args: AgenciesArgs) -> ExitCode {
    telemetry::init(false);
    let db = match open(&args.db).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    use crate::curation;
    let path = WritePath::batch(db.conn.clone());
    let result = match &args.action {
        AgencyAction::Merge { from, into } => curation::merge(&path, from, into).await.map(|a| {
            format!(
                "merged {from:?} into {} ({} reviews)",
                a.name, a.review_count
            )
        }),
        AgencyAction::Alias { name, agency } => curation::add_alias(&path, name, agency)
            .await
            .map(|a| format!("{name:?} now names {}", a.name)),
        AgencyAction::SetSector { agency, sector } => curation::set_sector(&path, agency, sector)
            .await
            .map(|a| format!("{} is now {}", a.name, a.sector)),
        AgencyAction::Unknown => curation::unknown(&db.conn).await.map(|list| {
            let mut out =
                String::from("slug\trecommendations\treviews\tname\tmethod\tsuggestion\n");
            for u in list {
                let a = u.agency;
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\n",
                    a.slug,
                    a.recommendation_count,
                    a.review_count,
                    a.name,
                    u.method,
                    u.suggestion.unwrap_or_default()
                ));
            }
            out.trim_end().to_owned()
        }),
        AgencyAction::Explain { name, csp } => {
            curation::explain(&db.conn, name, csp.as_deref()).await
        }
        AgencyAction::Reresolve { apply } => {
            match crate::registry::reresolve::reresolve(&path, *apply).await {
                Ok(report) => {
                    let mut out = String::new();
                    for r in &report.relinked {
                        out.push_str(&format!(
                            "{}\t{}\t{}\t->\t{}\n",
                            r.review,
                            r.label,
                            r.before.join(" | "),
                            r.after.join(" | ")
                        ));
                    }
                    out.push_str(&format!(
                        "{} of {} recommendations {} other agencies ({} with a curator's \
                         decision left alone){}",
                        report.relinked.len(),
                        report.recommendations,
                        if report.applied {
                            "now name"
                        } else {
                            "would name"
                        },
                        report.curated,
                        if report.applied || report.relinked.is_empty() {
                            ""
                        } else {
                            "; run again with --apply to write them"
                        }
                    ));
                    Ok(out)
                }
                Err(e) => Err(curation::CurationError::Db(e)),
            }
        }
    };
    match result {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dhr-graph agencies: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn reviews(args: ReviewsArgs) -> ExitCode {
    telemetry::init(false);
    let ReviewAction::Merge { keep, drop } = &args.action;
    let parse = |name: &str, v: &str| -> Result<i32, String> {
        crate::graphql::ids::decode_as(
            name,
            &async_graphql::ID(v.to_owned()),
            crate::graphql::ids::Kind::Review,
        )
        .map_err(|e| format!("{e}"))
    };
    let (keep_id, drop_id) = match (parse("KEEP", keep), parse("DROP", drop)) {
        (Ok(k), Ok(d)) => (k, d),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("dhr-graph reviews: {e}");
            return ExitCode::from(2);
        }
    };
    let db = match open(&args.db).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let path = WritePath::batch(db.conn.clone());
    match crate::curation::merge_reviews(&path, keep_id, drop_id).await {
        Ok(kept) => {
            if let Err(e) = path.settle().await {
                eprintln!("dhr-graph reviews: merged, but similarity failed: {e}");
                return ExitCode::FAILURE;
            }
            println!(
                "merged {drop} into {} ({})",
                kept.title,
                kept.published.as_deref().unwrap_or("month unknown")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dhr-graph reviews: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A line for people: what the similarity upkeep did.
fn settled(s: &crate::similarity::Settled) -> String {
    if s.rebuilt {
        format!("rebuilt in full, {} edges", s.edges)
    } else {
        format!(
            "{} recommendations rescored, {} neighbouring lists followed, {} edges written",
            s.rescored, s.neighbours, s.edges
        )
    }
}

async fn similarity(args: SimilarityArgs) -> ExitCode {
    telemetry::init(false);
    let db = match open(&args.db).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    match args.action {
        SimilarityAction::Rebuild => match crate::similarity::rebuild(&db.conn).await {
            Ok(edges) => {
                println!("similarity: rebuilt in full, {edges} edges");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("dhr-graph similarity: {e}");
                ExitCode::FAILURE
            }
        },
        SimilarityAction::Status => match crate::similarity::upkeep::stored(&db.conn).await {
            Ok(s) => {
                println!(
                    "documents at the last full rebuild: {}\nrescored one by one since: {}\nlast full rebuild: {}",
                    s.documents,
                    s.changes,
                    s.rebuilt_at.as_deref().unwrap_or("never")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("dhr-graph similarity: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn import_dhrd(args: ImportDhrdArgs) -> ExitCode {
    telemetry::init(false);
    let shown = args.file.display().to_string();
    let text = match std::fs::read_to_string(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dhr-graph import-dhrd: {shown}: {e}");
            return ExitCode::from(2);
        }
    };
    let db = match open(&args.db).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    match crate::ingest::dhrd::import(&WritePath::batch(db.conn.clone()), &text).await {
        Ok(s) => {
            for a in &s.ambiguous {
                println!("ambiguous, not linked: {a}");
            }
            println!(
                "records: {} added, {} updated, {} unchanged; review pages linked to a record: {}; ambiguous: {}",
                s.added,
                s.updated,
                s.unchanged,
                s.linked,
                s.ambiguous.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dhr-graph import-dhrd: {shown}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn synth(args: SynthArgs) -> ExitCode {
    telemetry::init(false);
    if !(0.0..=1.0).contains(&args.plan_share) {
        eprintln!("dhr-graph synth: --plan-share must be between 0 and 1");
        return ExitCode::from(2);
    }
    let db = match open(&args.db).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let opts = crate::synth::SynthOptions {
        reviews: args.reviews,
        seed: args.seed,
        batch: args.batch,
        plan_share: args.plan_share,
        progress: !args.quiet,
        statements: db.statements.clone(),
    };
    match crate::synth::run(&WritePath::batch(db.conn.clone()), &opts).await {
        Ok(report) => {
            print!("{}", report.render());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dhr-graph synth: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn keys(args: KeysArgs) -> ExitCode {
    use crate::auth::{Role, keys};
    telemetry::init(false);
    let db = match open(&args.db).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let path = crate::write::WritePath::batch(db.conn.clone());
    match args.action {
        KeyAction::Create {
            name,
            role,
            owner,
            csps,
            agencies,
            national,
        } => {
            let role: Role = match role.parse() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("dhr-graph: --role: {e}");
                    return ExitCode::from(2);
                }
            };
            let spec = keys::KeySpec {
                name: name.clone(),
                role: Some(role),
                owner,
                csps,
                agencies,
                national,
            };
            match keys::create(&path, &spec).await {
                Ok(key) => {
                    eprintln!(
                        "created key {:?} ({role}); it is shown only now:",
                        name.trim()
                    );
                    println!("{key}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("dhr-graph: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        KeyAction::List => match keys::list(&db.conn).await {
            Ok(list) => {
                for k in list {
                    let state = match k.revoked_at {
                        Some(at) => format!("revoked {}", at.to_rfc3339()),
                        None => "active".to_owned(),
                    };
                    let scope = match keys::describe_scope(&db.conn, &k).await {
                        Ok(s) => s,
                        Err(e) => {
                            eprintln!("dhr-graph: {e}");
                            return ExitCode::FAILURE;
                        }
                    };
                    println!(
                        "{}\t{}\tcreated {}\t{state}\t{scope}",
                        k.name,
                        k.role,
                        k.created_at.to_rfc3339()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("dhr-graph: {e}");
                ExitCode::FAILURE
            }
        },
        KeyAction::Revoke { name } => match keys::revoke(&path, &name).await {
            Ok(k) => {
                println!("revoked {}", k.name);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("dhr-graph: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn export(args: ExportArgs) -> ExitCode {
    use std::io::Write;
    telemetry::init(false);
    let db = match open(&args.db).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let text = match crate::exchange::export_as(&db.conn, args.format).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dhr-graph export: {e}");
            return ExitCode::FAILURE;
        }
    };
    let written = match &args.out {
        // Written beside the target and renamed over it: a failed write leaves no half file
        // where a previous export was.
        Some(path) => {
            let partial = path.with_file_name(format!(
                ".{}.partial",
                path.file_name().unwrap_or_default().to_string_lossy()
            ));
            std::fs::write(&partial, &text)
                .and_then(|()| std::fs::rename(&partial, path))
                .map_err(|e| {
                    let _ = std::fs::remove_file(&partial);
                    format!("{}: {e}", path.display())
                })
        }
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| format!("standard output: {e}")),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dhr-graph export: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn import(args: ImportArgs) -> ExitCode {
    telemetry::init(false);
    let shown = args.file.display().to_string();
    let text = match std::fs::read_to_string(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dhr-graph import: {shown}: {e}");
            return ExitCode::from(2);
        }
    };
    // Read before connecting: a bad file creates no database.
    let export = match crate::exchange::parse(&text) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("dhr-graph import: {shown}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let db = match open(&args.db).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let path = WritePath::batch(db.conn.clone());
    let imported = match crate::exchange::import(&path, &export).await {
        Ok(mut s) => path.settle().await.map(|done| {
            s.similarity_edges = done.edges;
            s
        }),
        Err(e) => {
            eprintln!("dhr-graph import: {shown}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match imported {
        Ok(s) => {
            println!(
                "imported {} CSPs, {} agencies, {} reviews, {} recommendations, {} action plans, {} status events; similarity edges: {}",
                s.csps,
                s.agencies,
                s.reviews,
                s.recommendations,
                s.action_plans,
                s.status_events,
                s.similarity_edges
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "dhr-graph import: {shown}: the graph is imported, but similarity failed: {e}"
            );
            ExitCode::FAILURE
        }
    }
}

/// The database a command works on; a failure is printed and becomes exit code 2.
async fn open(cfg: &crate::config::DbConfig) -> Result<db::Db, ExitCode> {
    let db = db::connect(&cfg.database_url, cfg.db_pool_size)
        .await
        .map_err(|e| {
            eprintln!("dhr-graph: {e}");
            ExitCode::from(2)
        })?;
    crate::write::fill_after_upgrade(&WritePath::batch(db.conn.clone()), &db)
        .await
        .map_err(|e| {
            eprintln!("dhr-graph: cannot fill the derived tables of the upgraded database: {e}");
            ExitCode::from(2)
        })?;
    Ok(db)
}
