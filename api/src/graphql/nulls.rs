//! The shape of `data` as the GraphQL spec gives it, where async-graphql departs from it:
//! - errors (section 6.4.4, "Handling Field Errors"): async-graphql leaves a failed field out
//!   of its parent object, where the spec asks for `null` in its place, and for a non-null
//!   field, `null` in the nearest nullable ancestor (the whole `data` when there is none).
//!   This pass runs only on responses that carry field errors; it reads the field types from
//!   the schema's own SDL and the response keys from the request's document.
//! - order (section 6.3.2, "CollectFields"): async-graphql resolves a selection's fields
//!   concurrently and inserts each as it completes, so on PostgreSQL a slower field comes
//!   later than asked. Keys are put back in the document's order, with a check first so that
//!   an object already in order costs a comparison per key.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
    ServiceDocument, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, Value};

/// For each object and interface type, each field's type.
#[derive(Clone, Default)]
pub struct FieldTypes {
    fields: HashMap<String, HashMap<String, Type>>,
    roots: [String; 3],
}

impl FieldTypes {
    pub fn from_sdl(sdl: &str) -> Self {
        let mut out = FieldTypes {
            roots: ["Query".into(), "Mutation".into(), "Subscription".into()],
            ..Default::default()
        };
        let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
            return out;
        };
        let ServiceDocument { definitions } = doc;
        for def in definitions {
            if let TypeSystemDefinition::Type(t) = def {
                let fields = match &t.node.kind {
                    TypeKind::Object(o) => &o.fields,
                    TypeKind::Interface(i) => &i.fields,
                    _ => continue,
                };
                out.fields.insert(
                    t.node.name.node.to_string(),
                    fields
                        .iter()
                        .map(|f| (f.node.name.node.to_string(), f.node.ty.node.clone()))
                        .collect(),
                );
            }
        }
        out
    }

    fn root(&self, ty: OperationType) -> &str {
        match ty {
            OperationType::Query => &self.roots[0],
            OperationType::Mutation => &self.roots[1],
            OperationType::Subscription => &self.roots[2],
        }
    }
}

/// One step of an error's path: the value there may be null or not.
struct Step {
    nullable: bool,
}

/// The selection sets a response key is read from, with the type each is on.
type Sets<'a> = Vec<(&'a SelectionSet, String)>;

/// Fields answering to `key` in `sets`, with the type they are asked on.
fn fields_for<'a>(
    doc: &'a ExecutableDocument,
    sets: &Sets<'a>,
    key: &str,
) -> Vec<(&'a async_graphql::parser::types::Field, String)> {
    fn walk<'a>(
        doc: &'a ExecutableDocument,
        set: &'a SelectionSet,
        on: &str,
        key: &str,
        out: &mut Vec<(&'a async_graphql::parser::types::Field, String)>,
        depth: usize,
    ) {
        if depth > 32 {
            return;
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(f) if f.node.response_key().node.as_str() == key => {
                    out.push((&f.node, on.to_owned()));
                }
                Selection::Field(_) => {}
                Selection::InlineFragment(i) => {
                    let on = i
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(on.to_owned(), |c| c.node.on.node.to_string());
                    walk(doc, &i.node.selection_set.node, &on, key, out, depth + 1);
                }
                Selection::FragmentSpread(s) => {
                    if let Some(f) = doc.fragments.get(&s.node.fragment_name.node) {
                        let on = f.node.type_condition.node.on.node.to_string();
                        walk(doc, &f.node.selection_set.node, &on, key, out, depth + 1);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for (set, on) in sets {
        walk(doc, set, on, key, &mut out, 0);
    }
    out
}

/// The response keys of `sets` in the order the query asks for them.
fn key_order(doc: &ExecutableDocument, sets: &Sets<'_>) -> Vec<Name> {
    fn walk(doc: &ExecutableDocument, set: &SelectionSet, out: &mut Vec<Name>, depth: usize) {
        if depth > 32 {
            return;
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let k = f.node.response_key().node.clone();
                    if !out.contains(&k) {
                        out.push(k);
                    }
                }
                Selection::InlineFragment(i) => {
                    walk(doc, &i.node.selection_set.node, out, depth + 1)
                }
                Selection::FragmentSpread(s) => {
                    if let Some(f) = doc.fragments.get(&s.node.fragment_name.node) {
                        walk(doc, &f.node.selection_set.node, out, depth + 1);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for (set, _) in sets {
        walk(doc, set, &mut out, 0);
    }
    out
}

fn named(ty: &Type) -> String {
    use async_graphql::parser::types::BaseType;
    match &ty.base {
        BaseType::Named(n) => n.to_string(),
        BaseType::List(inner) => named(inner),
    }
}

/// Puts `null` where each field error's path says a value is missing (or in its nearest
/// nullable ancestor), and keeps the query's key order in the objects it touches.
pub fn place_errors(
    types: &FieldTypes,
    doc: &ExecutableDocument,
    operation: Option<&str>,
    response: &mut async_graphql::Response,
) {
    let Some(op) = operation_of(doc, operation) else {
        return;
    };
    let root = types.root(op.node.ty).to_owned();
    let paths: Vec<Vec<async_graphql::PathSegment>> = response
        .errors
        .iter()
        .filter(|e| !e.path.is_empty())
        .map(|e| e.path.clone())
        .collect();
    for path in paths {
        if response.data == Value::Null {
            // Already null: nothing below it can be placed.
            return;
        }
        let Some(steps) = steps(types, doc, &op.node.selection_set.node, &root, &path) else {
            continue;
        };
        // The deepest nullable step at or above the failed field takes the null. A step that
        // async-graphql already left out (a list whose element failed) failed itself: the
        // null then goes to the nearest nullable step above it.
        let mut upto = steps.len();
        loop {
            let Some(at) = steps[..upto].iter().rposition(|s| s.nullable) else {
                response.data = Value::Null;
                return;
            };
            match set_null(
                types,
                doc,
                &op.node.selection_set.node,
                &root,
                &mut response.data,
                &path[..=at],
            ) {
                Ok(()) => break,
                Err(Missing(d)) if d + 1 < upto => upto = d + 1,
                Err(_) => break,
            }
        }
    }
}

/// The nullability of each step of `path`, or `None` where the path does not match the
/// document (then nothing is changed).
fn steps(
    types: &FieldTypes,
    doc: &ExecutableDocument,
    root_set: &SelectionSet,
    root: &str,
    path: &[async_graphql::PathSegment],
) -> Option<Vec<Step>> {
    use async_graphql::PathSegment;
    let mut sets: Sets<'_> = vec![(root_set, root.to_owned())];
    let mut out = Vec::with_capacity(path.len());
    // The type still to be unwrapped by list indexes, after a field step.
    let mut pending: Option<Type> = None;
    for seg in path {
        match seg {
            PathSegment::Field(key) => {
                let found = fields_for(doc, &sets, key);
                let (field, on) = found.first()?;
                let ty = types
                    .fields
                    .get(on)
                    .and_then(|f| f.get(field.name.node.as_str()))
                    .cloned()
                    .or_else(|| {
                        (field.name.node.as_str() == "__typename").then(|| Type::new("String!"))?
                    })?;
                out.push(Step {
                    nullable: ty.nullable,
                });
                let next_on = named(&ty);
                sets = found
                    .iter()
                    .map(|(f, _)| (&f.selection_set.node, next_on.clone()))
                    .collect();
                pending = Some(ty);
            }
            PathSegment::Index(_) => {
                use async_graphql::parser::types::BaseType;
                let inner = match pending.take()?.base {
                    BaseType::List(inner) => *inner,
                    BaseType::Named(_) => return None,
                };
                out.push(Step {
                    nullable: inner.nullable,
                });
                pending = Some(inner);
            }
        }
    }
    Some(out)
}

/// The step of a path whose value is missing from the data.
struct Missing(usize);

/// Sets the value at `path` to null (inserting the key where it was left out), and puts the
/// parent's keys back in the query's order.
fn set_null(
    types: &FieldTypes,
    doc: &ExecutableDocument,
    root_set: &SelectionSet,
    root: &str,
    data: &mut Value,
    path: &[async_graphql::PathSegment],
) -> Result<(), Missing> {
    use async_graphql::PathSegment;
    let mut sets: Sets<'_> = vec![(root_set, root.to_owned())];
    let mut node = data;
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        match seg {
            PathSegment::Field(key) => {
                let Value::Object(map) = node else {
                    return Err(Missing(i));
                };
                let name = Name::new(key);
                if last {
                    map.insert(name, Value::Null);
                    let order = key_order(doc, &sets);
                    map.sort_by_cached_key(|k, _| {
                        order.iter().position(|o| o == k).unwrap_or(usize::MAX)
                    });
                    return Ok(());
                }
                let found = fields_for(doc, &sets, key);
                let Some((field, on)) = found.first() else {
                    return Err(Missing(usize::MAX));
                };
                let next_on = types
                    .fields
                    .get(on)
                    .and_then(|f| f.get(field.name.node.as_str()))
                    .map(named)
                    .unwrap_or_default();
                sets = found
                    .iter()
                    .map(|(f, _)| (&f.selection_set.node, next_on.clone()))
                    .collect();
                let Some(next) = map.get_mut(&name) else {
                    return Err(Missing(i));
                };
                node = next;
            }
            PathSegment::Index(idx) => {
                let Value::List(items) = node else {
                    return Err(Missing(i));
                };
                let Some(next) = items.get_mut(*idx) else {
                    return Err(Missing(i));
                };
                if last {
                    *next = Value::Null;
                    return Ok(());
                }
                node = next;
            }
        }
    }
    Ok(())
}

/// How the keys of the objects at one place in the answer are ordered, and the selection
/// sets of each key's value.
struct Plan<'a> {
    order: Vec<Name>,
    children: HashMap<Name, Sets<'a>>,
}

fn plan<'a>(doc: &'a ExecutableDocument, sets: &Sets<'a>) -> Plan<'a> {
    let order = key_order(doc, sets);
    let children = order
        .iter()
        .filter_map(|key| {
            let child: Sets<'a> = fields_for(doc, sets, key)
                .into_iter()
                .filter(|(f, _)| !f.selection_set.node.items.is_empty())
                .map(|(f, _)| (&f.selection_set.node, String::new()))
                .collect();
            (!child.is_empty()).then(|| (key.clone(), child))
        })
        .collect();
    Plan { order, children }
}

fn apply(
    doc: &ExecutableDocument,
    map: &mut async_graphql::indexmap::IndexMap<Name, Value>,
    p: &Plan<'_>,
) {
    let rank = |k: &Name| p.order.iter().position(|o| o == k).unwrap_or(usize::MAX);
    let in_order = map
        .keys()
        .map(rank)
        .try_fold(0usize, |last, r| (r >= last).then_some(r))
        .is_some();
    if !in_order {
        map.sort_by_cached_key(|k, _| rank(k));
    }
    for (key, value) in map.iter_mut() {
        if let Some(child) = p.children.get(key) {
            order_value(doc, value, child);
        }
    }
}

fn order_value(doc: &ExecutableDocument, value: &mut Value, sets: &Sets<'_>) {
    fn item(doc: &ExecutableDocument, value: &mut Value, p: &Plan<'_>) {
        match value {
            Value::Object(map) => apply(doc, map, p),
            Value::List(items) => items.iter_mut().for_each(|v| item(doc, v, p)),
            _ => {}
        }
    }
    if matches!(value, Value::Object(_) | Value::List(_)) {
        let p = plan(doc, sets);
        item(doc, value, &p);
    }
}

/// Puts every object's keys in the order the document asks for them.
pub fn order_keys(
    doc: &ExecutableDocument,
    operation: Option<&str>,
    response: &mut async_graphql::Response,
) {
    let Some(op) = operation_of(doc, operation) else {
        return;
    };
    let sets: Sets<'_> = vec![(&op.node.selection_set.node, String::new())];
    order_value(doc, &mut response.data, &sets);
}

fn operation_of<'a>(
    doc: &'a ExecutableDocument,
    operation: Option<&str>,
) -> Option<&'a async_graphql::Positioned<async_graphql::parser::types::OperationDefinition>> {
    match (&doc.operations, operation) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        _ => None,
    }
}
