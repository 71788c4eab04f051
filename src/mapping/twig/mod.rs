//! Twig templates on MiniJinja. A Twig template is translated once ([`syntax`]) into MiniJinja
//! code that calls the Twig library ([`library`]) wherever PHP's meaning differs from Jinja's;
//! the compiled templates of one mapping live in one [`TemplateSet`]. Output is not escaped,
//! `{{ true }}` prints `1`, and every render is bounded by fuel, output size and nesting depth.

pub mod direct;
pub mod library;
pub mod syntax;
pub mod values;

use std::cell::Cell;
use std::io;
use std::sync::OnceLock;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};

pub use syntax::SyntaxError;

/// Instructions one render may run before it is stopped.
pub const FUEL_PER_RENDER: u64 = 2_000_000;
/// Bytes one render may write.
pub const MAX_OUTPUT_BYTES: usize = library::MAX_VALUE_BYTES;

thread_local! {
    /// Fuel spent by renders on this thread, so that a nested `executeMapping` can charge its
    /// cost to the template that called it.
    static FUEL_SPENT: Cell<u64> = const { Cell::new(0) };
}

/// Fuel spent so far on this thread (a running total; compare two readings).
pub fn fuel_spent() -> u64 {
    FUEL_SPENT.with(Cell::get)
}

/// Why a template did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CompileError {
    pub line: usize,
    pub message: String,
}

impl From<SyntaxError> for CompileError {
    fn from(error: SyntaxError) -> Self {
        Self {
            line: error.line,
            message: error.message,
        }
    }
}

/// Why a render failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

fn base_environment() -> &'static Environment<'static> {
    static BASE: OnceLock<Environment<'static>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut env = Environment::empty();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_fuel(Some(FUEL_PER_RENDER));
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.set_formatter(|out, _state, value| {
            let written = match value.as_str() {
                Some(text) => out.write_str(text),
                None => out.write_str(&values::to_string(value)),
            };
            written.map_err(|_| Error::new(ErrorKind::WriteFailure, "output failed"))
        });
        library::register(&mut env);
        env
    })
}

/// The compiled templates of one mapping, by name.
#[derive(Clone)]
pub struct TemplateSet {
    env: Environment<'static>,
}

impl std::fmt::Debug for TemplateSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateSet").finish_non_exhaustive()
    }
}

impl Default for TemplateSet {
    fn default() -> Self {
        Self {
            env: base_environment().clone(),
        }
    }
}

impl TemplateSet {
    /// Compiles a Twig template under a name.
    pub fn add(&mut self, name: &str, twig: &str) -> Result<(), CompileError> {
        let code = syntax::translate(twig)?;
        self.env
            .add_template_owned(name.to_owned(), code)
            .map_err(|error| CompileError {
                line: error.line().unwrap_or(1),
                message: error.detail().unwrap_or("invalid template").to_owned(),
            })
    }

    /// The top-level variables a template reads, or `None` when it may read any (a name only
    /// known at run time).
    pub fn referenced_names(&self, name: &str) -> Option<std::collections::HashSet<String>> {
        let template = self.env.get_template(name).ok()?;
        if template.source().contains("__twig_lookup") {
            return None;
        }
        Some(template.undeclared_variables(false))
    }

    /// Renders a named template with a context of variables.
    pub fn render(&self, name: &str, context: &Value) -> Result<String, RenderError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|error| RenderError(error.to_string()))?;
        let mut output = LimitedOutput {
            bytes: Vec::new(),
            overflowed: false,
        };
        let result = template.render_captured_to(context.clone(), &mut output);
        match result {
            Ok(captured) => {
                if let Some((consumed, _)) = captured.state().fuel_levels() {
                    FUEL_SPENT.with(|spent| spent.set(spent.get().saturating_add(consumed)));
                }
                String::from_utf8(output.bytes)
                    .map_err(|_| RenderError("output is not UTF-8".into()))
            }
            Err(_) if output.overflowed => Err(RenderError(format!(
                "output exceeds {MAX_OUTPUT_BYTES} bytes"
            ))),
            Err(error) => Err(RenderError(describe(&error))),
        }
    }
}

/// An error with its line, and with the nested cause (an `executeMapping` failure).
fn describe(error: &Error) -> String {
    let mut message = match error.kind() {
        ErrorKind::OutOfFuel => "the template ran too long (out of fuel)".to_owned(),
        _ => error
            .detail()
            .map_or_else(|| error.kind().to_string(), str::to_owned),
    };
    if let Some(line) = error.line() {
        message = format!("line {line}: {message}");
    }
    if let Some(cause) = std::error::Error::source(error) {
        message = format!("{message}: {cause}");
    }
    message
}

struct LimitedOutput {
    bytes: Vec<u8>,
    overflowed: bool,
}

impl io::Write for &mut LimitedOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT_BYTES {
            self.overflowed = true;
            return Err(io::Error::other("output limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Compiles and renders one template (tests and one-off renders).
pub fn render_once(twig: &str, context: &serde_json::Value) -> Result<String, RenderError> {
    let mut set = TemplateSet::default();
    set.add("template", twig)
        .map_err(|error| RenderError(error.to_string()))?;
    set.render("template", &values::from_json(context))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(twig: &str, context: serde_json::Value) -> String {
        match render_once(twig, &context) {
            Ok(text) => text,
            Err(err) => panic!("{twig}: {err}"),
        }
    }

    #[test]
    fn booleans_and_null_print_as_php() {
        assert_eq!(
            render(
                "[{{ true }}|{{ false }}|{{ null }}|{{ 1.0 }}|{{ 0.1 + 0.2 }}]",
                json!({})
            ),
            "[1|||1|0.3]"
        );
    }

    #[test]
    fn output_is_not_escaped() {
        assert_eq!(
            render("{{ a }}", json!({"a": "<b>&amp;\"'"})),
            "<b>&amp;\"'"
        );
        assert_eq!(render("&lt;{{ a }}&gt;", json!({"a": "x"})), "<x>");
    }

    #[test]
    fn conditions() {
        let template = "{% if n > 10 %}big{% elseif n > 5 %}mid{% else %}small{% endif %}";
        assert_eq!(render(template, json!({"n": 11})), "big");
        assert_eq!(render(template, json!({"n": "7"})), "mid");
        assert_eq!(render(template, json!({"n": 1})), "small");
        assert_eq!(
            render("{% if '0' %}y{% else %}n{% endif %}", json!({})),
            "n"
        );
        assert_eq!(render("{% if [] %}y{% else %}n{% endif %}", json!({})), "n");
        assert_eq!(
            render(
                "{% if not a and b %}y{% endif %}",
                json!({"a": false, "b": 1})
            ),
            "y"
        );
        assert_eq!(
            render("{{ 'b' in ['a','b'] ? 'in' : 'out' }}", json!({})),
            "in"
        );
        assert_eq!(render("{{ 'x' not in 'abc' ? 1 : 0 }}", json!({})), "1");
        assert_eq!(render("{{ 1 == '1' ? 'eq' }}", json!({})), "eq");
    }

    #[test]
    fn loops_with_loop_variables_and_else() {
        let template = "{% for x in items %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}{% else %}none{% endfor %}";
        assert_eq!(render(template, json!({"items": ["a", "b"]})), "1:a,2:b");
        assert_eq!(render(template, json!({"items": []})), "none");
        assert_eq!(render(template, json!({})), "none");
        assert_eq!(
            render(
                "{% for k, v in m %}{{ k }}={{ v }};{% endfor %}",
                json!({"m": {"a": 1, "b": 2}})
            ),
            "a=1;b=2;"
        );
        assert_eq!(
            render(
                "{% for v in m %}{{ v }}{% endfor %}",
                json!({"m": {"a": 1, "b": 2}})
            ),
            "12"
        );
        assert_eq!(
            render("{% for i in 1..3 %}{{ i }}{% endfor %}", json!({})),
            "123"
        );
        assert_eq!(render("{{ loop.first ?? 'x' }}", json!({})), "x");
        assert_eq!(
            render(
                "{% for a in [[1,2],[3]] %}{% for b in a %}{{ loop.index }}{{ b }}{% endfor %}|{% endfor %}",
                json!({})
            ),
            "1122|13|"
        );
    }

    #[test]
    fn loop_parent_reads_the_enclosing_loop_and_the_variables_outside() {
        let template = "{% for x in [1, 2] %}{% for y in ['a'] %}{{ loop.parent.loop.index }}{{ loop.parent.x }}{{ y }} {% endfor %}{% endfor %}";
        assert_eq!(render(template, json!({})), "11a 22a ");
        let template = "{% for x in [1] %}{{ loop.parent.loop is null ? 'none' }}{{ loop.parent.name }}{% endfor %}";
        assert_eq!(render(template, json!({"name": "outer"})), "noneouter");
        // The difference the README lists: a loop variable of the same name hides the outer one.
        let template =
            "{% for x in [1] %}{% for x in ['a'] %}{{ loop.parent.x }}{% endfor %}{% endfor %}";
        assert_eq!(render(template, json!({})), "a");
    }

    #[test]
    fn set_inside_loops_changes_outer_variables() {
        let template = "{% set total = 0 %}{% for n in items %}{% set total = total + n %}{% endfor %}{{ total }}";
        assert_eq!(render(template, json!({"items": [1, 2, 3]})), "6");
        let template = "{% set names = [] %}{% for p in people %}{% set names = names|merge([p.name]) %}{% endfor %}{{ names|join(', ') }}";
        assert_eq!(
            render(template, json!({"people": [{"name": "a"}, {"name": "b"}]})),
            "a, b"
        );
        assert_eq!(
            render("{% set a, b = 1, 2 %}{{ a }}{{ b }}", json!({})),
            "12"
        );
        assert_eq!(
            render("{% set x %}<{{ 1 }}>{% endset %}[{{ x }}]", json!({})),
            "[<1>]"
        );
        assert_eq!(
            render(
                "{% set name = name|upper %}{{ name }}",
                json!({"name": "jo"})
            ),
            "JO"
        );
    }

    #[test]
    fn operators() {
        assert_eq!(
            render("{{ a ~ ' ' ~ b ~ true }}", json!({"a": 1, "b": null})),
            "1 1"
        );
        assert_eq!(
            render(
                "{{ missing ?? 'd' }}|{{ n ?? 'd' }}|{{ z ?? 'd' }}",
                json!({"n": null, "z": 0})
            ),
            "d|d|0"
        );
        assert_eq!(render("{{ a.b.c ?? 'deep' }}", json!({})), "deep");
        assert_eq!(
            render(
                "{{ 7 // 2 }} {{ 7 / 2 }} {{ 6 / 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ -3|abs }} {{ (-3)|abs }}",
                json!({})
            ),
            "3 3.5 3 1 1024 -3 3"
        );
        assert_eq!(
            render("{{ '3' + 4 }} {{ 'abc' ~ 1.5 }}", json!({})),
            "7 abc1.5"
        );
        assert_eq!(render("{{ x ?: 'empty' }}", json!({"x": ""})), "empty");
    }

    #[test]
    fn tests_after_is() {
        let context = json!({"a": null, "b": [], "c": "x", "d": 4});
        assert_eq!(
            render(
                "{{ a is defined ? 1 : 0 }}{{ zz is defined ? 1 : 0 }}{{ a is null ? 1 : 0 }}{{ zz is null ? 1 : 0 }}",
                context.clone()
            ),
            "1011"
        );
        assert_eq!(
            render(
                "{{ b is empty ? 1 : 0 }}{{ c is not empty ? 1 : 0 }}{{ b is iterable ? 1 : 0 }}{{ c is iterable ? 1 : 0 }}",
                context.clone()
            ),
            "1110"
        );
        assert_eq!(
            render(
                "{{ d is even ? 1 : 0 }}{{ d is odd ? 1 : 0 }}{{ d is divisible by(2) ? 1 : 0 }}{{ d is same as(4) ? 1 : 0 }}",
                context
            ),
            "1011"
        );
    }

    #[test]
    fn hash_and_list_literals() {
        assert_eq!(
            render(
                "{{ {a: 1, 'b': [1, 2], 3: x}|json_encode }}",
                json!({"x": "y"})
            ),
            r#"{"a":1,"b":[1,2],"3":"y"}"#
        );
        assert_eq!(
            render("{{ {0: 'a', 1: 'b'}|json_encode }}", json!({})),
            r#"["a","b"]"#
        );
        assert_eq!(
            render("{{ [1, 'two', null]|json_encode }}", json!({})),
            r#"[1,"two",null]"#
        );
    }

    #[test]
    fn string_filters() {
        assert_eq!(
            render(
                "{{ 'HeLLo wOrld'|lower }}|{{ 'abc'|upper }}|{{ 'hELLO'|capitalize }}|{{ '  x  '|trim }}|{{ 'xxaxx'|trim('x', 'left') }}",
                json!({})
            ),
            "hello world|ABC|Hello|x|axx"
        );
        assert_eq!(
            render(
                "{{ 'I like this'|replace({'like': 'love', 'this': 'that'}) }}",
                json!({})
            ),
            "I love that"
        );
        assert_eq!(
            render(
                "{{ 'a,b,c'|split(',')|join('|') }}|{{ 'a,b,c'|split(',', 2)|last }}|{{ 'abc'|split('')|length }}",
                json!({})
            ),
            "a|b|c|b,c|3"
        );
        assert_eq!(
            render(
                "{{ 'abcdef'|slice(1, 3) }}|{{ 'abcdef'|slice(-2) }}|{{ [1,2,3,4]|slice(1, 2)|join }}|{{ 'abc'[1:] }}",
                json!({})
            ),
            "bcd|ef|23|bc"
        );
        assert_eq!(
            render(
                "{{ 'abc'|first }}{{ [1,2,3]|last }}{{ 'abc'|length }}{{ {a:1,b:2}|length }}",
                json!({})
            ),
            "a332"
        );
        assert_eq!(
            render(
                "{{ '<p>Hi <b>you</b></p>'|striptags }}|{{ '<i>x</i>'|strip_tags }}",
                json!({})
            ),
            "Hi you|x"
        );
        assert_eq!(
            render(
                "{{ 'a b&c'|url_encode }}|{{ {a: 'x y', b: 1}|url_encode }}",
                json!({})
            ),
            "a%20b%26c|a=x%20y&b=1"
        );
        assert_eq!(
            render(
                "{{ 'Hello World'|b64enc }}|{{ 'SGVsbG8gV29ybGQ='|b64dec }}|{{ 'Hello World_x'|slugify }}",
                json!({})
            ),
            "SGVsbG8gV29ybGQ=|Hello World|hello-world-x"
        );
        assert_eq!(
            render(
                "{{ 'abc123def'|preg_replace('/[0-9]+/', '-') }}|{{ 'John Smith'|preg_replace('/(\\\\w+) (\\\\w+)/', '$2, $1') }}",
                json!({})
            ),
            "abc-def|Smith, John"
        );
    }

    #[test]
    fn default_follows_twig() {
        let context = json!({"empty": "", "zero": 0, "nul": null, "list": [], "text": "t"});
        assert_eq!(
            render(
                "{{ missing|default('d') }}|{{ empty|default('d') }}|{{ zero|default('d') }}|{{ nul|default('d') }}|{{ list|default('d') }}|{{ text|default('d') }}|{{ a.b.c|default('deep') }}",
                context
            ),
            "d|d|0|d|d|t|deep"
        );
    }

    #[test]
    fn array_filters() {
        assert_eq!(
            render(
                "{{ {a: 1}|merge({b: 2})|json_encode }}|{{ [1]|merge([2, 3])|json_encode }}",
                json!({})
            ),
            r#"{"a":1,"b":2}|[1,2,3]"#
        );
        assert_eq!(
            render(
                "{{ {a: 1, b: 2}|keys|join(',') }}|{{ [3, 1, 2]|sort|join }}|{{ [1, 2]|reverse|join }}",
                json!({})
            ),
            "a,b|123|21"
        );
        assert_eq!(
            render(
                "{{ '{\"a\":[1,2]}'|json_decode.a|length }}|{{ x|json_encode }}",
                json!({"x": {"é": "/"}})
            ),
            r#"2|{"\u00e9":"\/"}"#
        );
        assert_eq!(
            render("{{ x|json_encode(320) }}", json!({"x": {"é": "/"}})),
            r#"{"é":"/"}"#
        );
    }

    #[test]
    fn number_filters() {
        assert_eq!(
            render(
                "{{ 1234.567|number_format(2, ',', '.') }}|{{ 1234.5|number_format }}|{{ 2.5|round }}|{{ 3.14159|round(2) }}|{{ 3.1|round(0, 'ceil') }}|{{ (-5)|abs }}",
                json!({})
            ),
            "1.234,57|1,235|3|3.14|4|5"
        );
        assert_eq!(
            render("{{ '%05.1f and %s'|format(3.14159, 'x') }}", json!({})),
            "003.1 and x"
        );
    }

    #[test]
    fn dates_use_php_letters() {
        assert_eq!(
            render("{{ '2024-02-01T10:30:00Z'|date('Y-m-d H:i') }}", json!({})),
            "2024-02-01 10:30"
        );
        assert_eq!(
            render("{{ 0|date('Y-m-d\\\\TH:i:sP') }}", json!({})),
            "1970-01-01T00:00:00+00:00"
        );
        assert_eq!(render("{{ '86400'|date('U') }}", json!({})), "86400");
        let year = chrono::Utc::now().format("%Y").to_string();
        assert_eq!(render("{{ 'now'|date('Y') }}", json!({})), year);
        assert_eq!(render("{{ missing|date('Y') }}", json!({})), year);
        assert_eq!(render("{{ date()|date('Y') }}", json!({})), year);
        assert_eq!(
            render("{{ date('2020-05-06')|date('d/m/Y') }}", json!({})),
            "06/05/2020"
        );
    }

    #[test]
    fn functions() {
        assert_eq!(
            render(
                "{{ range(1, 5, 2)|join(',') }}|{{ range('a', 'c')|join }}|{{ range(3, 1)|join }}",
                json!({})
            ),
            "1,3,5|abc|321"
        );
        assert_eq!(render("{{ generateUuid()|length }}", json!({})), "36");
        assert_eq!(
            render("{{ max(1, 5, 3) }}{{ min([4, 2, 8]) }}", json!({})),
            "52"
        );
    }

    #[test]
    fn whitespace_and_comments() {
        assert_eq!(render("a {#- note -#} b", json!({})), "ab");
        assert_eq!(
            render("{% verbatim %}{{ raw }}{% endverbatim %}", json!({})),
            "{{ raw }}"
        );
        assert_eq!(
            render("x\n{% if true %}\ny\n{% endif %}\nz\n", json!({})),
            "x\ny\nz\n"
        );
        assert_eq!(render("{ {{ a }} }", json!({"a": 1})), "{ 1 }");
        assert_eq!(
            render("{\"a\":{{ a|json_encode }}}", json!({"a": [1]})),
            "{\"a\":[1]}"
        );
    }

    #[test]
    fn runaway_templates_stop() {
        let endless = render_once(
            "{% for i in range(1, 100000) %}{% for j in range(1, 100000) %}{{ j }}{% endfor %}{% endfor %}",
            &json!({}),
        );
        assert!(
            endless.is_err_and(|err| err.0.contains("out of fuel") || err.0.contains("exceeds"))
        );
        let doubling = render_once(
            "{% set s = 'xxxxxxxxxx' %}{% for i in range(1, 40) %}{% set s = s ~ s %}{% endfor %}{{ s|length }}",
            &json!({}),
        );
        assert!(doubling.is_err_and(|err| err.0.contains("grew past")));
        let huge_range = render_once("{{ range(1, 100000000)|length }}", &json!({}));
        assert!(huge_range.is_err());
    }

    #[test]
    fn compile_errors_carry_the_line() {
        let mut set = TemplateSet::default();
        let error = set.add("t", "line one\n{% if x %}\n{{ x|nope }}\n{% endif %}");
        assert_eq!(
            error,
            Err(CompileError {
                line: 3,
                message: "unknown \"nope\" filter".into()
            })
        );
    }
}
