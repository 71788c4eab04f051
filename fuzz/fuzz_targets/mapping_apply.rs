//! Fuzzes the mapping entry point: the input is split at the first NUL byte into a mapping
//! (a Mapping entity as JSON, or else a single template used as one mapping value) and an input
//! object (JSON, or else an object holding the text). Compiling and applying may fail, never
//! panic or hang (`cargo +nightly fuzz run mapping_apply -- -timeout=5`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use openconnector::mapping::{Mapper, MappingDefinition};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (mapping_text, input_text) = text.split_once('\0').unwrap_or((&text, "{}"));
    let mapping = match serde_json::from_str::<Value>(mapping_text) {
        Ok(entity @ Value::Object(_)) => entity,
        _ => json!({"mapping": {"fuzzed": mapping_text, "copy": "a.b"}, "cast": {"fuzzed": "jsonToArray"}}),
    };
    let input = serde_json::from_str::<Value>(input_text).unwrap_or_else(|_| json!({"text": input_text}));
    let Ok(definition) = MappingDefinition::from_json(&mapping) else {
        return;
    };
    let mapper = Mapper::default();
    if let Ok(compiled) = mapper.compile(&definition) {
        let _ = compiled.apply(&input);
        let _ = compiled.apply_list(&input);
    }
});
