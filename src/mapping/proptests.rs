//! Property tests: no template, mapping or input makes the engine panic; it answers or errs.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{CompiledMapping, MappingDefinition};

/// Pieces of Twig syntax, so that generated templates get past the lexer often.
const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{{-",
    "-}}",
    "if ",
    "elseif ",
    "else",
    "endif",
    "for ",
    " in ",
    "endfor",
    "set ",
    " = ",
    "x",
    "a.b",
    "items",
    "loop.index",
    "|",
    "upper",
    "default(",
    "date('Y')",
    "join(',')",
    "merge(",
    "json_encode",
    "slice(1, 2)",
    "split('.')",
    "replace({'a': 'b'})",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "~",
    "??",
    "?",
    " and ",
    " or ",
    "not ",
    " is ",
    "defined",
    "empty",
    "null",
    "'s'",
    "\"t#{x}\"",
    "1",
    "2.5",
    "-",
    "+",
    "*",
    "/",
    "//",
    "%",
    "**",
    "..",
    "==",
    "<",
    "range(1, 3)",
    "executeMapping({'mapping': {'k': 'x'}}, items)",
    "generateUuid()",
    " ",
    "\n",
    "&amp;",
    "é",
];

fn template() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(PIECES), 0..24)
            .prop_map(|pieces| pieces.concat()),
        any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z.0-9 &#;]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z0-9.]{1,6}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

const CASTS: &[&str] = &[
    "string",
    "bool",
    "?bool",
    "int",
    "float",
    "array",
    "url",
    "rawurl",
    "html",
    "htmlDecode",
    "base64",
    "base64Decode",
    "json",
    "jsonToArray",
    "utf8",
    "nullStringToNull",
    "coordinateStringToArray",
    "keyCantBeValue",
    "unsetIfValue==",
    "setNullIfValue==x",
    "countValue:a",
    "moneyStringToInt",
    "intToMoneyString",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn templates_never_panic(source in template(), input in json_value()) {
        let _ = super::twig::render_once(&source, &input);
    }

    #[test]
    fn mappings_never_panic(
        keys in prop::collection::vec("[a-z0-9.#]{0,8}", 1..6),
        sources in prop::collection::vec(template(), 1..6),
        unset in prop::collection::vec("[a-z0-9.]{0,6}", 0..3),
        casts in prop::collection::vec(prop::sample::select(CASTS), 0..4),
        pass_through in any::<bool>(),
        input in json_value(),
    ) {
        let mapping: serde_json::Map<String, Value> =
            keys.iter().zip(sources.iter().cycle()).map(|(key, source)| (key.clone(), Value::from(source.as_str()))).collect();
        let cast: serde_json::Map<String, Value> =
            keys.iter().zip(casts.iter()).map(|(key, cast)| (key.clone(), Value::from(*cast))).collect();
        let entity = json!({"mapping": mapping, "unset": unset, "cast": cast, "passThrough": pass_through});
        let definition = MappingDefinition::from_json(&entity).unwrap();
        if let Ok(compiled) = CompiledMapping::compile(&definition) {
            let _ = compiled.apply(&input);
            let _ = compiled.apply_list(&input);
        }
    }
}
