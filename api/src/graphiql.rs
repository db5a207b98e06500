//! GraphiQL at `GET /graphql` (for a browser), from assets compiled into the binary: the page
//! works on a network without internet access, as public bodies' often are. The files and
//! their licences are in `api/static/graphiql` (README there).

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const HTML: &str = include_str!("../static/graphiql/index.html");
const INIT: &str = include_str!("../static/graphiql/init.js");
const PAGE_CSS: &str = include_str!("../static/graphiql/page.css");
const GRAPHIQL_JS: &str = include_str!("../static/graphiql/graphiql.min.js");
const GRAPHIQL_CSS: &str = include_str!("../static/graphiql/graphiql.min.css");
const REACT: &str = include_str!("../static/graphiql/react.production.min.js");
const REACT_DOM: &str = include_str!("../static/graphiql/react-dom.production.min.js");

/// Same-origin scripts, requests and sockets only. GraphiQL's editors set inline styles, and
/// its icons and fonts are data URLs.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     connect-src 'self' ws: wss:; img-src 'self' data:; font-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The GraphiQL page.
pub fn page() -> Response {
    asset("text/html; charset=utf-8", HTML).into_response()
}

/// GraphiQL's assets, for any router state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let js = "text/javascript; charset=utf-8";
    Router::new()
        .route(
            "/graphiql/init.js",
            get(move || async move { asset(js, INIT) }),
        )
        .route(
            "/graphiql/graphiql.min.js",
            get(move || async move { asset(js, GRAPHIQL_JS) }),
        )
        .route(
            "/graphiql/react.production.min.js",
            get(move || async move { asset(js, REACT) }),
        )
        .route(
            "/graphiql/react-dom.production.min.js",
            get(move || async move { asset(js, REACT_DOM) }),
        )
        .route(
            "/graphiql/graphiql.min.css",
            get(|| async { asset("text/css; charset=utf-8", GRAPHIQL_CSS) }),
        )
        .route(
            "/graphiql/page.css",
            get(|| async { asset("text/css; charset=utf-8", PAGE_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    crate::explorer::static_asset(POLICY, content_type, body)
}
