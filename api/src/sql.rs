//! Small helpers for the hand-written SQL of the loaders and aggregates: one dialect-neutral
//! text with `?` placeholders, rendered for the connected engine.

use sea_orm::{DbBackend, Statement, Value};

/// Rewrites `?` placeholders as `$1, $2, ...` for PostgreSQL. Our SQL never has a literal `?`.
pub fn placeholders(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// A statement from dialect-neutral SQL.
pub fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, placeholders(backend, sql), values)
}

/// `?, ?, ?` and the values for an `IN (...)` list.
pub fn in_list<T: Clone + Into<Value>>(items: &[T]) -> (String, Vec<Value>) {
    let list = vec!["?"; items.len()].join(", ");
    (list, items.iter().cloned().map(Into::into).collect())
}

/// A case-insensitive `LIKE` pattern for "contains", with the wildcards of the input escaped.
/// Use with `LOWER(col) LIKE ? ESCAPE '!'` (the same on both engines; '!' rather than a
/// backslash, whose meaning in string literals differs between engines and settings).
pub fn contains_pattern(needle: &str) -> String {
    let escaped = needle
        .to_lowercase()
        .replace('!', "!!")
        .replace('%', "!%")
        .replace('_', "!_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_gets_numbered_placeholders() {
        assert_eq!(
            placeholders(DbBackend::Postgres, "a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
        assert_eq!(placeholders(DbBackend::Sqlite, "a = ?"), "a = ?");
    }

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(contains_pattern("50%_A!"), "%50!%!_a!!%");
    }
}
