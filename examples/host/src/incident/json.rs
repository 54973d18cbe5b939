//! Reading a webhook's JSON with errors that say where: every accessor names the field's
//! path (`alerts[2].labels.alertname`) and what it expected.

use std::collections::BTreeMap;

use serde_json::Value;

use super::IntakeError;

/// A JSON value and the path it was found at.
#[derive(Clone, Debug)]
pub(crate) struct At<'a> {
    pub value: &'a Value,
    pub path: String,
}

impl<'a> At<'a> {
    /// The document's root.
    pub fn root(value: &'a Value) -> Self {
        At {
            value,
            path: String::new(),
        }
    }

    fn join(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn shown(&self) -> String {
        if self.path.is_empty() {
            "(the body)".into()
        } else {
            self.path.clone()
        }
    }

    /// Field `key` of this object; absent and null are `None`.
    pub fn get(&self, key: &str) -> Result<Option<&'a Value>, IntakeError> {
        match self.value {
            Value::Object(map) => Ok(map.get(key).filter(|v| !v.is_null())),
            other => Err(wrong(self.shown(), "an object", other)),
        }
    }

    /// A string field; absent or null is `None`, another type an error.
    pub fn opt_str(&self, key: &str) -> Result<Option<String>, IntakeError> {
        match self.get(key)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(wrong(self.join(key), "a string", other)),
        }
    }

    /// A string field that must be there.
    pub fn str(&self, key: &str) -> Result<String, IntakeError> {
        self.opt_str(key)?.ok_or_else(|| missing(self.join(key)))
    }

    /// A field holding a string or a number (severities, ids), as text.
    pub fn opt_text(&self, key: &str) -> Result<Option<String>, IntakeError> {
        match self.get(key)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(wrong(self.join(key), "a string or a number", other)),
        }
    }

    /// An object field that must be there.
    pub fn obj(&self, key: &str) -> Result<At<'a>, IntakeError> {
        self.opt_obj(key)?.ok_or_else(|| missing(self.join(key)))
    }

    /// An object field, absent or null being `None`.
    pub fn opt_obj(&self, key: &str) -> Result<Option<At<'a>>, IntakeError> {
        match self.get(key)? {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(At {
                value: v,
                path: self.join(key),
            })),
            Some(other) => Err(wrong(self.join(key), "an object", other)),
        }
    }

    /// An object of strings (labels, annotations); absent is empty.
    pub fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>, IntakeError> {
        let mut out = BTreeMap::new();
        match self.get(key)? {
            None => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) => {
                            out.insert(k.clone(), s.clone());
                        }
                        other => {
                            return Err(wrong(
                                format!("{}.{k}", self.join(key)),
                                "a string",
                                other,
                            ));
                        }
                    }
                }
            }
            Some(other) => return Err(wrong(self.join(key), "an object", other)),
        }
        Ok(out)
    }

    /// An array field (absent is empty), each element with its path.
    pub fn array(&self, key: &str) -> Result<Vec<At<'a>>, IntakeError> {
        match self.get(key)? {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| At {
                    value: v,
                    path: format!("{}[{i}]", self.join(key)),
                })
                .collect()),
            Some(other) => Err(wrong(self.join(key), "an array", other)),
        }
    }

    /// An array of strings (absent is empty).
    pub fn strings(&self, key: &str) -> Result<Vec<String>, IntakeError> {
        self.array(key)?
            .into_iter()
            .map(|item| match item.value {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong(item.path.clone(), "a string", other)),
            })
            .collect()
    }

    /// An RFC 3339 time field, absent being `None`.
    pub fn opt_time(
        &self,
        key: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, IntakeError> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(text) => time(&text, self.join(key)).map(Some),
        }
    }
}

fn wrong(path: String, expected: &str, found: &Value) -> IntakeError {
    IntakeError::Field {
        path,
        message: format!("expected {expected}, found {}", kind(found)),
    }
}

fn missing(path: String) -> IntakeError {
    IntakeError::Field {
        path,
        message: "missing".into(),
    }
}

/// What kind of JSON value `v` is, for messages.
pub(crate) use sre_core::text::json_kind as kind;

/// Parse a body as JSON, the error saying where it broke.
pub(crate) fn parse(body: &[u8]) -> Result<Value, IntakeError> {
    serde_json::from_slice(body).map_err(|e| {
        // serde_json's message ends with the position, which the error says already.
        let text = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        IntakeError::Json {
            line: e.line(),
            column: e.column(),
            message: text.strip_suffix(&suffix).unwrap_or(&text).to_string(),
        }
    })
}

/// An RFC 3339 time read at `path`.
pub(crate) fn time(text: &str, path: String) -> Result<chrono::DateTime<chrono::Utc>, IntakeError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| IntakeError::Field {
            path,
            message: format!("`{text}` is not an RFC 3339 time ({e})"),
        })
}
