//! XML to JSON by the convention the PHP app's mappings expect: an element becomes an object,
//! its attributes go under `@attributes` (namespaced names kept as `prefix:name`), repeated
//! children become lists, text of an element with attributes or children goes under `#text`,
//! and the text of a plain leaf element is its value. The root element is not wrapped.

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
#[error("the XML is malformed at byte {position}: {message}")]
pub struct XmlError {
    pub position: u64,
    pub message: String,
}

/// An element under construction.
struct Node {
    name: String,
    attributes: Map<String, Value>,
    children: Map<String, Value>,
    text: String,
}

impl Node {
    fn new(start: &BytesStart<'_>) -> Result<Self, quick_xml::Error> {
        let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
        let mut attributes = Map::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(quick_xml::Error::from)?;
            let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
            let value = attribute.unescape_value()?.into_owned();
            attributes.insert(key, Value::String(value));
        }
        Ok(Self {
            name,
            attributes,
            children: Map::new(),
            text: String::new(),
        })
    }

    fn into_value(self) -> Value {
        let text = self.text.trim();
        if self.attributes.is_empty() && self.children.is_empty() {
            return Value::String(text.to_owned());
        }
        let mut object = Map::new();
        if !self.attributes.is_empty() {
            object.insert("@attributes".into(), Value::Object(self.attributes));
        }
        object.extend(self.children);
        if !text.is_empty() {
            object.insert("#text".into(), Value::String(text.to_owned()));
        }
        Value::Object(object)
    }

    /// Adds a child element; a repeated name turns into a list. Element values are strings or
    /// objects, never lists, so a list here always holds repeats.
    fn add_child(&mut self, name: String, value: Value) {
        match self.children.get_mut(&name) {
            Some(Value::Array(list)) => list.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                self.children.insert(name, value);
            }
        }
    }
}

/// Parses an XML document into JSON. The root element's own name is dropped.
pub fn to_json(xml: &str) -> Result<Value, XmlError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Value> = None;
    let fail = |reader: &Reader<&[u8]>, message: String| XmlError {
        position: reader.buffer_position(),
        message,
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| fail(&reader, e.to_string()))?;
        match event {
            Event::Start(start) => {
                stack.push(Node::new(&start).map_err(|e| fail(&reader, e.to_string()))?);
            }
            Event::Empty(start) => {
                let node = Node::new(&start).map_err(|e| fail(&reader, e.to_string()))?;
                let name = node.name.clone();
                match stack.last_mut() {
                    Some(parent) => parent.add_child(name, node.into_value()),
                    None => root = Some(node.into_value()),
                }
            }
            Event::Text(text) => {
                if let Some(node) = stack.last_mut() {
                    node.text
                        .push_str(&text.unescape().map_err(|e| fail(&reader, e.to_string()))?);
                }
            }
            Event::CData(data) => {
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| fail(&reader, "an end tag without a start".into()))?;
                let name = node.name.clone();
                let value = node.into_value();
                match stack.last_mut() {
                    Some(parent) => parent.add_child(name, value),
                    None => root = Some(value),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError {
            position: reader.buffer_position(),
            message: "the document ends inside an element".into(),
        });
    }
    root.ok_or(XmlError {
        position: 0,
        message: "the document has no element".into(),
    })
}

/// Writes JSON as XML elements (for SOAP arguments): objects become child elements, lists
/// repeat their element, `@attributes` and `#text` map back to attributes and text.
pub fn write_element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                write_element(out, name, item);
            }
        }
        Value::Object(object) => {
            out.push('<');
            out.push_str(name);
            if let Some(Value::Object(attributes)) = object.get("@attributes") {
                for (key, value) in attributes {
                    out.push(' ');
                    out.push_str(key);
                    out.push_str("=\"");
                    out.push_str(&escape(&scalar_text(value)));
                    out.push('"');
                }
            }
            out.push('>');
            for (key, child) in object {
                match key.as_str() {
                    "@attributes" => {}
                    "#text" => out.push_str(&escape(&scalar_text(child))),
                    _ => write_element(out, key, child),
                }
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        Value::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
        }
        scalar => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            out.push_str(&escape(&scalar_text(scalar)));
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "true".into(),
        Value::Bool(false) => "false".into(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn elements_attributes_repeats_and_text_follow_the_convention() {
        let xml = r#"<?xml version="1.0"?>
            <zaken xmlns:stuf="http://www.egem.nl/StUF" count="2">
              <zaak stuf:entiteittype="ZAK"><id>1</id><omschrijving>Eerste &amp; beste</omschrijving></zaak>
              <zaak stuf:entiteittype="ZAK"><id>2</id><omschrijving><![CDATA[<b>Tweede</b>]]></omschrijving></zaak>
              <status code="open">Open</status>
              <leeg/>
            </zaken>"#;
        assert_eq!(
            to_json(xml).expect("valid XML"),
            json!({
                "@attributes": {"xmlns:stuf": "http://www.egem.nl/StUF", "count": "2"},
                "zaak": [
                    {"@attributes": {"stuf:entiteittype": "ZAK"}, "id": "1", "omschrijving": "Eerste & beste"},
                    {"@attributes": {"stuf:entiteittype": "ZAK"}, "id": "2", "omschrijving": "<b>Tweede</b>"}
                ],
                "status": {"@attributes": {"code": "open"}, "#text": "Open"},
                "leeg": ""
            })
        );
    }

    #[test]
    fn malformed_xml_is_an_error_not_a_panic() {
        assert!(to_json("<a><b></a>").is_err());
        assert!(to_json("<a>").is_err());
        assert!(to_json("just text").is_err());
    }

    #[test]
    fn json_writes_back_as_elements() {
        let mut out = String::new();
        write_element(
            &mut out,
            "m:Get",
            &json!({"@attributes": {"id": "7"}, "name": "a<b", "tag": ["x", "y"]}),
        );
        assert_eq!(
            out,
            r#"<m:Get id="7"><name>a&lt;b</name><tag>x</tag><tag>y</tag></m:Get>"#
        );
    }
}
