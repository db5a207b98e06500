//! The explorer at `GET /`: a page of plain HTML, CSS and JavaScript, compiled into the binary,
//! that draws the graph from the public GraphQL API and nothing else.
//!
//! It holds no data and no queries of its own on the server side: everything it shows comes
//! from `POST /graphql`, as any client would get it. The security policy keeps it that way
//! (same-origin scripts and requests only, no inline script).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

const HTML: &str = include_str!("../static/explorer.html");
const JS: &str = include_str!("../static/explorer.js");
const CSS: &str = include_str!("../static/explorer.css");

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The explorer's routes, for any router state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", HTML) }),
        )
        .route(
            "/explorer.js",
            get(|| async { asset("text/javascript; charset=utf-8", JS) }),
        )
        .route(
            "/explorer.css",
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    static_asset(POLICY, content_type, body)
}

/// A file compiled into the binary, with its type, its security policy and no sniffing: the
/// explorer's and GraphiQL's assets.
pub(crate) fn static_asset(
    policy: &'static str,
    content_type: &'static str,
    body: &'static str,
) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(policy),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
}
