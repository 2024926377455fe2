//! A streamed answer rebuilt from its chunks: to estimate its tokens when the provider reports
//! none, and to cache it as a whole answer.

use serde_json::{json, Map, Value};

use super::providers::{usage_json, ChunkHead, Usage};

/// Choices and tool calls beyond this index are ignored (the index sizes a vector).
const MAX_INDEX: usize = 128;

/// Rebuilds the whole answer from the chunks, to count it and to cache it.
#[derive(Default)]
pub struct Accumulator {
    id: Value,
    created: Value,
    model: Value,
    choices: Vec<ChoiceSoFar>,
}

/// Content, tool calls and finish reason of one choice, as received so far.
type ChoiceSoFar = (String, Vec<Map<String, Value>>, Value);

impl Accumulator {
    pub fn add(&mut self, chunk: &ChunkHead) {
        if self.id.is_null() {
            self.id = chunk.id.clone();
            self.created = chunk.created.clone();
            self.model = chunk.model.clone();
        }
        for c in chunk.choices.iter().flatten() {
            let i = c.index.unwrap_or(0) as usize;
            // A provider's index sizes a vector: out of bounds, it is not followed.
            if i >= MAX_INDEX {
                continue;
            }
            if self.choices.len() <= i {
                self.choices
                    .resize(i + 1, (String::new(), Vec::new(), Value::Null));
            }
            let (content, calls, finish) = &mut self.choices[i];
            if let Some(t) = &c.delta.content {
                content.push_str(t);
            }
            for call in c.delta.tool_calls.iter().flatten() {
                let n = call["index"].as_u64().unwrap_or(0) as usize;
                if n >= MAX_INDEX {
                    continue;
                }
                if calls.len() <= n {
                    calls.resize(n + 1, Map::new());
                }
                let slot = &mut calls[n];
                for field in ["id", "type"] {
                    if let Some(v) = call.get(field).filter(|v| !v.is_null()) {
                        slot.insert(field.into(), v.clone());
                    }
                }
                let f = slot
                    .entry("function")
                    .or_insert_with(|| json!({"name": "", "arguments": ""}));
                if let Some(name) = call["function"]["name"].as_str() {
                    f["name"] = json!(format!("{}{name}", f["name"].as_str().unwrap_or_default()));
                }
                if let Some(args) = call["function"]["arguments"].as_str() {
                    f["arguments"] = json!(format!(
                        "{}{args}",
                        f["arguments"].as_str().unwrap_or_default()
                    ));
                }
            }
            if !c.finish_reason.is_null() {
                *finish = c.finish_reason.clone();
            }
        }
    }

    pub fn text(&self) -> String {
        self.choices
            .iter()
            .map(|(content, calls, _)| {
                format!(
                    "{content}{}",
                    if calls.is_empty() {
                        String::new()
                    } else {
                        json!(calls).to_string()
                    }
                )
            })
            .collect()
    }

    pub fn completion(&self, usage: &Usage) -> Value {
        let choices: Vec<Value> = self
            .choices
            .iter()
            .enumerate()
            .map(|(i, (content, calls, finish))| {
                let mut message = json!({"role": "assistant", "content": if content.is_empty() && !calls.is_empty() { Value::Null } else { json!(content) }});
                if !calls.is_empty() {
                    message["tool_calls"] = json!(calls);
                }
                json!({"index": i, "message": message, "finish_reason": finish})
            })
            .collect();
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": usage_json(usage),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_index_out_of_bounds_is_not_followed() {
        let mut acc = Accumulator::default();
        let chunk = |index: u64, call: u64| {
            ChunkHead::of(&json!({"id": "c", "choices": [{"index": index, "delta": {
                "content": "x", "tool_calls": [{"index": call, "function": {"name": "f"}}]}}]}))
        };
        acc.add(&chunk(4_000_000_000, 0));
        acc.add(&chunk(0, 4_000_000_000));
        acc.add(&chunk(1, 0));
        assert_eq!(acc.choices.len(), 2);
        assert_eq!(acc.choices[0].0, "x");
        assert!(acc.choices[0].1.is_empty(), "the far tool call was skipped");
        assert_eq!(acc.choices[1].1.len(), 1);
        assert_eq!(
            acc.text(),
            format!("x{}", r#"x[{"function":{"arguments":"","name":"f"}}]"#)
        );
    }
}
