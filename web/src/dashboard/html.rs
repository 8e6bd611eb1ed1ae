//! A small HTML writer that escapes by construction: markup comes only from `&'static str`
//! templates written in this crate, and every value put into a template is redacted (the
//! configuration's secrets become `***`) and then escaped. Nothing a target, a workflow
//! author or a client controls can become markup.

use std::fmt::Display;

/// An HTML fragment being written.
pub struct Html<'a> {
    out: String,
    redact: &'a dyn Fn(&str) -> String,
}

impl<'a> Html<'a> {
    /// An empty fragment whose values go through `redact` before escaping.
    pub fn new(redact: &'a dyn Fn(&str) -> String) -> Html<'a> {
        Html {
            out: String::with_capacity(16 * 1024),
            redact,
        }
    }

    /// Writes `template` with each `{}` replaced by the next value of `args`, redacted and
    /// escaped. The template is trusted markup; the values never are.
    pub fn put(&mut self, template: &'static str, args: &[&dyn Display]) -> &mut Self {
        let mut parts = template.split("{}");
        self.out.push_str(parts.next().unwrap_or_default());
        let mut args = args.iter();
        for part in parts {
            if let Some(arg) = args.next() {
                let text = arg.to_string();
                let clean = (self.redact)(&text);
                escape_into(&mut self.out, &clean);
            }
            self.out.push_str(part);
        }
        debug_assert!(args.next().is_none(), "more values than {{}} in {template}");
        self
    }

    /// Writes trusted markup.
    pub fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.out.push_str(markup);
        self
    }

    /// Appends a fragment written with the same rules.
    pub fn append(&mut self, fragment: Html<'_>) -> &mut Self {
        self.out.push_str(&fragment.out);
        self
    }

    /// The markup written.
    pub fn into_string(self) -> String {
        self.out
    }
}

/// Escapes text for element content and quoted attribute values.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newlines have no place in a page.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// Percent-encodes a path segment or query value, for URLs put into templates.
pub fn url_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep(text: &str) -> String {
        text.to_owned()
    }

    #[test]
    fn values_are_escaped_and_templates_are_not() {
        let mut h = Html::new(&keep);
        h.put(
            "<td title=\"{}\">{}</td>",
            &[&"a\"b", &"<script>alert('x')</script>&"],
        );
        assert_eq!(
            h.into_string(),
            "<td title=\"a&quot;b\">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</td>"
        );
    }

    #[test]
    fn values_are_redacted_before_escaping() {
        let redact = |text: &str| text.replace("s3cret", "***");
        let mut h = Html::new(&redact);
        h.put("{}", &[&"token=s3cret<"]).raw("<br>");
        assert_eq!(h.into_string(), "token=***&lt;<br>");
    }

    #[test]
    fn control_characters_are_replaced() {
        let mut h = Html::new(&keep);
        h.put("{}", &[&"a\u{0}b\u{1b}[31m\n"]);
        assert_eq!(h.into_string(), "a\u{fffd}b\u{fffd}[31m\n");
    }

    #[test]
    fn url_parts_are_percent_encoded() {
        assert_eq!(url_part("a b/<c>"), "a%20b%2F%3Cc%3E");
        assert_eq!(url_part("quick@production"), "quick@production");
        assert_eq!(url_part("é"), "%C3%A9");
    }
}
