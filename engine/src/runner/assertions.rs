//! Assertions: CEL expressions evaluated against what a step observed (`status`, `headers`,
//! `body`, ...). A failed assertion says what was expected and what was found; an evaluation
//! error is a failed assertion with the error, never a panic.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use cel::common::ast::{Expr, SourceInfo};
use cel::{Context, ExecutionError, IdedExpr, Program, Value};

use super::outcome::AssertionOutcome;
use super::redact::Redactor;

/// Longest rendering of a value in a message; the rest is cut (bodies can be megabytes).
const MAX_SHOWN: usize = 300;

/// The variables an assertion can use, with hints for errors involving them.
#[derive(Default)]
pub(crate) struct Facts {
    values: Vec<(&'static str, Value)>,
    notes: Vec<(&'static str, String)>,
}

impl Facts {
    /// Makes `name` available to assertions.
    pub(crate) fn set(&mut self, name: &'static str, value: Value) {
        self.values.push((name, value));
    }

    /// Adds `hint` to the error of any failing assertion that uses `name`.
    pub(crate) fn note(&mut self, name: &'static str, hint: String) {
        self.notes.push((name, hint));
    }
}

/// A JSON value as CEL sees it: integers become `int` (so `body.count == 3` holds).
pub(crate) fn json_to_cel(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => {
            Value::from(items.iter().map(json_to_cel).collect::<Vec<_>>())
        }
        serde_json::Value::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), json_to_cel(v)))
                .collect::<HashMap<String, Value>>(),
        ),
    }
}

/// A string map (headers, variables) as a CEL map.
pub(crate) fn string_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::from(
        pairs
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect::<HashMap<String, Value>>(),
    )
}

/// The run's variables as the `vars` map.
pub(crate) fn vars_value(vars: &BTreeMap<String, String>) -> Value {
    string_map(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Evaluates every assertion against `facts`; messages are redacted.
pub(crate) fn check_all(
    assertions: &[String],
    facts: &Facts,
    redactor: &Redactor,
) -> Vec<AssertionOutcome> {
    // The standard library is set up once per thread; each step's facts go in a child scope.
    thread_local! {
        static STDLIB: Context<'static, 'static> = Context::default();
    }
    STDLIB.with(|stdlib| {
        let mut ctx = stdlib.new_inner_scope();
        for (name, value) in &facts.values {
            ctx.add_variable_from_value(*name, value.clone());
        }
        assertions
            .iter()
            .map(|expression| {
                let mut outcome = check(expression, &ctx, facts);
                for field in [
                    &mut outcome.expected,
                    &mut outcome.actual,
                    &mut outcome.error,
                ] {
                    *field = field.as_deref().map(|t| redactor.redact(t));
                }
                outcome
            })
            .collect()
    })
}

/// The compiled program of an assertion, compiled once per process: assertions come from the
/// configuration, so the cache holds at most one entry per assertion written there.
fn compiled(expression: &str) -> Result<Arc<Program>, String> {
    static PROGRAMS: OnceLock<Mutex<HashMap<String, Arc<Program>>>> = OnceLock::new();
    let programs = PROGRAMS.get_or_init(Default::default);
    if let Some(program) = programs.lock().expect("programs").get(expression) {
        return Ok(program.clone());
    }
    let program = Arc::new(
        Program::compile(expression)
            .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_owned())?,
    );
    programs
        .lock()
        .expect("programs")
        .insert(expression.to_owned(), program.clone());
    Ok(program)
}

fn check(expression: &str, ctx: &Context, facts: &Facts) -> AssertionOutcome {
    let failed = |expected, actual, error| AssertionOutcome {
        expression: expression.to_owned(),
        passed: false,
        expected,
        actual,
        error,
    };
    let program = match compiled(expression) {
        Ok(program) => program,
        Err(first) => {
            return failed(None, None, Some(format!("not a valid expression: {first}")));
        }
    };
    let notes: Vec<&str> = facts
        .notes
        .iter()
        .filter(|(name, _)| program.references().has_variable(name))
        .map(|(_, hint)| hint.as_str())
        .collect();
    let explain = Explainer { ctx, facts, notes };
    let root = program.expression();
    let result = program.execute(ctx);
    if matches!(result, Ok(Value::Bool(true))) {
        return AssertionOutcome {
            expression: expression.to_owned(),
            passed: true,
            expected: None,
            actual: None,
            error: None,
        };
    }
    let mut conjuncts = Vec::new();
    let mut cuts = Vec::new();
    flatten_and(root, program.source_info(), &mut conjuncts, &mut cuts);
    if conjuncts.len() > 1 {
        for (i, conjunct) in conjuncts.iter().enumerate() {
            let part = ctx.resolve(conjunct);
            if matches!(part, Ok(Value::Bool(true))) {
                continue;
            }
            let text = (cuts.len() + 1 == conjuncts.len())
                .then(|| conjunct_text(expression, &cuts, i))
                .flatten()
                .unwrap_or_else(|| format!("condition {} of {}", i + 1, conjuncts.len()));
            let (expected, actual, error) = explain.one(conjunct, part);
            let error = Some(match error {
                Some(e) => format!("`{text}`: {e}"),
                None => format!("`{text}` is false"),
            });
            return failed(expected, actual, error);
        }
    }
    let (expected, actual, error) = explain.one(root, result);
    failed(expected, actual, error)
}

struct Explainer<'a, 'c> {
    ctx: &'a Context<'c, 'c>,
    facts: &'a Facts,
    notes: Vec<&'a str>,
}

type Explanation = (Option<String>, Option<String>, Option<String>);

impl Explainer<'_, '_> {
    /// Expected, actual and error for one expression that did not evaluate to `true`.
    fn one(&self, expr: &IdedExpr, result: Result<Value, ExecutionError>) -> Explanation {
        match result {
            Err(e) => (None, None, Some(self.describe(&e))),
            Ok(Value::Bool(false)) => match comparison(expr) {
                Some((op, left, right)) => {
                    let side = |e: &IdedExpr| match self.ctx.resolve(e) {
                        Ok(v) => (Some(show(&v)), None),
                        Err(err) => (None, Some(self.describe(&err))),
                    };
                    let (actual, left_err) = side(left);
                    let (expected, right_err) = side(right);
                    (
                        expected.map(|e| format!("{op}{e}")),
                        actual,
                        left_err.or(right_err),
                    )
                }
                None => (Some("true".into()), Some("false".into()), None),
            },
            Ok(other) => (
                Some("true".into()),
                Some(show(&other)),
                Some(format!(
                    "the expression gives a value of type {}, not true or false",
                    other.type_of()
                )),
            ),
        }
    }

    fn describe(&self, error: &ExecutionError) -> String {
        let mut text = match error {
            ExecutionError::NoSuchKey(key) => format!("no such key `{key}`"),
            ExecutionError::NoSuchOverload(o) if o.function() == "_._" => format!(
                "cannot select a field of a {}",
                o.argument_types().first().map_or("value", String::as_str)
            ),
            ExecutionError::UndeclaredReference(name) => {
                let known: Vec<&str> = self.facts.values.iter().map(|(n, _)| *n).collect();
                format!(
                    "`{name}` is not defined here (defined: {})",
                    known.join(", ")
                )
            }
            other => other.to_string(),
        };
        for note in &self.notes {
            text.push_str(&format!(" ({note})"));
        }
        text
    }
}

/// `A op B` at the top of an expression, for the comparison operators.
fn comparison(expr: &IdedExpr) -> Option<(&'static str, &IdedExpr, &IdedExpr)> {
    let Expr::Call(call) = &expr.expr else {
        return None;
    };
    if call.target.is_some() || call.args.len() != 2 {
        return None;
    }
    let op = match call.func_name.as_str() {
        "_==_" => "",
        "_!=_" => "!= ",
        "_<_" => "< ",
        "_<=_" => "<= ",
        "_>_" => "> ",
        "_>=_" => ">= ",
        "@in" => "in ",
        _ => return None,
    };
    Some((op, &call.args[0], &call.args[1]))
}

/// The conjuncts of an `&&` chain in source order, and the (start, stop) byte offsets of each
/// `&&` between them.
fn flatten_and<'e>(
    expr: &'e IdedExpr,
    info: &SourceInfo,
    conjuncts: &mut Vec<&'e IdedExpr>,
    cuts: &mut Vec<(u32, u32)>,
) {
    if let Expr::Call(call) = &expr.expr
        && call.func_name == "_&&_"
        && call.target.is_none()
        && call.args.len() == 2
    {
        flatten_and(&call.args[0], info, conjuncts, cuts);
        match info.offset_for(expr.id) {
            Some(cut) => cuts.push(cut),
            // Without a position the text cannot be split; conjuncts are then numbered.
            None => cuts.clear(),
        }
        flatten_and(&call.args[1], info, conjuncts, cuts);
    } else {
        conjuncts.push(expr);
    }
}

/// The source text of conjunct `i`, cut at the `&&` tokens (whose offsets count bytes).
fn conjunct_text(source: &str, cuts: &[(u32, u32)], i: usize) -> Option<String> {
    let start = if i == 0 {
        0
    } else {
        cuts.get(i - 1)?.1 as usize + 1
    };
    let end = if i == cuts.len() {
        source.len()
    } else {
        cuts.get(i)?.0 as usize
    };
    let text = balance_parens(source.get(start..end)?.trim());
    (!text.is_empty()).then(|| text.to_owned())
}

/// Drops the parentheses a cut at `&&` left unmatched: `(a && b)` gives `(a` and `b)`.
fn balance_parens(mut text: &str) -> &str {
    loop {
        let (open, close) = paren_counts(text);
        if open > close && text.starts_with('(') {
            text = text[1..].trim_start();
        } else if close > open && text.ends_with(')') {
            text = text[..text.len() - 1].trim_end();
        } else {
            return text;
        }
    }
}

fn paren_counts(text: &str) -> (usize, usize) {
    let (mut open, mut close) = (0, 0);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' => open += 1,
                ')' => close += 1,
                _ => {}
            },
        }
    }
    (open, close)
}

/// A value as a message shows it: JSON-like, strings quoted, cut after `MAX_SHOWN` characters.
pub(crate) fn show(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    cut(&out, MAX_SHOWN)
}

/// `text` cut to at most `max` characters, with `…` where it was cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

fn write_value(value: &Value, out: &mut String) {
    // Long lists and maps are cut early: the text is cut anyway, don't build megabytes.
    let full = |out: &String| out.len() > MAX_SHOWN;
    match value {
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::UInt(u) => out.push_str(&format!("{u}u")),
        Value::Float(f) => out.push_str(&format!("{f:?}")),
        Value::String(s) => {
            out.push_str(&serde_json::to_string(s.as_str()).unwrap_or_else(|_| s.to_string()))
        }
        Value::Bool(b) => out.push_str(&b.to_string()),
        Value::Null => out.push_str("null"),
        Value::Bytes(b) => out.push_str(&format!("b{:?}", String::from_utf8_lossy(b))),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if full(out) {
                    break;
                }
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Map(map) => {
            let mut entries: Vec<(String, &Value)> = map
                .map
                .iter()
                .map(|(k, v)| {
                    let mut key = String::new();
                    write_value(&Value::from(k), &mut key);
                    (key, v)
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if full(out) {
                    break;
                }
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&format!("{k}: "));
                write_value(v, out);
            }
            out.push('}');
        }
        other => out.push_str(&format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests;
