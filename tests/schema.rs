//! `schema.graphql` is the published contract: it must match the schema the code builds.

#[test]
fn committed_schema_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let current = dhr_graph_api::graphql::sdl();
    if std::env::var("UPDATE_SCHEMA").is_ok() {
        std::fs::write(&path, &current).unwrap();
        return;
    }
    assert!(
        committed == current,
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql` (or UPDATE_SCHEMA=1 cargo test)"
    );
}

#[test]
fn cli_schema_prints_the_same_sdl() {
    let (code, out, err) = crate::helpers::cli(&["schema"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, dhr_graph_api::graphql::sdl());
}
