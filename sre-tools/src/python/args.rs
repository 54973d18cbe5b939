//! Parameters of a Python tool and the conversion of call arguments to their declared types,
//! as the vendor's portal does: models (and portal forms) send `"443"` for an integer and
//! `"true"` for a boolean, and the function receives `443` and `True`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// The declared type of a parameter (JSON schema names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// `str` (numbers and booleans given for it become their text).
    String,
    /// `int` (from an integer, an integral number, or a string such as `"443"`).
    Integer,
    /// `float` (from a number or a string such as `"0.5"`).
    Number,
    /// `bool` (from a boolean, `0`/`1`, or `"true"`/`"false"`/`"yes"`/`"no"`/`"on"`/`"off"`).
    Boolean,
    /// `list` (from an array or a string holding a JSON array).
    Array,
    /// `dict` (from an object or a string holding a JSON object).
    Object,
}

impl ParamType {
    /// The JSON schema `type`.
    pub fn json_type(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
            ParamType::Array => "array",
            ParamType::Object => "object",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            ParamType::String => "a string",
            ParamType::Integer => "an integer (e.g. 443 or \"443\")",
            ParamType::Number => "a number (e.g. 0.5 or \"0.5\")",
            ParamType::Boolean => "a boolean (true/false)",
            ParamType::Array => "an array (a JSON list such as [\"a\", \"b\"])",
            ParamType::Object => "an object (a JSON object such as {\"k\": \"v\"})",
        }
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json_type())
    }
}

/// An unknown type name given to [`ParamType::from_str`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown parameter type `{0}` (expected string, integer, number, boolean, array or object)"
)]
pub struct UnknownParamType(pub String);

impl FromStr for ParamType {
    type Err = UnknownParamType;

    /// JSON schema names, and the Python ones (`str`, `int`, `float`, `bool`, `list`,
    /// `dict`), case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "string" | "str" => ParamType::String,
            "integer" | "int" => ParamType::Integer,
            "number" | "float" => ParamType::Number,
            "boolean" | "bool" => ParamType::Boolean,
            "array" | "list" => ParamType::Array,
            "object" | "dict" => ParamType::Object,
            _ => return Err(UnknownParamType(s.to_string())),
        })
    }
}

/// One parameter of a Python tool's function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// The keyword argument's name (a Python identifier).
    pub name: String,
    /// Its declared type; arguments are converted to it.
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// What it is, for the model.
    #[serde(default)]
    pub description: String,
    /// Whether a call must give it (unless it has a `default`).
    #[serde(default)]
    pub required: bool,
    /// Value used when a call leaves it out (converted to `ty`). Without one, an optional
    /// parameter left out is not passed, so the function's own default applies (or `None`
    /// when the function has none).
    #[serde(default)]
    pub default: Option<Value>,
}

impl ParamSpec {
    /// A parameter with no description, optional, without default.
    pub fn new(name: impl Into<String>, ty: ParamType) -> Self {
        ParamSpec {
            name: name.into(),
            ty,
            description: String::new(),
            required: false,
            default: None,
        }
    }

    /// Make it required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Set the description.
    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Set the default.
    pub fn with_default(mut self, default: Value) -> Self {
        self.default = Some(default);
        self
    }
}

/// Convert `value` to `ty`; the error says what was expected and what came.
pub fn convert(ty: ParamType, value: &Value) -> Result<Value, String> {
    let bad = || {
        Err(format!(
            "expected {}, got {}",
            ty.expected(),
            preview(value)
        ))
    };
    match (ty, value) {
        (ParamType::String, Value::String(_)) => Ok(value.clone()),
        (ParamType::String, Value::Number(n)) => Ok(Value::String(n.to_string())),
        (ParamType::String, Value::Bool(b)) => Ok(Value::String(b.to_string())),
        (ParamType::Integer, Value::Number(n)) => match integer_of_number(n) {
            Some(v) => Ok(v),
            None => bad(),
        },
        (ParamType::Integer, Value::String(s)) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                return Ok(Value::from(i));
            }
            if let Ok(u) = t.parse::<u64>() {
                return Ok(Value::from(u));
            }
            match t.parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => integer_of_number(&n).map_or_else(bad, Ok),
                None => bad(),
            }
        }
        (ParamType::Number, Value::Number(_)) => Ok(value.clone()),
        (ParamType::Number, Value::String(s)) => {
            match s.trim().parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => Ok(Value::Number(n)),
                None => bad(),
            }
        }
        (ParamType::Boolean, Value::Bool(_)) => Ok(value.clone()),
        (ParamType::Boolean, Value::Number(n)) => match n.as_f64() {
            Some(0.0) => Ok(Value::Bool(false)),
            Some(1.0) => Ok(Value::Bool(true)),
            _ => bad(),
        },
        (ParamType::Boolean, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" | "y" | "t" => Ok(Value::Bool(true)),
            "false" | "no" | "off" | "0" | "n" | "f" => Ok(Value::Bool(false)),
            _ => bad(),
        },
        (ParamType::Array, Value::Array(_)) | (ParamType::Object, Value::Object(_)) => {
            Ok(value.clone())
        }
        (ParamType::Array, Value::String(s)) => match serde_json::from_str::<Value>(s.trim()) {
            Ok(v @ Value::Array(_)) => Ok(v),
            _ => bad(),
        },
        (ParamType::Object, Value::String(s)) => match serde_json::from_str::<Value>(s.trim()) {
            Ok(v @ Value::Object(_)) => Ok(v),
            _ => bad(),
        },
        _ => bad(),
    }
}

fn integer_of_number(n: &Number) -> Option<Value> {
    if n.is_i64() || n.is_u64() {
        return Some(Value::Number(n.clone()));
    }
    let x = n.as_f64()?;
    // Integral and exactly representable as i64 (2^63 itself is not).
    if x.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&x) {
        return Some(Value::from(x as i64));
    }
    None
}

/// The keyword arguments for a call: `input` checked against `params` (unknown names,
/// missing required ones), each value converted, defaults filled in. Optional parameters
/// given as `null` count as left out. The error names the parameter.
pub fn arguments(params: &[ParamSpec], input: &Value) -> Result<Map<String, Value>, String> {
    let names = || {
        if params.is_empty() {
            "(none)".to_string()
        } else {
            params
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let given = match input {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        other => {
            return Err(format!(
                "the arguments must be a JSON object (parameters: {}), got {}",
                names(),
                preview(other)
            ));
        }
    };
    for key in given.keys() {
        if !params.iter().any(|p| &p.name == key) {
            let hint = closest(key, params.iter().map(|p| p.name.as_str()))
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "unknown argument `{key}`{hint}; the parameters are: {}",
                names()
            ));
        }
    }
    let mut out = Map::new();
    for p in params {
        match given.get(&p.name).filter(|v| !v.is_null()) {
            Some(v) => {
                let converted =
                    convert(p.ty, v).map_err(|e| format!("parameter `{}`: {e}", p.name))?;
                out.insert(p.name.clone(), converted);
            }
            None => match &p.default {
                // Defaults were converted when the tool was built.
                Some(d) => {
                    out.insert(p.name.clone(), d.clone());
                }
                None if p.required => {
                    return Err(format!(
                        "missing required argument `{}` ({}{})",
                        p.name,
                        p.ty,
                        if p.description.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", p.description)
                        }
                    ));
                }
                None => {}
            },
        }
    }
    Ok(out)
}

/// A short rendering of a JSON value for error messages.
fn preview(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() <= 60 {
        return text;
    }
    let cut: String = text.chars().take(57).collect();
    format!("{cut}...")
}

/// The candidate nearest to `name` by edit distance, when it is close (at most a third of
/// the name's length, at least 1).
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance counting a swap of two neighbours as one edit (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_convert_to_declared_types() {
        let c = |t, v: Value| convert(t, &v);
        assert_eq!(c(ParamType::Integer, json!("443")), Ok(json!(443)));
        assert_eq!(c(ParamType::Integer, json!(" 443 ")), Ok(json!(443)));
        assert_eq!(c(ParamType::Integer, json!("443.0")), Ok(json!(443)));
        assert_eq!(c(ParamType::Integer, json!(443.0)), Ok(json!(443)));
        assert!(c(ParamType::Integer, json!("44x")).is_err());
        assert!(c(ParamType::Integer, json!(4.5)).is_err());
        assert!(c(ParamType::Integer, json!(true)).is_err());
        assert_eq!(c(ParamType::Number, json!("0.5")), Ok(json!(0.5)));
        assert!(c(ParamType::Number, json!("nan")).is_err());
        assert_eq!(c(ParamType::Boolean, json!("TRUE")), Ok(json!(true)));
        assert_eq!(c(ParamType::Boolean, json!("no")), Ok(json!(false)));
        assert_eq!(c(ParamType::Boolean, json!(0)), Ok(json!(false)));
        assert!(c(ParamType::Boolean, json!("maybe")).is_err());
        assert_eq!(c(ParamType::String, json!(443)), Ok(json!("443")));
        assert!(c(ParamType::String, json!([1])).is_err());
        assert_eq!(c(ParamType::Array, json!("[1, 2]")), Ok(json!([1, 2])));
        assert!(c(ParamType::Array, json!("a,b")).is_err());
        assert_eq!(
            c(ParamType::Object, json!("{\"a\": 1}")),
            Ok(json!({"a": 1}))
        );
        assert!(c(ParamType::Object, json!("[]")).is_err());
        assert_eq!("Int".parse(), Ok(ParamType::Integer));
        assert!("decimal".parse::<ParamType>().is_err());
    }

    #[test]
    fn arguments_name_the_parameter() {
        let params = vec![
            ParamSpec::new("domain", ParamType::String).required(),
            ParamSpec::new("port", ParamType::Integer).with_default(json!(443)),
            ParamSpec::new("verbose", ParamType::Boolean),
        ];
        let args = arguments(&params, &json!({"domain": "a.com"})).unwrap();
        assert_eq!(Value::Object(args), json!({"domain": "a.com", "port": 443}));
        let args = arguments(
            &params,
            &json!({"domain": "a", "port": "8443", "verbose": null}),
        );
        assert_eq!(
            Value::Object(args.unwrap()),
            json!({"domain": "a", "port": 8443})
        );
        let e = arguments(&params, &json!({"port": 1})).unwrap_err();
        assert!(e.contains("missing required argument `domain`"), "{e}");
        let e = arguments(&params, &json!({"domain": "a", "prot": 1})).unwrap_err();
        assert!(
            e.contains("unknown argument `prot` (did you mean `port`?)"),
            "{e}"
        );
        let e = arguments(&params, &json!({"domain": "a", "port": "https"})).unwrap_err();
        assert!(
            e.starts_with("parameter `port`: expected an integer"),
            "{e}"
        );
        assert_eq!(
            closest("domian", ["domain", "port"].into_iter()),
            Some("domain")
        );
        assert_eq!(closest("zzz", ["domain", "port"].into_iter()), None);
        let e = arguments(&params, &json!("a.com")).unwrap_err();
        assert!(e.contains("must be a JSON object"), "{e}");
    }
}
