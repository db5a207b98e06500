//! GraphQL over HTTP, as the spec (and the graphql-http audit suite) asks: requests read
//! strictly, the media type negotiated from `Accept`, and status codes that say what went
//! wrong. async-graphql-axum's extractor and response do neither (its response is always
//! `application/graphql-response+json` with status 200), so this layer replaces them.

use async_graphql::parser::types::OperationType;
use async_graphql::{Request, Variables};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// The media type of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: status codes carry request errors.
    GraphQLResponse,
    /// `application/json`: 200 for every well-formed request, as legacy clients expect.
    Json,
}

impl MediaType {
    /// From `Accept`: the GraphQL response type when the client lists it (before plain JSON),
    /// else JSON, which is also the answer to `*/*` and to no `Accept` at all.
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut best: Option<(f32, MediaType)> = None;
        for part in accept.split(',') {
            let mut params = part.split(';').map(str::trim);
            let kind = params.next().unwrap_or("").to_ascii_lowercase();
            let q = params
                .find_map(|p| p.strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let media = match kind.as_str() {
                "application/graphql-response+json" => MediaType::GraphQLResponse,
                "application/json" | "application/*" | "*/*" => MediaType::Json,
                _ => continue,
            };
            // Equal weights keep the first listed.
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, media));
            }
        }
        best.map_or(MediaType::Json, |(_, m)| m)
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        })
    }
}

/// A request that cannot be read as GraphQL over HTTP: answered before anything runs.
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    pub message: String,
    pub allow: Option<&'static str>,
}

impl Rejection {
    fn bad(message: impl Into<String>) -> Self {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            allow: None,
        }
    }

    pub fn into_response(self, media: MediaType) -> Response {
        let body = serde_json::json!({
            "errors": [{ "message": self.message, "extensions": { "code": "BAD_REQUEST" } }]
        });
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, media.content_type());
        if let Some(allow) = self.allow {
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        resp
    }
}

/// The request from its parameters, however they came (a JSON body or a query string).
fn request_from(
    query: Option<Value>,
    operation_name: Option<Value>,
    variables: Option<Value>,
    extensions: Option<Value>,
) -> Result<Request, Rejection> {
    let query = match query {
        Some(Value::String(q)) => q,
        Some(_) => return Err(Rejection::bad("`query` must be a string")),
        None => return Err(Rejection::bad("the request has no `query`")),
    };
    let mut req = Request::new(query);
    match operation_name {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => req = req.operation_name(name),
        Some(_) => return Err(Rejection::bad("`operationName` must be a string")),
    }
    match variables {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => req = req.variables(Variables::from_json(v)),
        Some(_) => return Err(Rejection::bad("`variables` must be an object")),
    }
    match extensions {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => return Err(Rejection::bad("`extensions` must be an object")),
    }
    Ok(req)
}

/// A POST: `Content-Type: application/json` and a JSON object body.
pub fn read_post(headers: &HeaderMap, body: &[u8]) -> Result<Request, Rejection> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match kind.as_deref() {
        Some("application/json") | Some("application/graphql-response+json") => {}
        Some(other) => {
            return Err(Rejection {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: format!("send the request as application/json, not {other}"),
                allow: None,
            });
        }
        None => {
            return Err(Rejection {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "the request has no Content-Type; send application/json".into(),
                allow: None,
            });
        }
    }
    let mut body: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(o)) => o,
        Ok(Value::Array(_)) => {
            return Err(Rejection::bad(
                "batched requests are not accepted: send one operation per request",
            ));
        }
        Ok(_) => return Err(Rejection::bad("the body must be a JSON object")),
        Err(e) => return Err(Rejection::bad(format!("the body is not JSON: {e}"))),
    };
    request_from(
        body.remove("query"),
        body.remove("operationName"),
        body.remove("variables"),
        body.remove("extensions"),
    )
}

/// A GET: parameters in the query string, `variables` and `extensions` as JSON text.
pub fn read_get(raw_query: &str) -> Result<Request, Rejection> {
    let mut params: std::collections::HashMap<String, String> = url_pairs(raw_query)
        .map_err(|e| Rejection::bad(format!("cannot read the query string: {e}")))?
        .into_iter()
        .collect();
    let json = |name: &str, v: Option<String>| -> Result<Option<Value>, Rejection> {
        v.map(|text| {
            serde_json::from_str(&text)
                .map_err(|e| Rejection::bad(format!("`{name}` is not JSON: {e}")))
        })
        .transpose()
    };
    let variables = json("variables", params.remove("variables"))?;
    let extensions = json("extensions", params.remove("extensions"))?;
    request_from(
        params.remove("query").map(Value::String),
        params.remove("operationName").map(Value::String),
        variables,
        extensions,
    )
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space, `%XX` a byte).
fn url_pairs(raw: &str) -> Result<Vec<(String, String)>, String> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad percent-escape in {s:?}"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "not UTF-8".to_owned())
}

/// The type of the operation a request would run, if its document parses and names one
/// (the parse is kept in the request, so it is not parsed again).
pub fn operation_type(req: &mut Request) -> Option<OperationType> {
    let name = req.operation_name.clone();
    let doc = req.parsed_query().ok()?;
    match (name, &doc.operations) {
        (Some(name), ops) => ops
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, op)| op.node.ty),
        (None, async_graphql::parser::types::DocumentOperations::Single(op)) => Some(op.node.ty),
        (None, ops) => {
            let mut it = ops.iter();
            match (it.next(), it.next()) {
                (Some((_, op)), None) => Some(op.node.ty),
                _ => None,
            }
        }
    }
}

/// A GET may only read: a mutation over GET is refused with 405 and `Allow: POST`.
pub fn check_get(req: &mut Request) -> Result<(), Rejection> {
    match operation_type(req) {
        Some(OperationType::Mutation) | Some(OperationType::Subscription) => Err(Rejection {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: "only queries may be sent with GET; send mutations with POST".into(),
            allow: Some("POST"),
        }),
        _ => Ok(()),
    }
}

/// The answer. With the GraphQL response type, a request that failed before execution
/// (unparsable, invalid, bad variables: no data, and no error with a path) is a 400 without
/// a `data` entry; anything that ran is a 200. With plain JSON everything is a 200. Keys keep
/// the order the query asked for them in (serialised straight from the response, never
/// through a sorted map). An answer longer than `max_bytes` is replaced by one
/// `RESPONSE_TOO_LARGE` error.
pub fn respond(media: MediaType, resp: async_graphql::Response, max_bytes: usize) -> Response {
    #[derive(serde::Serialize)]
    struct WithoutData<'a> {
        errors: &'a [async_graphql::ServerError],
    }
    let failed_before_running = resp.data == async_graphql::Value::Null
        && !resp.errors.is_empty()
        && resp.errors.iter().all(|e| e.path.is_empty());
    let without_data = media == MediaType::GraphQLResponse && failed_before_running;
    // Serialising a response of plain values cannot fail.
    let mut body = if without_data {
        serde_json::to_string(&WithoutData {
            errors: &resp.errors,
        })
    } else {
        serde_json::to_string(&resp)
    }
    .unwrap_or_default();
    if body.len() > max_bytes {
        body = serde_json::json!({
            "data": null,
            "errors": [{
                "message": format!(
                    "the answer would be {} bytes; at most {max_bytes} are sent: ask for a smaller page",
                    body.len()
                ),
                "extensions": { "code": "RESPONSE_TOO_LARGE" }
            }]
        })
        .to_string();
    }
    let status = if without_data {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut out = (status, body).into_response();
    out.headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    out
}

/// A request refused because the database is unavailable: 503 with `Retry-After`, and a
/// GraphQL body without `data` (nothing ran) whose error is `DATABASE_UNAVAILABLE`. The
/// GraphQL-over-HTTP spec lets a server deny a request with a 4xx or 5xx status whatever the
/// media type; a response without `data` must have one with `application/graphql-response+json`.
pub fn unavailable(media: MediaType) -> Response {
    let mut body = serde_json::to_value(crate::error::unavailable_response()).unwrap_or_default();
    if let Some(o) = body.as_object_mut() {
        o.remove("data");
    }
    let mut out = (StatusCode::SERVICE_UNAVAILABLE, body.to_string()).into_response();
    out.headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    out.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(crate::health::RETRY_AFTER_SECS),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> MediaType {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        MediaType::negotiate(&h)
    }

    #[test]
    fn accept_is_negotiated_by_weight_then_order() {
        assert_eq!(MediaType::negotiate(&HeaderMap::new()), MediaType::Json);
        assert_eq!(accept("*/*"), MediaType::Json);
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            MediaType::GraphQLResponse
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json"),
            MediaType::Json
        );
        assert_eq!(
            accept("application/json;q=0.5, application/graphql-response+json"),
            MediaType::GraphQLResponse
        );
        assert_eq!(accept("text/html"), MediaType::Json);
    }

    #[test]
    fn get_parameters_are_read_and_checked() {
        let req = read_get(
            "query=%7B%20reviews%20%7B%20totalCount%20%7D%20%7D&variables=%7B%22a%22%3A1%7D",
        )
        .unwrap();
        assert_eq!(req.query, "{ reviews { totalCount } }");
        assert!(read_get("variables=%7B").is_err());
        assert!(read_get("").is_err());
        let mut m = read_get("query=mutation%20%7B%20x%20%7D").unwrap();
        assert_eq!(
            check_get(&mut m).unwrap_err().status,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
