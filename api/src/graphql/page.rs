//! Relay pagination: argument checks, opaque cursors, keyset pages for root lists and the
//! shared connection shape (`edges`, `nodes`, `pageInfo`, `totalCount`).
//!
//! Root lists page by keyset (`WHERE (key, id) > cursor ORDER BY key, id LIMIT n+1`), so a deep
//! page costs what the first one does. Nested lists page by position inside their parent,
//! computed in one batched query per field (see `loaders`).

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Object, OutputType};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::BoxFuture;
use sea_orm::sea_query::{Condition, Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Value,
};
use serde_json::Value as Json;

use crate::error::{ApiError, ApiResult};

pub const MAX_PAGE_SIZE: usize = 100;
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// The four Relay arguments of a connection field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PageArgs {
    pub after: Option<String>,
    pub before: Option<String>,
    pub first: Option<i32>,
    pub last: Option<i32>,
}

/// Validated arguments: sizes bounded, cursors decoded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub after: Option<Vec<CursorValue>>,
    pub before: Option<Vec<CursorValue>>,
    pub first: Option<usize>,
    pub last: Option<usize>,
}

/// One component of a cursor: the value of a sort key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum CursorValue {
    Int(i64),
    Text(String),
}

impl From<CursorValue> for Value {
    fn from(v: CursorValue) -> Self {
        match v {
            CursorValue::Int(i) => Value::BigInt(Some(i)),
            CursorValue::Text(s) => Value::String(Some(s)),
        }
    }
}

impl From<i32> for CursorValue {
    fn from(v: i32) -> Self {
        CursorValue::Int(v.into())
    }
}

impl From<&str> for CursorValue {
    fn from(v: &str) -> Self {
        CursorValue::Text(v.to_owned())
    }
}

pub fn encode_cursor(values: &[CursorValue]) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(values).unwrap_or_default())
}

fn decode_cursor(field: &str, cursor: &str) -> ApiResult<Vec<CursorValue>> {
    let bad = || ApiError::bad_input(field, "not a cursor returned by this connection");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let values: Vec<Json> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    values
        .into_iter()
        .map(|v| serde_json::from_value(v).map_err(|_| bad()))
        .collect()
}

impl PageArgs {
    pub fn new(
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Self {
        Self {
            after,
            before,
            first,
            last,
        }
    }

    /// Checks sizes (0..=100, default 20) and decodes cursors of `arity` components.
    pub fn window(&self, arity: usize) -> ApiResult<Window> {
        let size = |field: &str, v: Option<i32>| -> ApiResult<Option<usize>> {
            match v {
                None => Ok(None),
                Some(n) if n < 0 => Err(ApiError::bad_input(field, "must not be negative")),
                Some(n) if n as usize > MAX_PAGE_SIZE => Err(ApiError::bad_input(
                    field,
                    format!("at most {MAX_PAGE_SIZE} items per page; asked for {n}"),
                )),
                Some(n) => Ok(Some(n as usize)),
            }
        };
        let mut first = size("first", self.first)?;
        let last = size("last", self.last)?;
        if first.is_none() && last.is_none() {
            first = Some(DEFAULT_PAGE_SIZE);
        }
        let cursor = |field: &str, c: &Option<String>| -> ApiResult<Option<Vec<CursorValue>>> {
            c.as_deref()
                .map(|c| {
                    let v = decode_cursor(field, c)?;
                    if v.len() == arity {
                        Ok(v)
                    } else {
                        Err(ApiError::bad_input(
                            field,
                            "cursor belongs to another ordering",
                        ))
                    }
                })
                .transpose()
        };
        Ok(Window {
            after: cursor("after", &self.after)?,
            before: cursor("before", &self.before)?,
            first,
            last,
        })
    }
}

/// A lazily computed total: the count runs only when a client selects `totalCount`.
#[derive(Clone)]
pub struct Total(TotalInner);

#[derive(Clone)]
enum TotalInner {
    Known(u64),
    Lazy(Arc<dyn Fn() -> BoxFuture<'static, Result<u64, DbErr>> + Send + Sync>),
}

impl Total {
    pub fn known(n: u64) -> Self {
        Total(TotalInner::Known(n))
    }

    pub fn lazy(
        f: impl Fn() -> BoxFuture<'static, Result<u64, DbErr>> + Send + Sync + 'static,
    ) -> Self {
        Total(TotalInner::Lazy(Arc::new(f)))
    }
}

/// Fields every connection carries besides `edges`, `nodes` and `pageInfo`.
pub struct ConnectionFields {
    total: Total,
}

impl ConnectionFields {
    pub fn new(total: Total) -> Self {
        Self { total }
    }
}

#[Object]
impl ConnectionFields {
    /// How many items the whole list holds, across all pages.
    async fn total_count(&self) -> async_graphql::Result<i64> {
        match &self.total.0 {
            TotalInner::Known(n) => Ok(*n as i64),
            TotalInner::Lazy(f) => Ok(f().await.map_err(ApiError::from)? as i64),
        }
    }
}

/// The connection type of every list field.
pub type Conn<N> = Connection<String, N, ConnectionFields>;

/// A page of items with their cursors, ready to become a connection.
#[derive(Clone)]
pub struct Page<T> {
    pub items: Vec<(String, T)>,
    pub has_previous: bool,
    pub has_next: bool,
    pub total: Total,
}

impl<T> Page<T> {
    pub fn into_connection<N: OutputType>(self, f: impl Fn(T) -> N) -> Conn<N> {
        let mut conn = Connection::with_additional_fields(
            self.has_previous,
            self.has_next,
            ConnectionFields { total: self.total },
        );
        conn.edges
            .extend(self.items.into_iter().map(|(c, t)| Edge::new(c, f(t))));
        conn
    }

    /// Slices an in-memory list already in order, with position cursors.
    pub fn from_ordered(all: Vec<T>, window: &Window) -> Page<T> {
        let total = all.len();
        let pos = |c: &Option<Vec<CursorValue>>| match c.as_deref() {
            Some([CursorValue::Int(p)]) => Some(*p),
            _ => None,
        };
        let start = pos(&window.after).map_or(0, |p| (p.max(0) as usize).min(total));
        let end = pos(&window.before).map_or(total, |p| ((p - 1).max(0) as usize).min(total));
        let (lo, hi) = slice_bounds(start, end.max(start), window.first, window.last);
        let items = all
            .into_iter()
            .enumerate()
            .skip(lo)
            .take(hi - lo)
            .map(|(i, t)| (encode_cursor(&[CursorValue::Int(i as i64 + 1)]), t))
            .collect();
        Page {
            items,
            has_previous: lo > 0,
            has_next: hi < total,
            total: Total::known(total as u64),
        }
    }
}

/// `[lo, hi)` within `[start, end)` after applying `first` then `last`.
pub fn slice_bounds(
    start: usize,
    end: usize,
    first: Option<usize>,
    last: Option<usize>,
) -> (usize, usize) {
    let mut lo = start;
    let mut hi = end;
    if let Some(f) = first {
        hi = hi.min(lo + f);
    }
    if let Some(l) = last {
        lo = lo.max(hi.saturating_sub(l));
    }
    (lo, hi)
}

/// One sort key of a keyset ordering: a column or an expression (`COALESCE(...)` for a
/// nullable column, so that NULLs sort alike on both engines and cursors never hold NULL).
pub struct SortKey {
    pub expr: SimpleExpr,
    pub desc: bool,
}

impl SortKey {
    /// A column, qualified by its table (filters may join others).
    pub fn column<C: ColumnTrait>(column: C, desc: bool) -> Self {
        Self {
            expr: Expr::col((column.entity_name(), column)),
            desc,
        }
    }
}

/// "Comes after `values` in this ordering": `(k1 > v1) OR (k1 = v1 AND k2 > v2) ...`.
fn after_condition(keys: &[SortKey], values: &[CursorValue], flip: bool) -> Condition {
    // Scoped: sea-query's ExprTrait is implemented for every type and shadows `Ord::max`.
    use sea_orm::sea_query::ExprTrait;
    let mut any = Condition::any();
    for i in 0..keys.len() {
        let mut all = Condition::all();
        for (key, value) in keys.iter().zip(values).take(i) {
            all = all.add(key.expr.clone().eq(Value::from(value.clone())));
        }
        let key = &keys[i];
        let value: SimpleExpr = Expr::val(Value::from(values[i].clone()));
        let greater = key.desc == flip;
        all = all.add(if greater {
            key.expr.clone().gt(value)
        } else {
            key.expr.clone().lt(value)
        });
        any = any.add(all);
    }
    any
}

/// A keyset page over a filtered SeaORM select. `cursor_of` gives a row's sort-key values,
/// in the order of `keys` (the last key must be unique, normally the id).
pub async fn keyset_page<E, M, C>(
    db: &C,
    select: Select<E>,
    keys: &[SortKey],
    window: &Window,
    cursor_of: impl Fn(&M) -> Vec<CursorValue>,
) -> ApiResult<Page<M>>
where
    E: EntityTrait<Model = M>,
    M: FromQueryResult + Sized + Send + Sync + 'static,
    C: ConnectionTrait + Clone + Send + Sync + 'static,
{
    let count_select = select.clone();
    let count_db = db.clone();
    let total = Total::lazy(move || {
        let s = count_select.clone();
        let d = count_db.clone();
        Box::pin(async move { s.count(&d).await })
    });

    let backwards = window.first.is_none() && window.last.is_some();
    let mut query = select;
    if let Some(after) = &window.after {
        query = query.filter(after_condition(keys, after, false));
    }
    if let Some(before) = &window.before {
        query = query.filter(after_condition(keys, before, true));
    }
    for key in keys {
        let asc = key.desc == backwards;
        query = query.order_by(key.expr.clone(), if asc { Order::Asc } else { Order::Desc });
    }
    let limit = if backwards { window.last } else { window.first }.unwrap_or(DEFAULT_PAGE_SIZE);
    let mut rows = query.limit(limit as u64 + 1).all(db).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    if backwards {
        rows.reverse();
    }
    let (mut has_previous, has_next) = if backwards {
        (more, window.before.is_some())
    } else {
        (window.after.is_some(), more)
    };
    if !backwards
        && let Some(l) = window.last
        && rows.len() > l
    {
        rows.drain(..rows.len() - l);
        has_previous = true;
    }
    Ok(Page {
        items: rows
            .into_iter()
            .map(|m| (encode_cursor(&cursor_of(&m)), m))
            .collect(),
        has_previous,
        has_next,
        total,
    })
}

/// The cost of a list field for the complexity limit: its children's cost once per item it
/// may return (the page size asked for, or the default), plus itself.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let n = first.or(last).map_or(DEFAULT_PAGE_SIZE, |n| {
        (n.max(0) as usize).min(MAX_PAGE_SIZE)
    });
    n.max(1).saturating_mul(child_complexity).saturating_add(1)
}

/// The cost of a list that is not a connection: the most it can return (`first`, bounded by
/// `max`, or `max` itself) times its children. Unpaged lists are priced like pages, so that
/// ten aliases of a list of thousands cannot pass as ten fields.
pub fn list_cost(first: Option<i32>, max: usize, child_complexity: usize) -> usize {
    let n = first.map_or(max, |n| (n.max(0) as usize).min(max));
    n.max(1).saturating_mul(child_complexity).saturating_add(1)
}

/// `first` of an unpaged list: at least 0, at most `max`, `default` when not given.
pub fn list_size(field: &str, first: Option<i32>, max: usize) -> ApiResult<usize> {
    match first {
        None => Ok(max),
        Some(n) if n < 0 => Err(ApiError::bad_input(field, "first must not be negative")),
        Some(n) if n as usize > max => Err(ApiError::bad_input(
            field,
            format!("first may be at most {max}"),
        )),
        Some(n) => Ok(n as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpaged_lists_are_priced_by_the_most_they_return() {
        assert_eq!(list_cost(None, 500, 10), 5001);
        assert_eq!(list_cost(Some(20), 500, 10), 201);
        assert_eq!(list_cost(Some(100_000), 500, 10), 5001);
        assert!(list_size("first", Some(501), 500).is_err());
        assert!(list_size("first", Some(-1), 500).is_err());
        assert_eq!(list_size("first", None, 500).unwrap(), 500);
    }

    #[test]
    fn sizes_are_bounded_and_defaulted() {
        let w = PageArgs::default().window(2).unwrap();
        assert_eq!(w.first, Some(DEFAULT_PAGE_SIZE));
        let e = PageArgs::new(None, None, Some(101), None)
            .window(2)
            .unwrap_err();
        assert_eq!(e.code(), "BAD_USER_INPUT");
        assert!(PageArgs::new(None, None, None, Some(-1)).window(2).is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor(&["2023-06".into(), 7.into()]);
        let w = PageArgs::new(Some(c), None, None, None).window(2).unwrap();
        assert_eq!(
            w.after.unwrap(),
            vec![CursorValue::from("2023-06"), CursorValue::Int(7)]
        );
        assert!(
            PageArgs::new(Some("nope".into()), None, None, None)
                .window(2)
                .is_err()
        );
        let one = encode_cursor(&[3.into()]);
        assert!(
            PageArgs::new(Some(one), None, None, None)
                .window(2)
                .is_err()
        );
    }

    #[test]
    fn in_memory_slices_follow_relay() {
        let w = PageArgs::new(None, None, Some(2), None).window(1).unwrap();
        let p = Page::from_ordered(vec![1, 2, 3], &w);
        assert_eq!(
            p.items.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(p.has_next && !p.has_previous);
        let after = p.items[1].0.clone();
        let w = PageArgs::new(Some(after), None, Some(2), None)
            .window(1)
            .unwrap();
        let p = Page::from_ordered(vec![1, 2, 3], &w);
        assert_eq!(p.items.iter().map(|(_, v)| *v).collect::<Vec<_>>(), vec![3]);
        assert!(!p.has_next && p.has_previous);
        let w = PageArgs::new(None, None, None, Some(1)).window(1).unwrap();
        let p = Page::from_ordered(vec![1, 2, 3], &w);
        assert_eq!(p.items.iter().map(|(_, v)| *v).collect::<Vec<_>>(), vec![3]);
    }
}
