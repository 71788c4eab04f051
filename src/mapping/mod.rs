//! The mapping engine: turns a source object into a target object as the PHP app's
//! `MappingService::executeMapping` does (spec §4.1). A mapping is compiled once
//! ([`CompiledMapping::compile`], or through a [`Mapper`] that caches per mapping version), then
//! applied to any number of inputs with no I/O. `executeMapping(...)` inside a template finds
//! other mappings through the [`MappingSource`] the [`Mapper`] was given.
//!
//! Order: `passThrough` → `mapping` → `unset` → `cast`, then `&#46;` decoded in keys, then the
//! lone `#` root key, then PHP's list-or-object rule on the JSON output.

pub mod cache;
pub mod casts;
pub mod dot_path;
mod html_entities;
pub mod php;
pub mod php_date;
pub mod stored;
pub mod twig;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, Weak};

use minijinja::value::Rest;
use serde::Serialize;
use serde_json::{Map, Value};

use self::cache::MappingCache;
use self::casts::Cast;
use self::twig::direct::DirectTemplate;
use self::twig::{TemplateSet, values};

/// How deep `executeMapping` may nest (a mapping that calls itself stops here).
pub const MAX_NESTING: usize = 16;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    /// The mapping entity is malformed; the map names each bad field.
    #[error("invalid mapping: {}", describe_fields(.0))]
    Invalid(BTreeMap<String, String>),
    /// Templates that do not compile: mapping key → `line N: message`.
    #[error("templates do not compile: {}", describe_fields(.0))]
    Compile(BTreeMap<String, String>),
    /// A template failed while rendering (the PHP app's message shape).
    #[error(
        "Error for mapping: {mapping}, key: {key}, value: {value} and with message thrown: {message}"
    )]
    Render {
        mapping: String,
        key: String,
        value: String,
        message: String,
    },
    /// `executeMapping` named a mapping that does not exist.
    #[error("mapping {0} not found")]
    NotFound(String),
    /// A JSON schema given to the mapping test is not a valid schema.
    #[error("invalid JSON schema: {0}")]
    Schema(String),
}

fn describe_fields(fields: &BTreeMap<String, String>) -> String {
    fields
        .iter()
        .map(|(key, message)| format!("{key}: {message}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The fields of a Mapping entity the engine uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MappingDefinition {
    pub id: Option<i64>,
    pub uuid: Option<String>,
    pub slug: Option<String>,
    pub reference: Option<String>,
    pub version: String,
    pub name: String,
    pub mapping: Map<String, Value>,
    pub unset: Vec<String>,
    pub cast: Map<String, Value>,
    pub pass_through: bool,
}

impl MappingDefinition {
    /// Reads a Mapping entity's JSON (camelCase as stored and exchanged). `passTrough`, the
    /// misspelling real configurations carry, counts as `passThrough`.
    pub fn from_json(json: &Value) -> Result<Self, MappingError> {
        let Some(entity) = json.as_object() else {
            return Err(MappingError::Invalid(BTreeMap::from([(
                "mapping".to_owned(),
                "must be an object".to_owned(),
            )])));
        };
        let mut problems = BTreeMap::new();
        let text = |field: &str| entity.get(field).and_then(Value::as_str).map(str::to_owned);
        let id = match entity.get("id") {
            Some(Value::Number(number)) => number.as_i64(),
            Some(Value::String(text)) => text.parse().ok(),
            _ => None,
        };
        let mapping = match entity.get("mapping") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(Value::Array(items)) if items.is_empty() => Map::new(),
            Some(_) => {
                problems.insert("mapping".to_owned(), "must be an object".to_owned());
                Map::new()
            }
        };
        let unset = match entity.get("unset") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(php::to_string).collect(),
            Some(Value::Object(map)) => map.values().map(php::to_string).collect(),
            Some(_) => {
                problems.insert("unset".to_owned(), "must be a list of dot paths".to_owned());
                Vec::new()
            }
        };
        let cast = match entity.get("cast") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(Value::Array(items)) if items.is_empty() => Map::new(),
            Some(_) => {
                problems.insert("cast".to_owned(), "must be an object".to_owned());
                Map::new()
            }
        };
        if !problems.is_empty() {
            return Err(MappingError::Invalid(problems));
        }
        let pass_through = ["passThrough", "passTrough"]
            .iter()
            .any(|field| entity.get(*field).is_some_and(php::is_truthy));
        Ok(Self {
            id,
            uuid: text("uuid"),
            slug: text("slug"),
            reference: text("reference"),
            version: text("version").unwrap_or_else(|| "0.0.0".to_owned()),
            name: text("name").unwrap_or_default(),
            mapping,
            unset,
            cast,
            pass_through,
        })
    }

    /// The parts that decide the result, as text (for caching inline mappings by content).
    pub fn source_text(&self) -> String {
        serde_json::json!([self.mapping, self.unset, self.cast, self.pass_through]).to_string()
    }
}

/// How a template names another mapping in `executeMapping(mapping, …)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MappingKey {
    Id(i64),
    /// A uuid or a slug.
    Name(String),
    /// A reference URL (a string starting with `http`).
    Reference(String),
}

impl std::fmt::Display for MappingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Name(name) | Self::Reference(name) => f.write_str(name),
        }
    }
}

/// Where `executeMapping` finds stored mappings (the store, or a map in tests).
pub trait MappingSource: Send + Sync {
    fn find(&self, key: &MappingKey) -> Option<MappingDefinition>;
}

/// An in-memory [`MappingSource`], for tests and for a set of mappings loaded at once.
#[derive(Debug, Default, Clone)]
pub struct InMemoryMappings {
    mappings: Vec<MappingDefinition>,
}

impl InMemoryMappings {
    pub fn new(mappings: Vec<MappingDefinition>) -> Self {
        Self { mappings }
    }
}

impl MappingSource for InMemoryMappings {
    fn find(&self, key: &MappingKey) -> Option<MappingDefinition> {
        self.mappings
            .iter()
            .find(|mapping| match key {
                MappingKey::Id(id) => mapping.id == Some(*id),
                MappingKey::Name(name) => {
                    mapping.uuid.as_deref() == Some(name) || mapping.slug.as_deref() == Some(name)
                }
                MappingKey::Reference(reference) => mapping.reference.as_deref() == Some(reference),
            })
            .cloned()
    }
}

/// The source and the cache shared by the mappings a [`Mapper`] compiled.
#[derive(Default)]
struct Registry {
    source: Option<Arc<dyn MappingSource>>,
    cache: MappingCache,
}

/// Compiles mappings (once per version) and lets their templates call `executeMapping`.
#[derive(Clone, Default)]
pub struct Mapper {
    registry: Arc<Registry>,
}

impl std::fmt::Debug for Mapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapper")
            .field("cached", &self.registry.cache.len())
            .finish()
    }
}

impl Mapper {
    /// A mapper whose templates find other mappings in `source`.
    pub fn new(source: Arc<dyn MappingSource>) -> Self {
        Self {
            registry: Arc::new(Registry {
                source: Some(source),
                cache: MappingCache::default(),
            }),
        }
    }

    /// The compiled form of a definition, from the cache when this version was compiled before.
    pub fn compile(
        &self,
        definition: &MappingDefinition,
    ) -> Result<Arc<CompiledMapping>, MappingError> {
        let registry = Arc::downgrade(&self.registry);
        self.registry
            .cache
            .get_or_compile(definition, |definition| {
                CompiledMapping::compile_in(definition, registry)
            })
    }

    /// Compiles a Mapping entity's JSON.
    pub fn compile_json(&self, json: &Value) -> Result<Arc<CompiledMapping>, MappingError> {
        self.compile(&MappingDefinition::from_json(json)?)
    }

    /// Runs an unsaved mapping on an input and validates the result against an optional JSON
    /// schema: the body of `POST /api/mappings/test` (spec §4.7).
    pub fn test_mapping(
        &self,
        input: &Value,
        mapping_json: &Value,
        schema: Option<&Value>,
    ) -> Result<TestResult, MappingError> {
        let definition = MappingDefinition::from_json(mapping_json)?;
        // An unsaved mapping is compiled fresh, never served from (or put in) the cache.
        let compiled = CompiledMapping::compile_in(&definition, Arc::downgrade(&self.registry))?;
        let result_object = compiled.apply(input)?;
        let validation_errors = match schema {
            Some(schema) => validate_against_schema(&result_object, schema)?,
            None => Vec::new(),
        };
        Ok(TestResult {
            is_valid: validation_errors.is_empty(),
            result_object,
            validation_errors,
        })
    }
}

/// The answer of the mapping test.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub result_object: Value,
    pub is_valid: bool,
    pub validation_errors: Vec<SchemaViolation>,
}

/// One way the result breaks the schema, located by JSON pointers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaViolation {
    /// Where in the result (`/address/city`).
    pub pointer: String,
    /// Which schema keyword failed (`/properties/address/required`).
    pub schema_pointer: String,
    pub message: String,
}

fn validate_against_schema(
    result: &Value,
    schema: &Value,
) -> Result<Vec<SchemaViolation>, MappingError> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|error| MappingError::Schema(error.to_string()))?;
    Ok(validator
        .iter_errors(result)
        .map(|error| SchemaViolation {
            pointer: error.instance_path().to_string(),
            schema_pointer: error.schema_path().to_string(),
            message: error.to_string(),
        })
        .collect())
}

/// Runs an unsaved mapping with no stored mappings to call (see [`Mapper::test_mapping`]).
pub fn test_mapping(
    input: &Value,
    mapping_json: &Value,
    schema: Option<&Value>,
) -> Result<TestResult, MappingError> {
    Mapper::default().test_mapping(input, mapping_json, schema)
}

/// Checks that every template of a Mapping entity compiles, for save-time validation: on
/// failure, each bad key with `line N: message` (or each malformed field).
pub fn validate_templates(mapping_json: &Value) -> Result<(), BTreeMap<String, String>> {
    let definition = MappingDefinition::from_json(mapping_json).map_err(|error| match error {
        MappingError::Invalid(fields) => fields,
        other => BTreeMap::from([("mapping".to_owned(), other.to_string())]),
    })?;
    match CompiledMapping::compile(&definition) {
        Ok(_) => Ok(()),
        Err(MappingError::Compile(keys)) => Err(keys),
        Err(other) => Err(BTreeMap::from([("mapping".to_owned(), other.to_string())])),
    }
}

/// How one mapping value produces its output when it is not an existing input path.
#[derive(Debug, Clone)]
enum Render {
    /// Literal text (entity-decoded, as the PHP app decodes every render).
    Text(String),
    /// `{{ a.b.c }}` alone: the value at that path, printed, with no template engine.
    Print(Vec<String>),
    /// A compiled template, by its name in the set, and its direct form when it has one.
    Template {
        name: String,
        direct: Option<DirectTemplate>,
    },
}

#[derive(Debug, Clone)]
enum Rule {
    /// An array or object value, set as is.
    Literal(Value),
    /// A string: copied raw when it is an existing input path, else rendered. `first_step` is
    /// the byte length of the path's first step.
    Text {
        source: String,
        first_step: usize,
        render: Render,
    },
}

/// Where a rule writes: its mapping key, the output's top-level entry for the key's first
/// step (by position in the skeleton), and the rest of the key's path below that entry.
#[derive(Debug)]
struct Target {
    key: String,
    slot: usize,
    below: Option<String>,
}

/// A mapping ready to apply: templates compiled, casts parsed.
#[derive(Debug)]
pub struct CompiledMapping {
    name: String,
    rules: Vec<(Target, Rule)>,
    /// The output's top-level keys in the order the rules first set them, all `null`: cloned
    /// per object so that no key is hashed again.
    skeleton: Map<String, Value>,
    unset: Vec<String>,
    casts: Vec<(String, Vec<Cast>)>,
    pass_through: bool,
    /// Whether the input's dotted keys must be escaped first: only a mapping that writes
    /// `&#46;` in a path, or passes its input through, can tell the difference.
    escape_input: bool,
    templates: TemplateSet,
    /// The input keys the templates read (`None`: any), so only those are converted.
    context_names: Option<std::collections::HashSet<String>>,
    registry: Weak<Registry>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

thread_local! {
    /// The registries of the mappings being applied on this thread, innermost last: lets
    /// `executeMapping` find stored mappings and bounds the nesting.
    static ACTIVE: RefCell<Vec<Weak<Registry>>> = const { RefCell::new(Vec::new()) };
}

/// Pops the active frame when an apply ends, also on error.
struct ActiveFrame;

impl ActiveFrame {
    fn enter(registry: &Weak<Registry>) -> Self {
        ACTIVE.with(|active| active.borrow_mut().push(registry.clone()));
        Self
    }
}

impl Drop for ActiveFrame {
    fn drop(&mut self) {
        ACTIVE.with(|active| {
            active.borrow_mut().pop();
        });
    }
}

impl CompiledMapping {
    /// Compiles a definition on its own: `executeMapping` can then run inline mappings only.
    pub fn compile(definition: &MappingDefinition) -> Result<Self, MappingError> {
        Self::compile_in(definition, Weak::new())
    }

    fn compile_in(
        definition: &MappingDefinition,
        registry: Weak<Registry>,
    ) -> Result<Self, MappingError> {
        let mut templates = TemplateSet::default();
        let mut rules = Vec::with_capacity(definition.mapping.len());
        let mut errors = BTreeMap::new();
        let mut context_names = Some(std::collections::HashSet::new());
        let mut skeleton = Vec::new();
        let mut slots = HashMap::new();
        for (key, value) in &definition.mapping {
            let rule = match value {
                Value::Array(_) | Value::Object(_) => Rule::Literal(value.clone()),
                other => {
                    let source = php::to_string(other);
                    let render = if let Some(path) = simple_print_path(&source) {
                        Render::Print(path)
                    } else if twig::syntax::is_plain_text(&source) {
                        Render::Text(php::html_entity_decode(&source))
                    } else {
                        match templates.add(key, &source) {
                            Ok(()) => {
                                context_names =
                                    match (context_names, templates.referenced_names(key)) {
                                        (Some(mut all), Some(names)) => {
                                            all.extend(names);
                                            Some(all)
                                        }
                                        _ => None,
                                    };
                                Render::Template {
                                    name: key.clone(),
                                    direct: DirectTemplate::compile(&source).ok().flatten(),
                                }
                            }
                            Err(error) => {
                                errors.insert(key.clone(), error.to_string());
                                Render::Text(String::new())
                            }
                        }
                    };
                    Rule::Text {
                        first_step: source.split('.').next().map_or(0, str::len),
                        source,
                        render,
                    }
                }
            };
            let (first, below) = match key.split_once('.') {
                Some((first, below)) => (first, Some(below.to_owned())),
                None => (key.as_str(), None),
            };
            let next_slot = slots.len();
            let slot = *slots.entry(first.to_owned()).or_insert(next_slot);
            if slot == next_slot {
                skeleton.push(first.to_owned());
            }
            let target = Target {
                key: key.clone(),
                slot,
                below,
            };
            rules.push((target, rule));
        }
        if !errors.is_empty() {
            return Err(MappingError::Compile(errors));
        }
        let casts = definition
            .cast
            .iter()
            .map(|(path, spec)| (path.clone(), Cast::parse_spec(spec)))
            .filter(|(_, casts)| !casts.is_empty())
            .collect();
        Ok(Self {
            name: definition.name.clone(),
            rules,
            skeleton: skeleton.into_iter().map(|key| (key, Value::Null)).collect(),
            unset: definition.unset.clone(),
            casts,
            pass_through: definition.pass_through,
            escape_input: definition.pass_through || mentions_escaped_dot(definition),
            templates,
            context_names,
            registry,
        })
    }

    /// Maps one input object.
    pub fn apply(&self, input: &Value) -> Result<Value, MappingError> {
        let _frame = ActiveFrame::enter(&self.registry);
        self.map_object(input)
    }

    /// List mode (spec §4.4): maps each item of `input.listInput` (or of the input itself),
    /// giving each item the other top-level keys of the input when there are any.
    pub fn apply_list(&self, input: &Value) -> Result<Value, MappingError> {
        let _frame = ActiveFrame::enter(&self.registry);
        self.map_list(input)
    }

    fn map_list(&self, input: &Value) -> Result<Value, MappingError> {
        let (items, extra) = match input.get("listInput") {
            Some(list) => {
                let mut extra = input.as_object().cloned().unwrap_or_default();
                extra.shift_remove("listInput");
                extra.shift_remove("value");
                (list, extra)
            }
            None => (input, Map::new()),
        };
        let prepare = |item: &Value| -> Value {
            if item.is_object() && extra.is_empty() {
                return item.clone();
            }
            if item.is_array() && extra.is_empty() {
                return item.clone();
            }
            // (array) $item + ['value' => $item] + $extra, as array_merge builds it.
            let mut merged = match item {
                Value::Object(map) => map.clone(),
                Value::Array(list) => list
                    .iter()
                    .enumerate()
                    .map(|(index, value)| (index.to_string(), value.clone()))
                    .collect(),
                Value::Null => Map::new(),
                scalar => Map::from_iter([("0".to_owned(), scalar.clone())]),
            };
            merged.insert("value".to_owned(), item.clone());
            for (key, value) in &extra {
                merged.insert(key.clone(), value.clone());
            }
            Value::Object(merged)
        };
        match items {
            Value::Array(list) => list
                .iter()
                .map(|item| self.map_object(&prepare(item)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(map) => map
                .iter()
                .map(|(key, item)| Ok((key.clone(), self.map_object(&prepare(item))?)))
                .collect::<Result<Map<_, _>, MappingError>>()
                .map(|map| php::normalize_lists(Value::Object(map))),
            _ => Ok(Value::Array(Vec::new())),
        }
    }

    fn map_object(&self, input: &Value) -> Result<Value, MappingError> {
        // Keys with a dot are escaped so dot paths never split them; most inputs have none.
        let escaped;
        let encoded = if self.escape_input && dot_path::any_key_contains(input, ".") {
            escaped = dot_path::escape_keys(input);
            &escaped
        } else {
            input
        };
        let key_lengths = dot_path::KeyLengths::of(encoded);
        let mut context = None;
        let mut value_of = |target: &Target, rule: &Rule| -> Result<Value, MappingError> {
            Ok(match rule {
                Rule::Literal(value) => value.clone(),
                Rule::Text {
                    source,
                    first_step,
                    render,
                } => match key_lengths
                    .may_hold(*first_step)
                    .then(|| dot_path::find(encoded, source))
                    .flatten()
                {
                    Some(found) => found.clone(),
                    None => Value::String(self.render(
                        &target.key,
                        source,
                        render,
                        input,
                        &mut context,
                    )?),
                },
            })
        };
        let mut output = if self.pass_through && encoded.is_object() {
            let mut output = encoded.clone();
            for (target, rule) in &self.rules {
                dot_path::set(&mut output, &target.key, value_of(target, rule)?);
            }
            output
        } else {
            let mut output = self.skeleton.clone();
            let mut slots: Vec<&mut Value> = output.values_mut().collect();
            for (target, rule) in &self.rules {
                let value = value_of(target, rule)?;
                let slot = &mut *slots[target.slot];
                match &target.below {
                    None => *slot = value,
                    Some(below) => dot_path::set(slot, below, value),
                }
            }
            Value::Object(output)
        };
        for path in &self.unset {
            dot_path::delete(&mut output, path);
        }
        casts::apply(&mut output, &self.casts);
        if dot_path::any_key_contains(&output, dot_path::ESCAPED_DOT) {
            output = dot_path::unescape_keys(output);
        }
        let mut output = match output {
            Value::Object(mut map) if map.len() == 1 && map.contains_key("#") => {
                match map.shift_remove("#").unwrap_or(Value::Null) {
                    Value::Null => Value::Object(Map::new()),
                    root @ (Value::Object(_) | Value::Array(_)) => root,
                    scalar => Value::Array(vec![scalar]),
                }
            }
            other => other,
        };
        // PHP's list-or-object rule, except that an empty result stays an object.
        php::normalize_lists_in_place(&mut output);
        Ok(match output {
            Value::Array(items) if items.is_empty() => Value::Object(Map::new()),
            other => other,
        })
    }

    fn render(
        &self,
        key: &str,
        source: &str,
        render: &Render,
        input: &Value,
        context: &mut Option<minijinja::Value>,
    ) -> Result<String, MappingError> {
        match render {
            Render::Text(text) => Ok(text.clone()),
            Render::Print(path) => Ok(print_path(input, path)),
            Render::Template { name, direct } => {
                if let Some(text) = direct.as_ref().and_then(|d| d.render(input).ok()) {
                    return Ok(text);
                }
                let context = context.get_or_insert_with(|| {
                    values::context_from_json(input, self.context_names.as_ref())
                });
                self.templates
                    .render(name, context)
                    .map_err(|error| MappingError::Render {
                        mapping: self.name.clone(),
                        key: key.to_owned(),
                        value: source.to_owned(),
                        message: error.0,
                    })
            }
        }
    }
}

/// Whether a path of the mapping (a key, a value, an `unset` or a cast) holds `&#46;`. Without
/// one, a dot path never meets an escaped key, so escaping the input changes nothing: the
/// keys of copied values come out as they went in.
fn mentions_escaped_dot(definition: &MappingDefinition) -> bool {
    let mentions = |text: &str| text.contains(dot_path::ESCAPED_DOT);
    definition
        .mapping
        .iter()
        .any(|(key, value)| mentions(key) || value.as_str().is_some_and(mentions))
        || definition.unset.iter().any(|path| mentions(path))
        || definition
            .cast
            .iter()
            .any(|(path, spec)| mentions(path) || mentions(&spec.to_string()))
}

/// The path of a template that is only `{{ name.attr.0 }}` (no filters, no operators).
fn simple_print_path(source: &str) -> Option<Vec<String>> {
    let inner = source.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.starts_with(['-', '~']) || inner.ends_with(['-', '~']) {
        return None;
    }
    let path = inner.trim();
    let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
    let first = segments.first()?;
    let is_name = |segment: &str| {
        let mut chars = segment.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let is_position =
        |segment: &str| !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    let literal = [
        "true", "false", "null", "none", "TRUE", "FALSE", "NULL", "NONE",
    ];
    // Twig reads a word operator after a dot as an attribute, but `a.in` is rare enough to
    // leave to the full engine.
    let operator = ["in", "is", "and", "or", "not", "matches"];
    if !is_name(first) || literal.contains(&first.as_str()) || operator.contains(&first.as_str()) {
        return None;
    }
    segments[1..]
        .iter()
        .all(|segment| {
            (is_name(segment) && !operator.contains(&segment.as_str())) || is_position(segment)
        })
        .then_some(segments)
}

/// What Twig prints for `{{ a.b }}`: the value as a PHP string, empty when missing.
fn print_path(input: &Value, path: &[String]) -> String {
    let mut current = input;
    for segment in path {
        current = match current {
            Value::Object(map) => match map.get(segment.as_str()) {
                Some(next) => next,
                None => return String::new(),
            },
            Value::Array(items) => match segment
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get(index))
            {
                Some(next) => next,
                None => return String::new(),
            },
            _ => return String::new(),
        };
    }
    php::to_string(current)
}

/// Inline mappings compiled with no [`Mapper`] around.
fn standalone_cache() -> &'static MappingCache {
    static CACHE: OnceLock<MappingCache> = OnceLock::new();
    CACHE.get_or_init(MappingCache::default)
}

/// The `executeMapping(mapping, input, list = false)` template function.
pub(crate) fn execute_from_template(
    state: &minijinja::State,
    mapping: minijinja::Value,
    input: minijinja::Value,
    rest: Rest<minijinja::Value>,
) -> Result<minijinja::Value, minijinja::Error> {
    let fail =
        |message: String| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message);
    let list = rest.0.first().is_some_and(values::is_truthy);
    let (registry, depth) = ACTIVE.with(|active| {
        let active = active.borrow();
        (active.last().cloned().unwrap_or_default(), active.len())
    });
    if depth >= MAX_NESTING {
        return Err(fail(format!(
            "executeMapping nested more than {MAX_NESTING} deep (does a mapping call itself?)"
        )));
    }
    let compiled = resolve_mapping(&registry, &mapping).map_err(|error| fail(error.to_string()))?;
    let input = values::to_json(&input);
    let fuel_before = twig::fuel_spent();
    let result = {
        let _frame = ActiveFrame::enter(&registry);
        if list {
            compiled.map_list(&input)
        } else {
            compiled.map_object(&input)
        }
    };
    // The nested renders' work counts against the calling template's fuel.
    state.consume_fuel(twig::fuel_spent().saturating_sub(fuel_before))?;
    match result {
        Ok(output) => Ok(values::from_json(&output)),
        Err(error) => Err(fail(error.to_string())),
    }
}

fn resolve_mapping(
    registry: &Weak<Registry>,
    mapping: &minijinja::Value,
) -> Result<Arc<CompiledMapping>, MappingError> {
    let registry = registry.upgrade();
    let compile_with = |definition: &MappingDefinition| match &registry {
        Some(registry) => {
            let weak = Arc::downgrade(registry);
            registry.cache.get_or_compile(definition, |definition| {
                CompiledMapping::compile_in(definition, weak)
            })
        }
        None => standalone_cache().get_or_compile(definition, CompiledMapping::compile),
    };
    if values::is_array(mapping) {
        return compile_with(&MappingDefinition::from_json(&values::to_json(mapping))?);
    }
    let text = values::to_string(mapping);
    let key = if let Some(id) = mapping.as_i64().or_else(|| text.parse().ok()) {
        MappingKey::Id(id)
    } else if text.starts_with("http") {
        MappingKey::Reference(text)
    } else {
        MappingKey::Name(text)
    };
    let definition = registry
        .as_ref()
        .and_then(|registry| registry.source.as_ref())
        .and_then(|source| source.find(&key))
        .ok_or_else(|| MappingError::NotFound(key.to_string()))?;
    compile_with(&definition)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
