//! SOAP 1.1 and 1.2: the envelope for an operation and its arguments, and the response body
//! or fault turned into JSON (through the XML convention of [`super::xml`]).

use serde_json::{Map, Value, json};

use super::xml::{self, XmlError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    V11,
    V12,
}

impl SoapVersion {
    /// Reads `soapVersion` as the PHP app did: any spelling of 1.1 is 1.1, everything else 1.2.
    pub fn from_config(text: Option<&str>) -> Self {
        let digits: String = text
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if digits.ends_with("11") {
            Self::V11
        } else {
            Self::V12
        }
    }

    fn namespace(self) -> &'static str {
        match self {
            Self::V11 => "http://schemas.xmlsoap.org/soap/envelope/",
            Self::V12 => "http://www.w3.org/2003/05/soap-envelope",
        }
    }
}

/// A request ready to post: body, content type and, for 1.1, the SOAPAction header.
#[derive(Debug)]
pub struct SoapRequest {
    pub body: String,
    pub content_type: String,
    pub soap_action: Option<String>,
}

/// Builds the envelope for `operation` in `namespace` with `arguments` as child elements.
pub fn request(
    version: SoapVersion,
    operation: &str,
    namespace: Option<&str>,
    action: Option<&str>,
    arguments: &Value,
) -> SoapRequest {
    let mut body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{}"><soap:Body>"#,
        version.namespace()
    );
    let mut operation_value = match arguments {
        Value::Object(object) => object.clone(),
        Value::Null => Map::new(),
        other => Map::from_iter([("arg0".to_owned(), other.clone())]),
    };
    let element = match namespace {
        Some(namespace) => {
            let attributes = operation_value
                .entry("@attributes")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(attributes) = attributes {
                attributes.insert("xmlns:m".into(), Value::String(namespace.to_owned()));
            }
            format!("m:{operation}")
        }
        None => operation.to_owned(),
    };
    xml::write_element(&mut body, &element, &Value::Object(operation_value));
    body.push_str("</soap:Body></soap:Envelope>");
    let action = action
        .map(str::to_owned)
        .or_else(|| namespace.map(|ns| format!("{}/{operation}", ns.trim_end_matches('/'))));
    match version {
        SoapVersion::V11 => SoapRequest {
            body,
            content_type: "text/xml; charset=utf-8".into(),
            soap_action: Some(format!("\"{}\"", action.unwrap_or_default())),
        },
        SoapVersion::V12 => SoapRequest {
            content_type: match action {
                Some(action) => format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
                None => "application/soap+xml; charset=utf-8".into(),
            },
            body,
            soap_action: None,
        },
    }
}

/// What a SOAP response says: the Body's content, or a fault.
#[derive(Debug, PartialEq)]
pub enum SoapResponse {
    Body(Value),
    Fault(Value),
}

/// Parses a response envelope. A fault becomes `{faultcode, faultstring, detail}` for both
/// versions.
pub fn parse(xml_text: &str) -> Result<SoapResponse, XmlError> {
    let envelope = xml::to_json(xml_text)?;
    let body = local(&envelope, "Body").cloned().unwrap_or(Value::Null);
    if let Some(fault) = local(&body, "Fault") {
        let text = |v: Option<&Value>| v.map(leaf_text).unwrap_or_default();
        let code = local(fault, "faultcode")
            .or_else(|| local(fault, "Code").and_then(|c| local(c, "Value")));
        let reason = local(fault, "faultstring")
            .or_else(|| local(fault, "Reason").and_then(|r| local(r, "Text")));
        let detail = local(fault, "detail")
            .or_else(|| local(fault, "Detail"))
            .cloned()
            .unwrap_or(Value::Null);
        return Ok(SoapResponse::Fault(json!({
            "faultcode": text(code),
            "faultstring": text(reason),
            "detail": detail,
        })));
    }
    let mut body = match body {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    body.remove("@attributes");
    Ok(SoapResponse::Body(Value::Object(body)))
}

/// The child of `value` whose name is `name` with any namespace prefix.
fn local<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.as_object()?.iter().find_map(|(key, child)| {
        let local_name = key
            .rsplit_once(':')
            .map_or(key.as_str(), |(_, local)| local);
        (local_name == name).then_some(child)
    })
}

fn leaf_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(object) => object
            .get("#text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_every_spelling() {
        for text in ["1.1", "1_1", "soap1.1", "SOAP_1_1"] {
            assert_eq!(
                SoapVersion::from_config(Some(text)),
                SoapVersion::V11,
                "{text}"
            );
        }
        assert_eq!(SoapVersion::from_config(Some("1.2")), SoapVersion::V12);
        assert_eq!(SoapVersion::from_config(None), SoapVersion::V12);
    }

    #[test]
    fn envelopes_carry_the_operation_and_arguments() {
        let request = request(
            SoapVersion::V11,
            "GetPrice",
            Some("http://example.org/stock"),
            None,
            &json!({"Item": "Apple"}),
        );
        assert_eq!(
            request.body,
            r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><m:GetPrice xmlns:m="http://example.org/stock"><Item>Apple</Item></m:GetPrice></soap:Body></soap:Envelope>"#
        );
        assert_eq!(
            request.soap_action.as_deref(),
            Some("\"http://example.org/stock/GetPrice\"")
        );
        let v12 = super::request(
            SoapVersion::V12,
            "GetPrice",
            None,
            Some("urn:get"),
            &Value::Null,
        );
        assert_eq!(
            v12.content_type,
            "application/soap+xml; charset=utf-8; action=\"urn:get\""
        );
    }

    #[test]
    fn bodies_and_faults_of_both_versions_parse() {
        let ok = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetPriceResponse xmlns:m="x"><m:Price>1.90</m:Price></m:GetPriceResponse></s:Body></s:Envelope>"#;
        assert_eq!(
            parse(ok).expect("parses"),
            SoapResponse::Body(
                json!({"m:GetPriceResponse": {"@attributes": {"xmlns:m": "x"}, "m:Price": "1.90"}})
            )
        );
        let fault11 = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>Unknown item</faultstring></s:Fault></s:Body></s:Envelope>"#;
        assert_eq!(
            parse(fault11).expect("parses"),
            SoapResponse::Fault(
                json!({"faultcode": "s:Client", "faultstring": "Unknown item", "detail": null})
            )
        );
        let fault12 = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value></env:Code><env:Reason><env:Text xml:lang="en">Bad</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#;
        assert_eq!(
            parse(fault12).expect("parses"),
            SoapResponse::Fault(
                json!({"faultcode": "env:Sender", "faultstring": "Bad", "detail": null})
            )
        );
    }
}
