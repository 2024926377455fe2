//! The reservation's prompt bound read straight from a chat request's `messages`, without a
//! JSON tree: the same sum as `pricing::prompt_bound` (a small overhead per message, each text
//! part, an image budget, tool calls), as leniently as the tree is read there.

use serde::de::{Deserializer, MapAccess, SeqAccess};
use serde::Deserialize;
use serde_json::Value;

use super::lenient::{self, Fill, Skip};
use super::pricing::{text_bound, IMAGE_TOKENS, MESSAGE_TOKENS};

/// `messages`: how many there are and their tokens' bound.
#[derive(Debug, Default, PartialEq)]
pub struct Messages {
    pub count: usize,
    pub bound: u64,
}

/// One message's bound, before its per-message overhead.
#[derive(Default)]
struct Message {
    content: u64,
    tool_calls: u64,
}

/// A message's `content`: a text, or an array of parts.
#[derive(Default)]
struct Content(u64);

/// One part of a `content` array.
#[derive(Default)]
struct Part {
    text: Option<u64>,
    image: bool,
}

/// A value that counts when it is a string.
#[derive(Default)]
struct Text(Option<u64>);

lenient::member_names! {
    /// The member names read, at any level.
    enum Key {
        Content = "content",
        ToolCalls = "tool_calls",
        Text = "text",
        ImageUrl = "image_url",
    }
}

impl Fill for Messages {
    type Key = Skip;

    fn element<'de, A: SeqAccess<'de>>(&mut self, seq: &mut A) -> Result<bool, A::Error> {
        let Some(m) = seq.next_element::<Message>()? else {
            return Ok(false);
        };
        self.count += 1;
        self.bound += MESSAGE_TOKENS + m.content + m.tool_calls;
        Ok(true)
    }
}

impl Fill for Message {
    type Key = Key;

    fn member<'de, A: MapAccess<'de>>(&mut self, key: Key, map: &mut A) -> Result<(), A::Error> {
        match key {
            Key::Content => self.content = map.next_value::<Content>()?.0,
            // Rare on the hot path, and bounded by its compact text, as the tree is.
            Key::ToolCalls => self.tool_calls = text_bound(&map.next_value::<Value>()?.to_string()),
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

impl Fill for Content {
    type Key = Skip;

    fn text(&mut self, v: &str) {
        self.0 = text_bound(v);
    }
    fn element<'de, A: SeqAccess<'de>>(&mut self, seq: &mut A) -> Result<bool, A::Error> {
        let Some(p) = seq.next_element::<Part>()? else {
            return Ok(false);
        };
        self.0 += p.text.unwrap_or(if p.image { IMAGE_TOKENS } else { 0 });
        Ok(true)
    }
}

impl Fill for Part {
    type Key = Key;

    fn member<'de, A: MapAccess<'de>>(&mut self, key: Key, map: &mut A) -> Result<(), A::Error> {
        match key {
            Key::Text => self.text = map.next_value::<Text>()?.0,
            Key::ImageUrl => {
                map.next_value::<Skip>()?;
                self.image = true;
            }
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

impl Fill for Text {
    type Key = Skip;

    fn text(&mut self, v: &str) {
        self.0 = Some(text_bound(v));
    }
}

macro_rules! lenient_deserialize {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                lenient::read(d)
            }
        }
    )*};
}
lenient_deserialize!(Messages, Message, Content, Part, Text);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::pricing::prompt_bound;
    use serde_json::json;

    /// The tree's sum without its fixed base, for one `messages` value.
    fn tree_bound(messages: &Value) -> u64 {
        prompt_bound(&json!({ "messages": messages })) - prompt_bound(&json!({}))
    }

    #[test]
    fn typed_and_tree_readings_agree() {
        let cases = [
            json!([{"role": "user", "content": "Say hello"}]),
            json!([{"role": "system", "content": "Be brief: \"quoted\", é, \u{1F600}\n"},
                   {"role": "user", "content": "hi"}]),
            json!([{"role": "user", "content": [{"type": "text", "text": "look"},
                   {"type": "image_url", "image_url": {"url": "data:x"}},
                   {"type": "text", "text": 5, "image_url": null}, "odd", 7, [1, 2]]}]),
            json!([{"role": "assistant", "content": null, "tool_calls": [{"id": "t", "type": "function",
                   "function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
                   {"role": "tool", "tool_call_id": "t", "content": "42"}]),
            json!([{"role": "user", "content": 12, "tool_calls": null}, "not a message", null, [1],
                   {"content": {"text": "an object"}}]),
            json!([]),
            json!("messages"),
            json!(3),
            json!({"content": "x"}),
        ];
        for v in cases {
            let typed: Messages = serde_json::from_str(&v.to_string()).unwrap();
            assert_eq!(typed.bound, tree_bound(&v), "{v}");
            assert_eq!(typed.count, v.as_array().map_or(0, Vec::len), "{v}");
        }
    }

    #[test]
    fn a_repeated_member_counts_once_with_its_last_value() {
        let text = r#"[{"content": "a long first content", "content": "ab"}]"#;
        let typed: Messages = serde_json::from_str(text).unwrap();
        let tree: Value = serde_json::from_str(text).unwrap();
        assert_eq!(typed.bound, tree_bound(&tree));
        assert_eq!(typed.bound, MESSAGE_TOKENS + 1);
        assert!(serde_json::from_str::<Messages>(r#"[{"content": "x"}"#).is_err());
    }
}
