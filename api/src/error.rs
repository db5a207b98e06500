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
    #[error(transparent)]
    Db(std::sync::Arc<sea_orm::DbErr>),
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

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } => "NOT_FOUND",
            ApiError::BadUserInput { .. } | ApiError::BadPage { .. } => "BAD_USER_INPUT",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden { .. } => "FORBIDDEN",
            ApiError::Conflict { .. } => "CONFLICT",
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
                _ => {}
            }
        })
    }
}

/// Maps every error of a response once, at the end of the request: `ApiError`s get their
/// code (and internal ones lose their detail), errors raised by async-graphql itself (syntax,
/// validation, input coercion) get `GRAPHQL_VALIDATION_FAILED` or `BAD_USER_INPUT`.
pub fn map_errors(response: &mut Response) {
    for error in &mut response.errors {
        map_server_error(error);
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
