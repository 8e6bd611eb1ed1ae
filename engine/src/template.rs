//! `{{ name }}` templates: text with references to environment variables, workflow variables
//! and captured values, checked when the configuration loads and filled in at run time.

use std::collections::BTreeMap;
use std::fmt;

/// A text with `{{ name }}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

/// A variable a template needs that is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variable `{0}` is not set")]
pub struct MissingVariable(pub String);

impl Template {
    /// Parses a text; an unclosed `{{` or a reference that is not a name is an error.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in `{text}`"))?;
            let name = after[..end].trim();
            if !is_name(name) {
                return Err(format!(
                    "`{{{{{}}}}}` is not a variable reference (names are letters, digits, _ . -)",
                    &after[..end]
                ));
            }
            parts.push(Part::Var(name.to_owned()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The names this template refers to.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Fills the references in from `vars`.
    pub fn render(&self, vars: &BTreeMap<String, String>) -> Result<String, MissingVariable> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(name) => out.push_str(
                    vars.get(name)
                        .ok_or_else(|| MissingVariable(name.clone()))?,
                ),
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    /// The template as written, references unfilled (safe to print: holds no values).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(text) => f.write_str(text)?,
                Part::Var(name) => write!(f, "{{{{ {name} }}}}")?,
            }
        }
        Ok(())
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Every `{{ name }}` reference inside a JSON value's strings.
pub fn json_variables(value: &serde_json::Value) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    collect_json(value, &mut out)?;
    Ok(out)
}

fn collect_json(value: &serde_json::Value, out: &mut Vec<String>) -> Result<(), String> {
    match value {
        serde_json::Value::String(s) => {
            out.extend(Template::parse(s)?.variables().map(str::to_owned))
        }
        serde_json::Value::Array(items) => items.iter().try_for_each(|v| collect_json(v, out))?,
        serde_json::Value::Object(map) => map.values().try_for_each(|v| collect_json(v, out))?,
        _ => {}
    }
    Ok(())
}

/// Renders every string of a JSON value as a template.
pub fn render_json(
    value: &serde_json::Value,
    vars: &BTreeMap<String, String>,
) -> Result<serde_json::Value, MissingVariable> {
    Ok(match value {
        serde_json::Value::String(s) => match Template::parse(s) {
            Ok(t) => serde_json::Value::String(t.render(vars)?),
            Err(_) => value.clone(),
        },
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|v| render_json(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_json(v, vars)?)))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn renders_references_and_keeps_text() {
        let t = Template::parse("{{base_url}}/api/farms/{{ farm.id }}?x=1").unwrap();
        assert_eq!(
            t.variables().collect::<Vec<_>>(),
            vec!["base_url", "farm.id"]
        );
        let out = t
            .render(&vars(&[
                ("base_url", "http://127.0.0.1:8080"),
                ("farm.id", "42"),
            ]))
            .unwrap();
        assert_eq!(out, "http://127.0.0.1:8080/api/farms/42?x=1");
        assert_eq!(t.to_string(), "{{ base_url }}/api/farms/{{ farm.id }}?x=1");
    }

    #[test]
    fn missing_variables_and_bad_syntax_are_errors() {
        let t = Template::parse("{{ token }}").unwrap();
        assert_eq!(
            t.render(&BTreeMap::new()),
            Err(MissingVariable("token".into()))
        );
        assert!(
            Template::parse("{{ token ")
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(
            Template::parse("{{ 1abc }}")
                .unwrap_err()
                .contains("not a variable")
        );
        assert!(Template::parse("{{}}").is_err());
    }

    #[test]
    fn json_strings_are_templates() {
        let body = serde_json::json!({"email": "{{ email }}", "n": 1, "tags": ["{{ tag }}", "x"]});
        assert_eq!(json_variables(&body).unwrap(), vec!["email", "tag"]);
        let out = render_json(&body, &vars(&[("email", "a@b.c"), ("tag", "t")])).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"email": "a@b.c", "n": 1, "tags": ["t", "x"]})
        );
    }
}
