//! Checks real answers against the OpenAPI document: the path template and method must be
//! described, the status must be one of the operation's responses, and a JSON body must match
//! the response's schema. A small validator for the subset of JSON Schema the document uses:
//! `$ref`, `type` (with OpenAPI 3.0's `nullable`), `properties`, `required`,
//! `additionalProperties: false`, `items`, `enum`, `minimum`, `maximum`, `minItems`,
//! `minLength`, `format: date-time`.

use serde_json::Value;

pub(crate) struct OpenApi {
    doc: Value,
}

impl OpenApi {
    pub(crate) fn load() -> Self {
        OpenApi {
            doc: serde_json::from_str(berth_console::OPENAPI).expect("the document is JSON"),
        }
    }

    /// The document's path template matching a concrete path (`/api/v1/repositories/a` →
    /// `/api/v1/repositories/{repository}`).
    fn template(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        self.doc["paths"]
            .as_object()?
            .keys()
            .find(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == segments.len()
                    && parts
                        .iter()
                        .zip(&segments)
                        .all(|(p, s)| p.starts_with('{') || p == s)
            })
            .cloned()
    }

    /// Panics unless the answer is one the document describes.
    pub(crate) fn check(&self, method: &str, path: &str, status: u16, body: &[u8]) {
        let path = path.split('?').next().unwrap();
        let template = self
            .template(path)
            .unwrap_or_else(|| panic!("{path} is not in the OpenAPI document"));
        let operation = &self.doc["paths"][&template][method.to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not in the OpenAPI document"
        );
        let response = &operation["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {template} answered {status}, which the document does not list: {}",
            String::from_utf8_lossy(body)
        );
        match response["content"]["application/json"]["schema"].as_object() {
            Some(_) => {
                let value: Value = serde_json::from_slice(body)
                    .unwrap_or_else(|e| panic!("{method} {path} {status}: body is not JSON ({e})"));
                let schema = &response["content"]["application/json"]["schema"];
                if let Err(e) = self.validate(schema, &value, "$") {
                    panic!("{method} {path} {status}: {e}\nbody: {value}");
                }
            }
            None => assert!(
                body.is_empty(),
                "{method} {path} {status}: the document lists no body"
            ),
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/");
                self.resolve(&self.doc["components"]["schemas"][name])
            }
            None => schema,
        }
    }

    pub(crate) fn validate(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if value.is_null() {
            return if schema["nullable"] == true {
                Ok(())
            } else {
                Err(format!("{at} is null but not nullable"))
            };
        }
        if let Some(allowed) = schema["enum"].as_array()
            && !allowed.contains(value)
        {
            return Err(format!("{at} = {value} is not one of {allowed:?}"));
        }
        match schema["type"].as_str() {
            Some("object") => {
                let object = value
                    .as_object()
                    .ok_or_else(|| format!("{at} is not an object"))?;
                let properties = schema["properties"].as_object();
                for required in schema["required"].as_array().into_iter().flatten() {
                    let key = required.as_str().unwrap();
                    if !object.contains_key(key) {
                        return Err(format!("{at}.{key} is required"));
                    }
                }
                for (key, v) in object {
                    match properties.and_then(|p| p.get(key)) {
                        Some(s) => self.validate(s, v, &format!("{at}.{key}"))?,
                        None if schema["additionalProperties"] == false => {
                            return Err(format!("{at}.{key} is not in the schema"));
                        }
                        None => {}
                    }
                }
            }
            Some("array") => {
                let items = value
                    .as_array()
                    .ok_or_else(|| format!("{at} is not an array"))?;
                if let Some(min) = schema["minItems"].as_u64()
                    && (items.len() as u64) < min
                {
                    return Err(format!("{at} has fewer than {min} items"));
                }
                for (i, item) in items.iter().enumerate() {
                    self.validate(&schema["items"], item, &format!("{at}[{i}]"))?;
                }
            }
            Some("string") => {
                let s = value
                    .as_str()
                    .ok_or_else(|| format!("{at} is not a string"))?;
                if let Some(min) = schema["minLength"].as_u64()
                    && (s.chars().count() as u64) < min
                {
                    return Err(format!("{at} is shorter than {min}"));
                }
                if schema["format"] == "date-time"
                    && berth_model::Timestamp::parse_rfc3339(s).is_none_or(|_| s.len() < 20)
                {
                    return Err(format!("{at} = {s:?} is not an RFC 3339 date-time"));
                }
            }
            Some("integer") => {
                let n = value
                    .as_i64()
                    .ok_or_else(|| format!("{at} = {value} is not an integer"))?;
                if let Some(min) = schema["minimum"].as_i64()
                    && n < min
                {
                    return Err(format!("{at} = {n} is below {min}"));
                }
                if let Some(max) = schema["maximum"].as_i64()
                    && n > max
                {
                    return Err(format!("{at} = {n} is above {max}"));
                }
            }
            Some("number") if !value.is_number() => {
                return Err(format!("{at} is not a number"));
            }
            Some("boolean") if !value.is_boolean() => {
                return Err(format!("{at} is not a boolean"));
            }
            _ => {}
        }
        Ok(())
    }

    /// Every (method, template) the document describes.
    pub(crate) fn operations(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (template, item) in self.doc["paths"].as_object().unwrap() {
            for method in ["get", "post", "patch", "put", "delete"] {
                if item.get(method).is_some() {
                    out.push((method.to_ascii_uppercase(), template.clone()));
                }
            }
        }
        out
    }

    /// The template a concrete path matches, for coverage bookkeeping.
    pub(crate) fn template_of(&self, path: &str) -> String {
        self.template(path.split('?').next().unwrap())
            .unwrap_or_default()
    }
}

#[test]
fn the_validator_catches_what_it_should() {
    let api = OpenApi::load();
    let schema = serde_json::json!({"$ref": "#/components/schemas/Repository"});
    let good = serde_json::json!({"name": "a", "access_level": "private", "quota_bytes": null,
        "used_bytes": 0, "image_count": 0, "delete_orphan_referrers": true, "proxy": null,
        "created_at": "2026-11-23T00:00:00.000Z"});
    assert!(api.validate(&schema, &good, "$").is_ok());
    for (field, bad) in [
        ("access_level", serde_json::json!("secret")),
        ("used_bytes", serde_json::json!(-1)),
        ("created_at", serde_json::json!("yesterday")),
        ("name", serde_json::json!(null)),
        ("extra", serde_json::json!(1)),
        ("proxy", serde_json::json!({"registry": "hub"})),
    ] {
        let mut v = good.clone();
        v[field] = bad;
        assert!(api.validate(&schema, &v, "$").is_err(), "{field}");
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("image_count");
    assert!(api.validate(&schema, &missing, "$").is_err());
}
