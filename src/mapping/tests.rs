//! The acceptance cases of spec §4.9 and the engine's behaviour end to end.

use super::*;
use serde_json::json;

fn map(mapping: Value, input: Value) -> Value {
    CompiledMapping::compile(&MappingDefinition::from_json(&mapping).unwrap())
        .unwrap()
        .apply(&input)
        .unwrap()
}

fn user_input() -> Value {
    json!({"user": {"name": "John Doe", "email": "john@example.com"}})
}

#[test]
fn case_01_copy_and_literal() {
    let mapping =
        json!({"mapping": {"name": "user.name", "email": "user.email", "status": "active"}});
    assert_eq!(
        map(mapping, user_input()),
        json!({"name": "John Doe", "email": "john@example.com", "status": "active"})
    );
}

#[test]
fn case_02_pass_through() {
    let mapping = json!({"passThrough": true, "mapping": {"displayName": "user.name", "emailAddress": "user.email"}});
    let input = json!({"user": {"name": "John Doe", "email": "john@example.com"}, "settings": {"theme": "dark"}});
    assert_eq!(
        map(mapping, input),
        json!({
            "user": {"name": "John Doe", "email": "john@example.com"},
            "settings": {"theme": "dark"},
            "displayName": "John Doe",
            "emailAddress": "john@example.com"
        })
    );
}

#[test]
fn case_02b_misspelt_pass_trough_counts() {
    let mapping = json!({"passTrough": true, "mapping": {"x": "a"}});
    assert_eq!(
        map(mapping, json!({"a": 1, "b": 2})),
        json!({"a": 1, "b": 2, "x": 1})
    );
}

#[test]
fn case_03_pass_through_and_unset() {
    let mapping = json!({
        "passThrough": true,
        "mapping": {"name": "user.name", "email": "user.email"},
        "unset": ["user", "settings"]
    });
    let input = json!({"user": {"name": "John Doe", "email": "john@example.com"}, "settings": {"theme": "dark"}});
    assert_eq!(
        map(mapping, input),
        json!({"name": "John Doe", "email": "john@example.com"})
    );
}

#[test]
fn case_04_list_mode() {
    let definition = MappingDefinition::from_json(
        &json!({"mapping": {"name": "user.name", "email": "user.email"}}),
    )
    .unwrap();
    let input = json!({
        "listInput": [
            {"user": {"name": "John", "email": "john@example.com"}},
            {"user": {"name": "Jane", "email": "jane@example.com"}}
        ],
        "extra": "data"
    });
    let output = CompiledMapping::compile(&definition)
        .unwrap()
        .apply_list(&input)
        .unwrap();
    assert_eq!(
        output,
        json!([{"name": "John", "email": "john@example.com"}, {"name": "Jane", "email": "jane@example.com"}])
    );
}

#[test]
fn case_04b_list_items_get_value_and_extra_keys() {
    let definition = MappingDefinition::from_json(
        &json!({"mapping": {"v": "value", "e": "extra", "first": "0"}}),
    )
    .unwrap();
    let output = CompiledMapping::compile(&definition)
        .unwrap()
        .apply_list(&json!({"listInput": ["a", "b"], "extra": "x"}))
        .unwrap();
    assert_eq!(
        output,
        json!([{"v": "a", "e": "x", "first": "a"}, {"v": "b", "e": "x", "first": "b"}])
    );
}

#[test]
fn case_05_basic_casts() {
    let mapping = json!({
        "mapping": {"s": "a", "b1": "b", "b2": "c", "nb": "d", "i": "e", "f": "g", "arr": "h"},
        "cast": {"s": "string", "b1": "bool", "b2": "boolean", "nb": "?bool", "i": "int", "f": "float", "arr": "array"}
    });
    let input = json!({"a": 123, "b": "true", "c": "0", "d": null, "e": "42", "g": "2.5", "h": "single_value"});
    assert_eq!(
        map(mapping, input),
        json!({"s": "123", "b1": true, "b2": false, "nb": null, "i": 42, "f": 2.5, "arr": ["single_value"]})
    );
}

#[test]
fn case_06_encoding_casts() {
    let mapping = json!({
        "mapping": {"url": "u", "raw": "u", "html": "h", "b64": "t", "json": "o", "back": "j"},
        "cast": {"url": "url", "raw": "rawurl", "html": "html", "b64": "base64", "json": "json", "back": "jsonToArray"}
    });
    let input = json!({
        "u": "https://example.com/path with spaces",
        "h": "<script>alert(\"test\")</script>",
        "t": "Hello World",
        "o": {"name": "John", "age": 30},
        "j": "{\"name\":\"John\",\"age\":30}"
    });
    assert_eq!(
        map(mapping, input),
        json!({
            "url": "https%3A%2F%2Fexample.com%2Fpath+with+spaces",
            "raw": "https%3A%2F%2Fexample.com%2Fpath%20with%20spaces",
            "html": "&lt;script&gt;alert(&quot;test&quot;)&lt;/script&gt;",
            "b64": "SGVsbG8gV29ybGQ=",
            "json": "{\"name\":\"John\",\"age\":30}",
            "back": {"name": "John", "age": 30}
        })
    );
}

#[test]
fn case_07_special_casts() {
    let mapping = json!({
        "mapping": {"c": "c", "m": "m", "i": "i", "n": "n", "u": "u"},
        "cast": {"c": "coordinateStringToArray", "m": "moneyStringToInt", "i": "intToMoneyString", "n": "nullStringToNull", "u": "utf8"}
    });
    let input = json!({"c": "52.3676 4.9041", "m": "1.234,56", "i": 123456, "n": "null", "u": "café résumé"});
    assert_eq!(
        map(mapping, input),
        json!({"c": ["52.3676", "4.9041"], "m": 123456, "i": "1.234,56", "n": null, "u": "cafe resume"})
    );
}

#[test]
fn case_08_conditional_unset_null_count_and_key_cant_be_value() {
    let mapping = json!({
        "mapping": {"unset_field": "data.unset_field", "null_field": "data.null_field", "keep_field": "data.keep_field"},
        "cast": {"unset_field": "unsetIfValue==inactive", "null_field": "setNullIfValue==", "keep_field": "setNullIfValue==remove_me"}
    });
    let input = json!({"data": {"unset_field": "inactive", "null_field": "", "keep_field": "keep_this_value"}});
    assert_eq!(
        map(mapping, input),
        json!({"null_field": null, "keep_field": "keep_this_value"})
    );

    let counted = json!({"mapping": {"items": "items", "count": "items"}, "cast": {"count": "countValue:items"}});
    assert_eq!(
        map(counted, json!({"items": [1, 2, 3, 4, 5]})),
        json!({"items": [1, 2, 3, 4, 5], "count": 5})
    );

    let key_cant =
        json!({"mapping": {"field_name": "field_name"}, "cast": {"field_name": "keyCantBeValue"}});
    assert_eq!(map(key_cant, json!({"other": 1})), json!({}));
}

#[test]
fn case_09_twig_templates() {
    let mapping = json!({"mapping": {
        "fullName": "{{ user.firstName }} {{ user.lastName }}",
        "greeting": "Hello {{ user.firstName }}!",
        "profile": "{{ user.firstName|lower }}.profile"
    }});
    let input = json!({"user": {"firstName": "John", "lastName": "Doe"}});
    assert_eq!(
        map(mapping, input),
        json!({"fullName": "John Doe", "greeting": "Hello John!", "profile": "john.profile"})
    );
}

#[test]
fn case_10_root_key() {
    assert_eq!(
        map(json!({"mapping": {"#": "user"}}), user_input()),
        json!({"name": "John Doe", "email": "john@example.com"})
    );
    assert_eq!(
        map(json!({"mapping": {"#": "missing.path"}}), user_input()),
        json!(["missing.path"])
    );
    assert_eq!(
        map(json!({"mapping": {"#": "n"}}), json!({"n": null})),
        json!({})
    );
}

#[test]
fn case_11_petstore_nested_keys_and_rename() {
    let mapping =
        json!({"mapping": {"id": "id", "name": "name", "metadata.status.name": "status"}});
    let input = json!({"id": "0d67", "name": "doggie", "status": "available"});
    assert_eq!(
        map(mapping, input.clone()),
        json!({"id": "0d67", "name": "doggie", "metadata": {"status": {"name": "available"}}})
    );
    let rename = json!({"passThrough": true, "mapping": {"title": "name"}, "unset": ["name"]});
    assert_eq!(
        map(rename, input),
        json!({"id": "0d67", "status": "available", "title": "doggie"})
    );
}

#[test]
fn case_12_real_config_idioms() {
    let mapping = json!({
        "mapping": {
            "indicatieLaatstGezetteStatus": "{{ true }}",
            "datumStatusGezet": "milestone.instance.date_modified"
        },
        "cast": {
            "indicatieLaatstGezetteStatus": "bool",
            "datumStatusGezet": "unsetIfValue==milestone.instance.date_modified"
        }
    });
    let present = json!({"milestone": {"instance": {"date_modified": "2024-01-01"}}});
    assert_eq!(
        map(mapping.clone(), present),
        json!({"indicatieLaatstGezetteStatus": true, "datumStatusGezet": "2024-01-01"})
    );
    assert_eq!(
        map(mapping, json!({"milestone": {}})),
        json!({"indicatieLaatstGezetteStatus": true})
    );
}

#[test]
fn case_13_date_cast() {
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        map(
            json!({"mapping": {"d": "Y-m-d"}, "cast": {"d": "date"}}),
            json!({"x": 1})
        ),
        json!({"d": today})
    );
}

#[test]
fn numeric_segments_make_lists_and_escaped_dots_stay_in_keys() {
    let mapping = json!({"mapping": {
        "kenmerken.0.kenmerk": "a",
        "kenmerken.1.kenmerk": "b",
        "dotted&#46;key": "x&#46;y"
    }});
    let input = json!({"a": "A", "b": "B", "x.y": "XY"});
    assert_eq!(
        map(mapping, input),
        json!({"kenmerken": [{"kenmerk": "A"}, {"kenmerk": "B"}], "dotted.key": "XY"})
    );
}

#[test]
fn dotted_input_keys_come_out_as_they_went_in_with_or_without_an_escape_in_the_mapping() {
    let input = json!({"obj": {"a.b": 1, "c": 2, "e.f": {"g.h": 3}}, "x": "X", "y.z": "YZ"});
    let plain = json!({"mapping": {"copy": "obj", "copy.d": "x"}, "unset": ["copy.c"]});
    let expected = json!({"copy": {"a.b": 1, "e.f": {"g.h": 3}, "d": "X"}});
    assert_eq!(map(plain, input.clone()), expected);
    let escaping = json!({
        "mapping": {"copy": "obj", "copy.d": "x", "yz": "y&#46;z"},
        "unset": ["copy.c", "copy.e&#46;f"]
    });
    assert_eq!(
        map(escaping, input),
        json!({"copy": {"a.b": 1, "d": "X"}, "yz": "YZ"})
    );
}

#[test]
fn existing_paths_copy_raw_values_and_null_counts_as_existing() {
    let mapping = json!({"mapping": {"n": "n", "list": "l", "obj": "o", "num": "num"}});
    let input = json!({"n": null, "l": [1, 2], "o": {"k": true}, "num": 1.5});
    assert_eq!(
        map(mapping, input),
        json!({"n": null, "list": [1, 2], "obj": {"k": true}, "num": 1.5})
    );
}

#[test]
fn literal_objects_are_not_templated_and_missing_paths_render_as_text() {
    let mapping = json!({"mapping": {"fixed": {"a": "{{ x }}"}, "list": [1, "b"], "text": "no.such.path", "n": 5}});
    assert_eq!(
        map(mapping, json!({"x": 1})),
        json!({"fixed": {"a": "{{ x }}"}, "list": [1, "b"], "text": "no.such.path", "n": "5"})
    );
}

#[test]
fn empty_input_has_no_paths() {
    assert_eq!(
        map(json!({"mapping": {"a": "a"}}), json!({})),
        json!({"a": "a"})
    );
}

#[test]
fn sub_object_list_pattern_with_execute_mapping() {
    let role = MappingDefinition::from_json(
        &json!({"id": 3, "slug": "role", "mapping": {"naam": "name", "code": "{{ code|upper }}"}}),
    )
    .unwrap();
    let mapper = Mapper::new(Arc::new(InMemoryMappings::new(vec![role])));
    let outer = mapper
        .compile_json(&json!({
            "mapping": {
                "rollen": "[{% for r in items %}{{ executeMapping(3, r)|json_encode }}{% if not loop.last %},{% endif %}{% endfor %}]",
                "bySlug": "{{ executeMapping('role', items[0]).code }}",
                "inline": "{{ executeMapping({'mapping': {'x': 'name'}}, items[1])|json_encode }}",
                "asList": "{{ executeMapping(3, {'listInput': items}, true)|length }}"
            },
            "cast": {"rollen": "jsonToArray"}
        }))
        .unwrap();
    let output = outer
        .apply(&json!({"items": [{"name": "a", "code": "x"}, {"name": "b", "code": "y"}]}))
        .unwrap();
    assert_eq!(
        output,
        json!({
            "rollen": [{"naam": "a", "code": "X"}, {"naam": "b", "code": "Y"}],
            "bySlug": "X",
            "inline": "{\"x\":\"b\"}",
            "asList": "2"
        })
    );
}

#[test]
fn execute_mapping_cycles_stop_with_a_clear_error() {
    let looping = MappingDefinition::from_json(&json!({"id": 1, "name": "loop", "mapping": {"again": "{{ executeMapping(1, _self ?? {})|json_encode }}"}})).unwrap();
    let mapper = Mapper::new(Arc::new(InMemoryMappings::new(vec![looping.clone()])));
    let error = mapper
        .compile(&looping)
        .unwrap()
        .apply(&json!({"a": 1}))
        .unwrap_err();
    assert!(error.to_string().contains("nested more than"), "{error}");

    let fan_out = MappingDefinition::from_json(&json!({"id": 2, "name": "fan", "mapping": {
        "x": "{% for i in range(1, 50) %}{{ executeMapping(2, {})|length }}{% endfor %}"
    }}))
    .unwrap();
    let mapper = Mapper::new(Arc::new(InMemoryMappings::new(vec![fan_out.clone()])));
    let error = mapper
        .compile(&fan_out)
        .unwrap()
        .apply(&json!({"a": 1}))
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("nested more than") || message.contains("fuel"),
        "{message}"
    );
}

#[test]
fn unknown_mapping_is_reported() {
    let mapper = Mapper::default();
    let compiled = mapper
        .compile_json(&json!({"name": "m", "mapping": {"x": "{{ executeMapping(99, {}) }}"}}))
        .unwrap();
    let error = compiled.apply(&json!({"a": 1})).unwrap_err();
    assert!(
        matches!(&error, MappingError::Render { mapping, key, .. } if mapping == "m" && key == "x")
    );
    assert!(
        error.to_string().contains("mapping 99 not found"),
        "{error}"
    );
}

#[test]
fn render_errors_use_the_php_message_shape() {
    let compiled = CompiledMapping::compile(
        &MappingDefinition::from_json(&json!({"name": "n", "mapping": {"k": "{{ 1 // 0 }}"}}))
            .unwrap(),
    )
    .unwrap();
    let error = compiled.apply(&json!({})).unwrap_err().to_string();
    assert!(
        error.starts_with(
            "Error for mapping: n, key: k, value: {{ 1 // 0 }} and with message thrown:"
        ),
        "{error}"
    );
}

#[test]
fn validate_templates_names_key_line_and_message() {
    assert_eq!(
        validate_templates(&json!({"mapping": {"ok": "{{ a }}"}})),
        Ok(())
    );
    let errors = validate_templates(
        &json!({"mapping": {"ok": "{{ a }}", "bad": "x\n{% if a %}", "worse": "{{ a|nope }}"}}),
    )
    .unwrap_err();
    assert_eq!(errors.len(), 2);
    assert!(errors["bad"].starts_with("line 2:"), "{errors:?}");
    assert_eq!(errors["worse"], "line 1: unknown \"nope\" filter");
    assert!(
        validate_templates(&json!({"mapping": "nope"}))
            .unwrap_err()
            .contains_key("mapping")
    );
}

#[test]
fn mapping_test_validates_against_a_schema() {
    let schema = json!({
        "type": "object",
        "required": ["name", "age"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}
    });
    let result = test_mapping(
        &json!({"n": "x", "a": "7"}),
        &json!({"mapping": {"name": "n", "age": "a"}, "cast": {"age": "int"}}),
        Some(&schema),
    )
    .unwrap();
    assert!(result.is_valid);
    assert_eq!(result.result_object, json!({"name": "x", "age": 7}));

    let result = test_mapping(
        &json!({"n": 5}),
        &json!({"mapping": {"name": "n"}}),
        Some(&schema),
    )
    .unwrap();
    assert!(!result.is_valid);
    let pointers: Vec<&str> = result
        .validation_errors
        .iter()
        .map(|error| error.pointer.as_str())
        .collect();
    assert!(
        pointers.contains(&"/name") && pointers.contains(&""),
        "{pointers:?}"
    );
    let body = serde_json::to_value(&result).unwrap();
    assert!(body.get("resultObject").is_some() && body.get("isValid") == Some(&json!(false)));
}

#[test]
fn mapper_caches_by_version() {
    let mapper = Mapper::default();
    let first = mapper
        .compile_json(&json!({"id": 1, "version": "1.0.0", "mapping": {"a": "{{ b }}"}}))
        .unwrap();
    let again = mapper
        .compile_json(&json!({"id": 1, "version": "1.0.0", "mapping": {"a": "{{ b }}"}}))
        .unwrap();
    assert!(Arc::ptr_eq(&first, &again));
}

#[test]
fn simple_print_paths_skip_the_engine() {
    assert_eq!(
        simple_print_path("{{ a.b.0 }}"),
        Some(vec!["a".into(), "b".into(), "0".into()])
    );
    assert_eq!(simple_print_path("{{a}}"), Some(vec!["a".into()]));
    assert_eq!(simple_print_path("{{ true }}"), None);
    assert_eq!(simple_print_path("{{ a|upper }}"), None);
    assert_eq!(simple_print_path("{{ a }} {{ b }}"), None);
    assert_eq!(simple_print_path("{{- a }}"), None);
    let mapping = json!({"mapping": {"t": "{{ flag }}", "n": "{{ num }}", "l": "{{ list }}", "m": "{{ missing.x }}"}});
    assert_eq!(
        map(mapping, json!({"flag": false, "num": 2.0, "list": [1]})),
        json!({"t": "", "n": "2", "l": "Array", "m": ""})
    );
}
