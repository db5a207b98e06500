//! The service's error type, mapped once to GraphQL errors with stable `extensions.code`s.
//!
//! Internal detail (SQL, paths) is logged with an error id and never sent; the client gets
//! the id to quote.

use async_graphql::{ErrorExtensions, Response, ServerError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{field}: {message}")]
    BadUserInput { field: String, message: String },
    #[error("the page could not be read: line {line}: {reason}")]
    BadPage { line: usize, reason: String },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("this needs a key with the {needed} role")]
    Forbidden { needed: &'static str },
    #[error("the action plan is at version {current}, not {expected}: read it again and retry")]
    Conflict { current: i32, expected: i32 },
    /// A write would withdraw recommendations with a plan or history, and was not told it
    /// may (`extensions.withheld`: their ids, labels and status event counts).
    #[error("{message}")]
    WouldWithdraw {
        message: String,
        withheld: Vec<(String, String, i64)>,
    },
    /// The caller's key may not write there (outside its CSPs or agencies).
    #[error("{0}")]
    OutOfScope(String),
    /// The thing written to was deleted (a tombstone an admin can restore).
    #[error("{what} was deleted; an admin can restore it")]
    Deleted { what: String },
    /// The database cannot be reached (known before the request ran, or found while it ran).
    #[error("the database is unavailable; retry in a moment")]
    Unavailable,
    #[error(transparent)]
    Db(std::sync::Arc<sea_orm::DbErr>),
}

/// The code of a request the database could not serve because it could not be reached: the
/// same request may succeed when sent again (`extensions.retryable`).
pub const DATABASE_UNAVAILABLE: &str = "DATABASE_UNAVAILABLE";

/// The database server could not be reached: no connection from the pool in time, a
/// connection refused or lost, a server shutting down or starting up.
pub fn is_unavailable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => crate::health::is_outage(e),
        _ => false,
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::Db(std::sync::Arc::new(e))
    }
}

impl From<std::sync::Arc<sea_orm::DbErr>> for ApiError {
    fn from(e: std::sync::Arc<sea_orm::DbErr>) -> Self {
        ApiError::Db(e)
    }
}

impl ApiError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The database error inside, if this is one.
    pub fn db_err(&self) -> Option<&sea_orm::DbErr> {
        match self {
            ApiError::Db(e) => Some(e),
            _ => None,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } => "NOT_FOUND",
            ApiError::BadUserInput { .. } | ApiError::BadPage { .. } => "BAD_USER_INPUT",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden { .. } | ApiError::OutOfScope(_) => "FORBIDDEN",
            ApiError::Conflict { .. } => "CONFLICT",
            ApiError::WouldWithdraw { .. } => "WOULD_WITHDRAW",
            ApiError::Deleted { .. } => "DELETED",
            ApiError::Unavailable => DATABASE_UNAVAILABLE,
            ApiError::Db(e) if is_unavailable(e) => DATABASE_UNAVAILABLE,
            // A statement cut off by PostgreSQL's statement timeout: the client may retry.
            ApiError::Db(e)
                if e.to_string()
                    .contains("canceling statement due to statement timeout") =>
            {
                "TIMEOUT"
            }
            ApiError::Db(_) => "INTERNAL",
        }
    }
}

impl ApiError {
    /// The GraphQL error a client sees: a stable code, and for internal errors only an id
    /// to quote (the detail is logged under that id).
    pub fn to_graphql(&self) -> async_graphql::Error {
        let code = self.code();
        let message = match self {
            ApiError::Db(inner) if code == DATABASE_UNAVAILABLE => {
                tracing::warn!(error = %inner, "database unavailable");
                ApiError::Unavailable.to_string()
            }
            ApiError::Db(inner) => {
                let id = error_id();
                tracing::error!(error_id = %id, error = %inner, "internal error");
                format!("internal error (error id {id})")
            }
            other => other.to_string(),
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            match self {
                ApiError::BadUserInput { field, .. } => ext.set("field", field.as_str()),
                ApiError::BadPage { line, .. } => ext.set("line", *line as u64),
                ApiError::Conflict { current, .. } => ext.set("currentVersion", *current),
                ApiError::Forbidden { needed } => ext.set("requiredRole", *needed),
                ApiError::OutOfScope(_) => ext.set("outOfScope", true),
                ApiError::WouldWithdraw { withheld, .. } => ext.set(
                    "withheld",
                    async_graphql::Value::List(
                        withheld
                            .iter()
                            .map(|(id, label, events)| {
                                let mut o = async_graphql::indexmap::IndexMap::new();
                                o.insert(async_graphql::Name::new("id"), id.as_str().into());
                                o.insert(async_graphql::Name::new("label"), label.as_str().into());
                                o.insert(
                                    async_graphql::Name::new("statusEvents"),
                                    (*events).into(),
                                );
                                async_graphql::Value::Object(o)
                            })
                            .collect(),
                    ),
                ),
                _ => {}
            }
            if code == DATABASE_UNAVAILABLE {
                ext.set("retryable", true);
                ext.set("retryAfter", crate::health::RETRY_AFTER_SECS);
            } else if code == "TIMEOUT" {
                ext.set("retryable", true);
            }
        })
    }
}

/// The answer to a request refused, before or while it ran, because the database is
/// unavailable: one `DATABASE_UNAVAILABLE` error, no data.
pub fn unavailable_response() -> Response {
    let e = ApiError::Unavailable.to_graphql();
    let mut error = ServerError::new(e.message, None);
    error.extensions = e.extensions;
    Response::from_errors(vec![error])
}

/// Maps every error of a response once, at the end of the request: `ApiError`s get their
/// code (and internal ones lose their detail), errors raised by async-graphql itself (syntax,
/// validation, input coercion) get `GRAPHQL_VALIDATION_FAILED` or `BAD_USER_INPUT`.
pub fn map_errors(response: &mut Response) {
    if response.errors.len() > MAX_ERRORS {
        let more = response.errors.len() - MAX_ERRORS;
        response.errors.truncate(MAX_ERRORS);
        let mut last = ServerError::new(format!("... and {more} more errors like these"), None);
        last.extensions
            .get_or_insert_with(Default::default)
            .set("code", "TOO_MANY_ERRORS");
        response.errors.push(last);
    }
    for error in &mut response.errors {
        map_server_error(error);
        bound_message(&mut error.message);
    }
}

/// Errors beyond this many are summed up in one: a document of a thousand repeated
/// directives would otherwise be answered with a megabyte of errors.
pub const MAX_ERRORS: usize = 20;

/// Longest error message, in bytes: messages quote what they refuse, and a client that sent
/// half a megabyte as an id does not need it back.
pub const MAX_MESSAGE_BYTES: usize = 512;

fn bound_message(message: &mut String) {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        let dropped = message.len() - cut;
        message.truncate(cut);
        message.push_str(&format!("... ({dropped} more bytes)"));
    }
}

fn map_server_error(error: &mut ServerError) {
    if let Some(api) = error.source::<ApiError>() {
        let mapped = api
            .to_graphql()
            .into_server_error(error.locations.first().copied().unwrap_or_default());
        error.message = mapped.message;
        error.extensions = mapped.extensions;
        return;
    }
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some());
    if !has_code {
        // The limits async-graphql checks itself say so only in their message.
        let code = if error.message == "Query is too complex." {
            "QUERY_TOO_COMPLEX"
        } else if error.message == "Query is nested too deep." {
            "QUERY_TOO_DEEP"
        } else if error.path.is_empty() {
            "GRAPHQL_VALIDATION_FAILED"
        } else {
            "BAD_USER_INPUT"
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}

/// A short id tying a client's error to the server log line.
fn error_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{:08x}{:04x}",
        nanos,
        SEQ.fetch_add(1, Ordering::Relaxed) & 0xffff
    )
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

    use super::*;

    fn sqlx_err(e: sea_orm::sqlx::Error) -> ApiError {
        ApiError::from(DbErr::Query(RuntimeErr::SqlxError(Arc::new(e))))
    }

    #[test]
    fn an_unreachable_database_is_retryable_and_says_nothing_of_itself() {
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connect to 10.0.0.7:5432 refused",
        );
        for e in [
            ApiError::from(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
            sqlx_err(sea_orm::sqlx::Error::Io(refused)),
            sqlx_err(sea_orm::sqlx::Error::PoolTimedOut),
        ] {
            assert_eq!(e.code(), DATABASE_UNAVAILABLE, "{e}");
            let g = e.to_graphql();
            assert!(
                !g.message.contains("10.0.0.7") && !g.message.contains("pool"),
                "{}",
                g.message
            );
            let ext = g.extensions.unwrap();
            assert_eq!(
                ext.get("retryable"),
                Some(&async_graphql::Value::from(true))
            );
        }
        // A bad statement is not an outage.
        assert_eq!(
            sqlx_err(sea_orm::sqlx::Error::RowNotFound).code(),
            "INTERNAL"
        );
        let refused = unavailable_response();
        assert_eq!(refused.data, async_graphql::Value::Null);
        assert_eq!(
            refused.errors[0].extensions.as_ref().unwrap().get("code"),
            Some(&async_graphql::Value::from(DATABASE_UNAVAILABLE))
        );
    }
}
