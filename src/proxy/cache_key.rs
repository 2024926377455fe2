//! The cache key: the project, the endpoint and the request in canonical form (object keys
//! sorted at every level, the last of a repeated member kept, as a JSON tree keeps it), hashed.
//! The canonical text is written straight from the request's bytes: building a JSON tree
//! first cost as much as the rest of a cache hit's reading and answering.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};

/// Fields that do not change the answer: how it is delivered, and who asked.
const IGNORED: &[&str] = &["stream", "stream_options", "user"];

/// The key of a request body (JSON text). Fails as a JSON tree would on the same text.
pub fn key(project_id: &str, endpoint: &str, body: &[u8]) -> Result<String, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut canonical = Vec::with_capacity(body.len());
    Canon {
        out: &mut canonical,
        top: true,
    }
    .deserialize(&mut de)?;
    de.end()?;
    let digest = Sha256::digest(&canonical);
    let mut key = String::with_capacity(project_id.len() + endpoint.len() + 66);
    key.push_str(project_id);
    key.push(':');
    key.push_str(endpoint);
    key.push(':');
    crate::crypto::push_hex(&mut key, &digest);
    Ok(key)
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
        let mut kept = members
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
        if let Some((_, (k, v))) = kept.next() {
            leaf(self.out, k.as_ref());
            self.out.push(b':');
            self.out.extend_from_slice(v);
        }
        for (_, (k, v)) in kept {
            self.out.push(b',');
            leaf(self.out, k.as_ref());
            self.out.push(b':');
            self.out.extend_from_slice(v);
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
    }
}
