//! How pages show the API's values: text of a JSON field, dollars, table rows.

use serde_json::Value;

/// A field as text: a string as it is, a whole number without `.0`, null as nothing.
pub fn text(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        // `2`, not `2.0`, in a form's number field.
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
            .map_or_else(|| n.to_string(), |f| format!("{f}")),
        other => other.to_string(),
    }
}

/// `$12.34`, or `-` when the value is absent.
pub fn usd(v: &Value) -> String {
    match v.as_f64() {
        None => "-".into(),
        // A single request often costs a fraction of a cent.
        Some(n) if n != 0.0 && n.abs() < 0.01 => format!("${n:.6}"),
        Some(n) => format!("${n:.2}"),
    }
}

pub struct Row {
    pub id: String,
    pub cells: Vec<String>,
}
