//! The cache key: the project, the endpoint and the request in canonical form (object keys
//! sorted at every level, the last of a repeated member kept, as a JSON tree keeps it), hashed.
//! The canonical text is written straight from the request's bytes: building a JSON tree
//! first cost as much as the rest of a cache hit's reading and answering.
//!
//! Sorting needs each member's text apart before it is placed, so text nested in objects would
//! be copied once per level (quadratic in depth). A nested member's value longer than a digest
//! is therefore replaced by `#` and its SHA-256 (no JSON text starts with `#`, and a digest has
//! a fixed length, so the form stays unambiguous): each byte is then copied a bounded number of
//! times whatever the nesting.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};

/// Fields that do not change the answer: how it is delivered, and who asked.
const IGNORED: &[&str] = &["stream", "stream_options", "user"];

/// The key of a request body (JSON text). Fails where a JSON tree fails on the same text, with
/// one exception: serde_json's private raw-value marker (an object whose first member is
/// `$serde_json::private::RawValue`) is an ordinary member here, as it is to a provider.
pub fn key(project_id: &str, endpoint: &str, body: &[u8]) -> Result<String, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut canonical = Vec::with_capacity(body.len());
    Canon {
        out: &mut canonical,
        top: true,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(finish(project_id, endpoint, &canonical))
}

/// Nested member values longer than this are written as their digest (see the module's notes).
const DIGESTED_OVER: usize = 33;

/// The key of a request already parsed into a tree: the same key as from its text.
pub fn key_of_tree(project_id: &str, endpoint: &str, body: &serde_json::Value) -> String {
    let mut canonical = Vec::new();
    // Reading a tree cannot fail: every value it holds is one the canonical form writes.
    let _ = Canon {
        out: &mut canonical,
        top: true,
    }
    .deserialize(body);
    finish(project_id, endpoint, &canonical)
}

fn finish(project_id: &str, endpoint: &str, canonical: &[u8]) -> String {
    let digest = Sha256::digest(canonical);
    let mut key = String::with_capacity(project_id.len() + endpoint.len() + 66);
    key.push_str(project_id);
    key.push(':');
    key.push_str(endpoint);
    key.push(':');
    crate::crypto::push_hex(&mut key, &digest);
    key
}

/// Writes one JSON value in canonical form. At the top level an object is written as
/// `key=value` lines without the ignored fields.
struct Canon<'o> {
    out: &'o mut Vec<u8>,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Canon<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Serializing a string or number into a `Vec` cannot fail.
fn leaf<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(out, v);
}

impl<'de> Visitor<'de> for Canon<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        leaf(self.out, &v);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        leaf(self.out, &v);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        leaf(self.out, &v);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        leaf(self.out, v);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        loop {
            let at = self.out.len();
            if !first {
                self.out.push(b',');
            }
            let item = Canon {
                out: &mut *self.out,
                top: false,
            };
            if seq.next_element_seed(item)?.is_none() {
                self.out.truncate(at);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Each member's value is written apart, then the members are sorted by key.
        let mut members: Vec<(Cow<'de, str>, Vec<u8>)> = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            let mut value = Vec::new();
            map.next_value_seed(Canon {
                out: &mut value,
                top: false,
            })?;
            members.push((key, value));
        }
        // Stable, so that of a repeated member the last stays last, and is the one kept.
        members.sort_by(|a, b| a.0.cmp(&b.0));
        let kept = members
            .iter()
            .enumerate()
            .filter(|(i, (k, _))| members.get(i + 1).is_none_or(|next| next.0 != *k));
        if self.top {
            for (_, (k, v)) in kept.filter(|(_, (k, _))| !IGNORED.contains(&k.as_ref())) {
                self.out.extend_from_slice(k.as_bytes());
                self.out.push(b'=');
                self.out.extend_from_slice(v);
                self.out.push(b'\n');
            }
            return Ok(());
        }
        self.out.push(b'{');
        for (n, (_, (k, v))) in kept.enumerate() {
            if n > 0 {
                self.out.push(b',');
            }
            leaf(self.out, k.as_ref());
            self.out.push(b':');
            if v.len() > DIGESTED_OVER {
                self.out.push(b'#');
                self.out.extend_from_slice(&Sha256::digest(v));
            } else {
                self.out.extend_from_slice(v);
            }
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// A member's name, borrowed from the request when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn k(project: &str, body: serde_json::Value) -> String {
        key(project, "chat", body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn keys_ignore_delivery_and_order_but_not_content_or_project() {
        let a = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2});
        let b = json!({"temperature": 0.2, "stream": true, "user": "u", "messages": [{"content": "hi", "role": "user"}], "model": "m"});
        assert_eq!(k("p", a.clone()), k("p", b));
        assert_ne!(k("p", a.clone()), k("q", a.clone()));
        let c = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.3});
        assert_ne!(k("p", a), k("p", c));
    }

    #[test]
    fn the_canonical_text_sorts_nested_keys_and_keeps_the_last_of_a_repeated_member() {
        let raw = br#"{"n": [1, -2, 0.5, 1e3, true, null, {"b": "x\"y", "a": {}}], "m": "a", "m": "b", "o": {"z": [], "z": 1, "y": "\u00e9"}}"#;
        let mut de = serde_json::Deserializer::from_slice(raw);
        let mut out = Vec::new();
        Canon {
            out: &mut out,
            top: true,
        }
        .deserialize(&mut de)
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "m=\"b\"\nn=[1,-2,0.5,1000.0,true,null,{\"a\":{},\"b\":\"x\\\"y\"}]\no={\"y\":\"é\",\"z\":1}\n"
        );
    }

    #[test]
    fn text_a_tree_refuses_is_refused() {
        assert!(key("p", "chat", b"{\"a\": 1e999}").is_err());
        assert!(key("p", "chat", b"{\"a\": 1} x").is_err());
        assert!(key("p", "chat", b"{\"a\": ").is_err());
        assert!(key("p", "chat", b"{\"a\": \"\\ud800\"}").is_err());
        assert!(key("p", "chat", b"{\"a\": \"\xff\"}").is_err());
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(key("p", "chat", deep.as_bytes()).is_err());
    }

    #[test]
    fn long_nested_values_are_digested_and_still_told_apart() {
        let long = "x".repeat(100);
        let a = json!({"m": [{"content": long, "role": "user"}]});
        let b = json!({"m": [{"role": "user", "content": format!("{long}y")}]});
        assert_ne!(k("p", a.clone()), k("p", b));
        let reordered: serde_json::Value = serde_json::from_str(&format!(
            r#"{{"m":[{{"role":"user","content":"{long}"}}]}}"#
        ))
        .unwrap();
        assert_eq!(k("p", a), k("p", reordered));
    }

    #[test]
    fn serde_jsons_raw_value_marker_is_an_ordinary_member() {
        // A tree reads this as `[1,2]`; a provider reads an object. Their answers may differ.
        let marked = br#"{"x": {"$serde_json::private::RawValue": "[1,2]"}}"#;
        let plain = k("p", json!({"x": [1, 2]}));
        assert_ne!(key("p", "chat", marked).unwrap(), plain);
        let odd = br#"{"x": {"$serde_json::private::RawValue": 5}}"#;
        assert!(serde_json::from_slice::<serde_json::Value>(odd).is_err());
        assert!(key("p", "chat", odd).is_ok());
    }

    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    use serde_json::Value;

    const NAMES: &[&str] = &["a", "b", "ab", "é", "q\"", "\\n"];

    fn random_value(rng: &mut StdRng, depth: u32) -> Value {
        match rng.gen_range(0..if depth > 3 { 6 } else { 8 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.gen()),
            2 => json!(rng.gen_range(-3i64..3)),
            3 => json!([0.5, 1.0, 1e20, -2.25][rng.gen_range(0..4)]),
            4 => json!(u64::MAX - rng.gen_range(0..2)),
            5 => Value::String(
                [
                    "",
                    "x",
                    "\u{1}\"\\/",
                    "é✓",
                    &"long ".repeat(rng.gen_range(5..9)),
                ][rng.gen_range(0..5)]
                .to_string(),
            ),
            6 => Value::Array(
                (0..rng.gen_range(0..3))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..rng.gen_range(0..4))
                    .map(|_| {
                        let name = NAMES[rng.gen_range(0..NAMES.len())];
                        (name.to_string(), random_value(rng, depth + 1))
                    })
                    .collect(),
            ),
        }
    }

    /// `v` as JSON text with its members in a random order, some of them preceded by a
    /// repeated member with another value (which the later one overrides).
    fn random_text(v: &Value, rng: &mut StdRng, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut members: Vec<_> = map.iter().collect();
                members.shuffle(rng);
                out.push('{');
                for (i, (name, value)) in members.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    if rng.gen_bool(0.3) {
                        out.push_str(&Value::String(name.clone()).to_string());
                        out.push(':');
                        random_text(&random_value(rng, 4), rng, out);
                        out.push(',');
                    }
                    out.push_str(&Value::String(name.clone()).to_string());
                    out.push(':');
                    random_text(value, rng, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    random_text(item, rng, out);
                }
                out.push(']');
            }
            leaf => out.push_str(&leaf.to_string()),
        }
    }

    #[test]
    fn equal_trees_and_only_equal_trees_share_a_key() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut told_apart = 0;
        for _ in 0..2000 {
            let v = json!({"model": "m", "x": random_value(&mut rng, 0)});
            let w = json!({"model": "m", "x": random_value(&mut rng, 0)});
            let (mut one, mut other) = (String::new(), String::new());
            random_text(&v, &mut rng, &mut one);
            random_text(&v, &mut rng, &mut other);
            assert_eq!(serde_json::from_str::<Value>(&one).unwrap(), v, "{one}");
            let kv = key("p", "chat", one.as_bytes()).unwrap();
            assert_eq!(
                kv,
                key("p", "chat", other.as_bytes()).unwrap(),
                "{one} / {other}"
            );
            assert_eq!(kv == k("p", w.clone()), v == w, "{v} / {w}");
            assert_eq!(kv, key_of_tree("p", "chat", &v), "{v}");
            told_apart += usize::from(v != w);
        }
        assert!(told_apart > 1000);
    }
}
