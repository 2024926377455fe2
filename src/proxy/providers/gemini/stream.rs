//! Gemini's streamed chunks to OpenAI chunks (part of the `gemini` translation).

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::translate::{
    bad, candidate_index, candidates_of, field, finish_reason, is_blocked, parse_parts,
    parse_usage, str_of, tool_call, upstream_error,
};
use crate::proxy::providers::types::{TranslateError, Usage};

/// Translates one `streamGenerateContent?alt=sse` stream into OpenAI chunks.
pub struct StreamState {
    model: String,
    id: String,
    created: i64,
    /// Function calls emitted so far per candidate (absent before the candidate's first chunk).
    calls: BTreeMap<u64, usize>,
    usage: Usage,
}

impl StreamState {
    pub fn new(model: &str, id: &str, created: i64) -> Self {
        let (model, id) = (model.to_string(), id.to_string());
        Self {
            model,
            id,
            created,
            calls: BTreeMap::new(),
            usage: Usage::default(),
        }
    }

    /// One SSE `data:` payload (a partial GenerateContentResponse)
    /// -> OpenAI "chat.completion.chunk" objects.
    pub fn on_chunk(&mut self, data: &Value) -> Result<Vec<Value>, TranslateError> {
        let obj = data
            .as_object()
            .ok_or_else(|| bad("stream chunk is not a JSON object"))?;
        if obj.contains_key("error") {
            return Err(upstream_error(data));
        }
        if let Some(meta) = field(data, "usageMetadata") {
            self.usage = parse_usage(Some(meta))?;
        }
        let candidates = candidates_of(obj)?;
        let mut out = Vec::new();
        if candidates.is_empty() && is_blocked(obj) {
            let delta = self.start_delta(0);
            out.push(self.chunk(0, delta, Some("content_filter")));
        }
        for (pos, candidate) in candidates.iter().enumerate() {
            let index = candidate_index(candidate, pos)?;
            let parsed = parse_parts(candidate)?;
            let mut delta = self.start_delta(index);
            if let Some(text) = parsed.text.filter(|t| !t.is_empty()) {
                delta.insert("content".into(), json!(text));
            }
            let emitted = self.calls.entry(index).or_insert(0);
            if !parsed.calls.is_empty() {
                let calls = parsed.calls.iter().enumerate().map(|(k, (name, args))| {
                    let mut call = tool_call(index, *emitted + k, name, args);
                    call["index"] = json!(*emitted + k);
                    call
                });
                let calls: Vec<Value> = calls.collect();
                *emitted += calls.len();
                delta.insert("tool_calls".into(), Value::Array(calls));
            }
            let has_calls = *emitted > 0;
            let finish = str_of(candidate, "finishReason").map(|r| finish_reason(r, has_calls));
            if !delta.is_empty() || finish.is_some() {
                out.push(self.chunk(index, delta, finish));
            }
        }
        Ok(out)
    }

    /// Latest usage seen (Gemini repeats cumulative usageMetadata; keep the latest).
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// An empty delta, carrying the assistant role on a candidate's first chunk.
    fn start_delta(&mut self, index: u64) -> Map<String, Value> {
        let mut delta = Map::new();
        if let Entry::Vacant(slot) = self.calls.entry(index) {
            slot.insert(0);
            delta.insert("role".into(), json!("assistant"));
        }
        delta
    }

    fn chunk(&self, index: u64, delta: Map<String, Value>, finish: Option<&str>) -> Value {
        let choice = json!({"index": index, "delta": delta, "finish_reason": finish});
        json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "choices": [choice]})
    }
}
