//! Document checks made before async-graphql sees a request, because its own checks either
//! do not exist or cost more than the request they guard:
//! - nesting of the raw text, before parsing: the parser recurses once per bracket, so a
//!   megabyte of `[[[[` would exhaust the stack before its own depth limit is reached;
//! - the expanded size of the document, with fragment spreads counted once per fragment
//!   (memoised): async-graphql's depth and complexity visitors walk every spread of every
//!   fragment again, so thirty fragments that each spread the next one twice cost 2^30
//!   visits in validation, before anything awaits and so beyond the request timeout;
//! - the alias cap (a document of a thousand aliased cheap fields passes the depth and
//!   complexity limits);
//! - a clear refusal of introspection when it is switched off, wherever `__schema` or
//!   `__type` is asked for (through fragments too; async-graphql would answer null, silently);
//! - control characters in string inputs, document literals and variables alike: PostgreSQL
//!   refuses NUL in text, and a byte nobody can see has no place in a review's record.

use std::collections::HashMap;

use async_graphql::ErrorExtensions;
use async_graphql::parser::types::{
    Directive, ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned};
use async_graphql_value::Value;

/// What a document may ask for, checked before validation.
#[derive(Clone, Copy, Debug)]
pub struct DocumentLimits {
    pub max_aliases: usize,
    pub introspection: bool,
    /// Fields in the document once every fragment spread is replaced by its fragment.
    pub max_selections: usize,
    /// Brackets (`{`, `[`, `(`) open at once in the text.
    pub max_nesting: usize,
    /// Tokens in the text: parsing and validating a document costs what it has of them (a
    /// half-megabyte document of 50,000 variables or arguments takes the parser and validator
    /// a second of CPU), while a string literal, however long, is one.
    pub max_tokens: usize,
    /// Directives on one field or fragment (each is validated, and a repeated one is an
    /// error per repetition).
    pub max_directives: usize,
}

impl Default for DocumentLimits {
    fn default() -> Self {
        DocumentLimits {
            max_aliases: 30,
            introspection: true,
            max_selections: 5_000,
            max_nesting: 64,
            max_tokens: 20_000,
            max_directives: 8,
        }
    }
}

pub type Refused = async_graphql::ServerError;

fn refusal(message: String, code: &'static str) -> Refused {
    async_graphql::Error::new(message)
        .extend_with(|_, e| e.set("code", code))
        .into_server_error(Default::default())
}

fn bad_input(field: &str, message: String) -> Refused {
    async_graphql::Error::new(message)
        .extend_with(|_, e| {
            e.set("code", "BAD_USER_INPUT");
            e.set("field", field);
        })
        .into_server_error(Default::default())
}

/// What a scan of the text finds before it is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextShape {
    /// The deepest nesting of brackets.
    pub depth: usize,
    /// Tokens: names, numbers, strings and punctuators (commas, comments and white space are
    /// not tokens in GraphQL).
    pub tokens: usize,
}

/// The shape of the text, outside strings and comments; stops scanning once the depth passes
/// `max_depth` or the tokens `max_tokens` (the answer then says so by exceeding them).
pub fn scan(text: &str, max_depth: usize, max_tokens: usize) -> TextShape {
    let bytes = text.as_bytes();
    let (mut depth, mut deepest, mut tokens, mut i) = (0usize, 0usize, 0usize, 0usize);
    let mut in_word = false;
    while i < bytes.len() {
        let b = bytes[i];
        let word = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+');
        if word && !in_word {
            tokens += 1;
        }
        in_word = word;
        match b {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                tokens += 1;
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                tokens += 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                tokens += 1;
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => {
                tokens += 1;
                depth = depth.saturating_sub(1);
            }
            b':' | b'=' | b'@' | b'$' | b'!' | b'|' | b'&' => tokens += 1,
            _ => {}
        }
        if deepest > max_depth || tokens > max_tokens {
            break;
        }
        i += 1;
    }
    TextShape {
        depth: deepest,
        tokens,
    }
}

/// The deepest nesting of brackets in the text, outside strings and comments; stops
/// counting once past `cap` (the answer is then `cap + 1`).
pub fn nesting(text: &str, cap: usize) -> usize {
    scan(text, cap, usize::MAX).depth.min(cap + 1)
}

/// A character that no string input may hold: C0 controls other than tab, line feed and
/// carriage return, and DEL.
pub fn is_forbidden_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r') && (c as u32) < 0x80) || c as u32 == 0x7f
}

/// The first forbidden character of `s`, as `U+XXXX` at its character offset.
pub fn forbidden_char(s: &str) -> Option<String> {
    s.chars()
        .enumerate()
        .find(|(_, c)| is_forbidden_char(*c))
        .map(|(at, c)| format!("U+{:04X} at character {at}", c as u32))
}

fn control_refusal(field: &str, found: &str) -> Refused {
    bad_input(
        field,
        format!("{field}: control characters are not accepted in text ({found})"),
    )
}

/// The refusal of a value holding a forbidden character, naming where it is.
fn check_value(field: &str, value: &Value) -> Result<(), Refused> {
    match value {
        Value::String(s) => match forbidden_char(s) {
            Some(found) => Err(control_refusal(field, &found)),
            None => Ok(()),
        },
        Value::List(items) => items.iter().try_for_each(|v| check_value(field, v)),
        Value::Object(fields) => fields.iter().try_for_each(|(k, v)| {
            let path = format!("{field}.{k}");
            check_value(&path, v)
        }),
        _ => Ok(()),
    }
}

fn check_const(field: &str, value: &async_graphql::Value) -> Result<(), Refused> {
    use async_graphql::Value as ConstValue;
    match value {
        ConstValue::String(s) => match forbidden_char(s) {
            Some(found) => Err(control_refusal(field, &found)),
            None => Ok(()),
        },
        ConstValue::List(items) => items.iter().try_for_each(|v| check_const(field, v)),
        ConstValue::Object(fields) => fields.iter().try_for_each(|(k, v)| {
            let path = format!("{field}.{k}");
            check_const(&path, v)
        }),
        _ => Ok(()),
    }
}

/// Control characters in the request's variables.
pub fn check_variables(vars: &async_graphql::Variables) -> Result<(), Refused> {
    vars.iter()
        .try_for_each(|(name, v)| check_const(&format!("${name}"), v))
}

/// Walks a document once, fragments by memo, and counts what the limits bound.
struct Walk<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// Expanded size of each fragment; `None` while it is being expanded (a cycle, which
    /// validation reports; counted as 0 here).
    sizes: HashMap<&'a str, Option<usize>>,
    aliases: usize,
    limits: DocumentLimits,
}

impl<'a> Walk<'a> {
    fn directives(&self, list: &'a [Positioned<Directive>]) -> Result<(), Refused> {
        if list.len() > self.limits.max_directives {
            return Err(refusal(
                format!(
                    "a selection has {} directives; at most {} are allowed",
                    list.len(),
                    self.limits.max_directives
                ),
                "QUERY_TOO_COMPLEX",
            ));
        }
        list.iter().try_for_each(|d| {
            d.node
                .arguments
                .iter()
                .try_for_each(|(n, v)| check_value(n.node.as_str(), &v.node))
        })
    }

    fn field(&mut self, f: &'a Field) -> Result<usize, Refused> {
        self.aliases += usize::from(f.alias.is_some());
        self.directives(&f.directives)?;
        for (name, value) in &f.arguments {
            check_value(name.node.as_str(), &value.node)?;
        }
        Ok(1usize.saturating_add(self.set(&f.selection_set.node)?))
    }

    fn set(&mut self, set: &'a SelectionSet) -> Result<usize, Refused> {
        let mut n = 0usize;
        for item in &set.items {
            let size = match &item.node {
                Selection::Field(f) => self.field(&f.node)?,
                Selection::InlineFragment(i) => {
                    self.directives(&i.node.directives)?;
                    self.set(&i.node.selection_set.node)?
                }
                Selection::FragmentSpread(s) => {
                    self.directives(&s.node.directives)?;
                    self.fragment(s.node.fragment_name.node.as_str())?
                }
            };
            n = n.saturating_add(size);
        }
        Ok(n)
    }

    fn fragment(&mut self, name: &'a str) -> Result<usize, Refused> {
        if let Some(known) = self.sizes.get(name) {
            return Ok(known.unwrap_or(0));
        }
        let Some((key, def)) = self.fragments.get_key_value(name) else {
            // An unknown fragment: validation says so.
            return Ok(0);
        };
        let key = key.as_str();
        self.sizes.insert(key, None);
        self.directives(&def.node.directives)?;
        let size = self.set(&def.node.selection_set.node)?;
        self.sizes.insert(key, Some(size));
        Ok(size)
    }
}

/// Whether a root selection set asks for `__schema` or `__type`, through inline fragments
/// and fragment spreads too.
fn introspects(
    set: &SelectionSet,
    fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
    seen: &mut Vec<String>,
) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(f) => matches!(f.node.name.node.as_str(), "__schema" | "__type"),
        Selection::InlineFragment(i) => introspects(&i.node.selection_set.node, fragments, seen),
        Selection::FragmentSpread(s) => {
            let name = s.node.fragment_name.node.as_str();
            if seen.iter().any(|n| n == name) {
                return false;
            }
            seen.push(name.to_owned());
            fragments
                .get(name)
                .is_some_and(|f| introspects(&f.node.selection_set.node, fragments, seen))
        }
    })
}

/// Aliases in every operation and fragment of the document (a fragment spread many times is
/// counted once: its cost is what the complexity and selection limits are for).
pub fn count(doc: &ExecutableDocument) -> usize {
    let mut walk = Walk {
        fragments: &doc.fragments,
        sizes: HashMap::new(),
        aliases: 0,
        limits: DocumentLimits {
            max_directives: usize::MAX,
            ..Default::default()
        },
    };
    for (_, op) in doc.operations.iter() {
        let _ = walk.set(&op.node.selection_set.node);
    }
    for name in doc.fragments.keys() {
        let _ = walk.fragment(name.as_str());
    }
    walk.aliases
}

impl DocumentLimits {
    /// The refusal of a text too deeply nested to parse safely.
    pub fn check_text(&self, text: &str) -> Result<(), Refused> {
        let shape = scan(text, self.max_nesting, self.max_tokens);
        if shape.tokens > self.max_tokens {
            return Err(refusal(
                format!(
                    "the query has more than {} tokens; it is not parsed (long texts belong in \
                     string values or variables, which count as one)",
                    self.max_tokens
                ),
                "QUERY_TOO_COMPLEX",
            ));
        }
        if shape.depth > self.max_nesting {
            return Err(refusal(
                format!(
                    "the query nests brackets more than {} deep; it is not parsed",
                    self.max_nesting
                ),
                "QUERY_TOO_DEEP",
            ));
        }
        Ok(())
    }

    /// The refusal of a document that asks too much, if it does. Linear in the size of the
    /// document, however its fragments spread.
    pub fn check(&self, doc: &ExecutableDocument) -> Result<(), Refused> {
        let mut walk = Walk {
            fragments: &doc.fragments,
            sizes: HashMap::new(),
            aliases: 0,
            limits: *self,
        };
        let mut selections = 0usize;
        for (_, op) in doc.operations.iter() {
            self_directives(&walk, &op.node.directives)?;
            for var in &op.node.variable_definitions {
                if let Some(default) = &var.node.default_value {
                    check_const(&format!("${}", var.node.name.node), &default.node)?;
                }
            }
            selections = selections.saturating_add(walk.set(&op.node.selection_set.node)?);
        }
        // Fragments no operation spreads are still validated: count them too.
        for name in doc.fragments.keys() {
            if !walk.sizes.contains_key(name.as_str()) {
                selections = selections.saturating_add(walk.fragment(name.as_str())?);
            }
        }
        if selections > self.max_selections {
            return Err(refusal(
                format!(
                    "the query has {} fields once its fragments are expanded; at most {} are \
                     allowed",
                    if selections == usize::MAX {
                        "too many".to_owned()
                    } else {
                        selections.to_string()
                    },
                    self.max_selections
                ),
                "QUERY_TOO_COMPLEX",
            ));
        }
        if walk.aliases > self.max_aliases {
            return Err(refusal(
                format!(
                    "the query has {} aliases; at most {} are allowed",
                    walk.aliases, self.max_aliases
                ),
                "QUERY_TOO_COMPLEX",
            ));
        }
        if !self.introspection
            && doc.operations.iter().any(|(_, op)| {
                introspects(&op.node.selection_set.node, &doc.fragments, &mut Vec::new())
            })
        {
            return Err(refusal(
                "introspection is switched off on this server; the schema is published as \
                 schema.graphql"
                    .into(),
                "INTROSPECTION_DISABLED",
            ));
        }
        Ok(())
    }
}

fn self_directives(walk: &Walk<'_>, list: &[Positioned<Directive>]) -> Result<(), Refused> {
    if list.len() > walk.limits.max_directives {
        return Err(refusal(
            format!(
                "the operation has {} directives; at most {} are allowed",
                list.len(),
                walk.limits.max_directives
            ),
            "QUERY_TOO_COMPLEX",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(q).unwrap()
    }

    fn code(e: &Refused) -> String {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        let doc = parse(
            "{ a: reviews { nodes { t: title } } b: reviews { totalCount } ...F }
             fragment F on Query { c: agencies { totalCount } }",
        );
        assert_eq!(count(&doc), 4);
    }

    /// Thirty fragments, each spreading the next twice: 2^30 fields once expanded, counted
    /// in thirty steps.
    fn fan_out(n: usize) -> String {
        let mut q = String::from("{ ...F0 }");
        for i in 0..n {
            q.push_str(&format!(
                " fragment F{i} on Query {{ ...F{j} ...F{j} }}",
                j = i + 1
            ));
        }
        q.push_str(&format!(" fragment F{n} on Query {{ __typename }}"));
        q
    }

    #[test]
    fn fragment_fan_out_is_counted_without_expanding_it() {
        let limits = DocumentLimits::default();
        let small = parse(&fan_out(10));
        limits.check(&small).expect("1,024 fields pass");
        let started = std::time::Instant::now();
        let err = limits.check(&parse(&fan_out(30))).unwrap_err();
        assert_eq!(code(&err), "\"QUERY_TOO_COMPLEX\"");
        assert!(err.message.contains("1073741824 fields"), "{}", err.message);
        // Memoised: the answer comes without walking 2^30 spreads (minutes unmemoised).
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let err = limits.check(&parse(&fan_out(70))).unwrap_err();
        assert!(err.message.contains("too many fields"), "{}", err.message);
    }

    #[test]
    fn fragment_cycles_do_not_loop() {
        let doc = parse("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }");
        DocumentLimits::default()
            .check(&doc)
            .expect("validation reports the cycle");
    }

    #[test]
    fn nesting_is_measured_outside_strings_and_comments() {
        assert_eq!(nesting("{ a { b(x: [1, [2]]) } }", 100), 5);
        assert_eq!(nesting("{ a(x: \"{{{{[[[\") # {{{{\n }", 100), 2);
        assert_eq!(nesting("{ a(x: \"\"\" {{{ \\\"\"\" [[[ \"\"\") }", 100), 2);
        let deep = "[".repeat(1_000_000);
        assert_eq!(nesting(&deep, 64), 65);
        let limits = DocumentLimits::default();
        let err = limits
            .check_text(&format!("{{ a(x: {deep}) }}"))
            .unwrap_err();
        assert_eq!(code(&err), "\"QUERY_TOO_DEEP\"");
    }

    #[test]
    fn tokens_are_counted_and_strings_are_one() {
        assert_eq!(
            scan("{ reviews(first: 5) { totalCount } }", 64, 1000).tokens,
            11
        );
        assert_eq!(
            scan("{ a(x: \"many words in one string\") }", 64, 1000).tokens,
            8
        );
        let vars = format!(
            "query({}) {{ __typename }}",
            (0..50_000)
                .map(|i| format!("$v{i}: Int"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let limits = DocumentLimits::default();
        let err = limits.check_text(&vars).unwrap_err();
        assert_eq!(code(&err), "\"QUERY_TOO_COMPLEX\"");
        let text = "x".repeat(500_000);
        limits
            .check_text(&format!("{{ a(x: \"{text}\") }}"))
            .expect("one string is one token");
    }

    #[test]
    fn introspection_is_found_through_fragments() {
        let limits = DocumentLimits {
            introspection: false,
            ..Default::default()
        };
        for q in [
            "{ __schema { types { name } } }",
            "{ ... on Query { __type(name: \"Review\") { name } } }",
            "{ ...F } fragment F on Query { ...G } fragment G on Query { __schema { queryType { name } } }",
        ] {
            let err = limits.check(&parse(q)).unwrap_err();
            assert_eq!(code(&err), "\"INTROSPECTION_DISABLED\"", "{q}");
        }
        limits
            .check(&parse("{ reviews { totalCount } __typename }"))
            .unwrap();
    }

    #[test]
    fn control_characters_are_refused_in_literals_and_variables() {
        let limits = DocumentLimits::default();
        let err = limits
            .check(&parse(
                "{ reviews(filter: { textContains: \"a\\u0000b\" }) { totalCount } }",
            ))
            .unwrap_err();
        assert_eq!(code(&err), "\"BAD_USER_INPUT\"");
        assert!(err.message.contains("U+0000"), "{}", err.message);
        limits
            .check(&parse(
                "{ reviews(filter: { textContains: \"tab\\there\\nline\" }) { totalCount } }",
            ))
            .expect("tab and newline are text");
        let vars = async_graphql::Variables::from_json(serde_json::json!({
            "input": { "recommendations": [{ "text": "ok" }, { "text": "bell\u{7}" }] }
        }));
        let err = check_variables(&vars).unwrap_err();
        assert!(
            err.message.contains("$input.recommendations"),
            "{}",
            err.message
        );
    }

    #[test]
    fn directives_per_selection_are_capped() {
        let many = (0..9).map(|_| "@include(if: true)").collect::<String>();
        let err = DocumentLimits::default()
            .check(&parse(&format!("{{ __typename {many} }}")))
            .unwrap_err();
        assert_eq!(code(&err), "\"QUERY_TOO_COMPLEX\"");
    }
}
