//! Tool calls from the mock: a request that offers tools (chat, Messages or Responses shape)
//! and does not end with a tool's result is answered with a call to its first tool, so SDK
//! tests and benchmarks can run a tool round trip.

use serde_json::Value;

/// The arguments of every call the mock makes.
pub const ARGUMENTS: &str = r#"{"city":"Paris"}"#;

/// The name of the tool to call, if the request asks for one.
pub fn to_call(body: &[u8]) -> Option<String> {
    // Most requests offer no tools: they are not parsed a second time.
    if !body.windows(7).any(|w| w == b"\"tools\"") {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let first = &v["tools"][0];
    let name = first["function"]["name"]
        .as_str()
        .or(first["name"].as_str())?;
    let last_message = v["messages"].as_array().and_then(|m| m.last());
    let answered = last_message.is_some_and(|m| {
        m["role"] == "tool"
            || m["content"]
                .as_array()
                .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"))
    }) || v["input"]
        .as_array()
        .and_then(|i| i.last())
        .is_some_and(|i| i["type"] == "function_call_output");
    (!answered).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::to_call;

    #[test]
    fn a_call_until_the_result_comes_back() {
        let chat = br#"{"tools":[{"type":"function","function":{"name":"w"}}],"messages":[{"role":"user","content":"x"}]}"#;
        assert_eq!(to_call(chat).as_deref(), Some("w"));
        let answered = br#"{"tools":[{"type":"function","function":{"name":"w"}}],"messages":[{"role":"tool","content":"x"}]}"#;
        assert_eq!(to_call(answered), None);
        let anthropic = br#"{"tools":[{"name":"w"}],"messages":[{"role":"user","content":[{"type":"tool_result"}]}]}"#;
        assert_eq!(to_call(anthropic), None);
        let responses = br#"{"tools":[{"type":"function","name":"w"}],"input":"hi"}"#;
        assert_eq!(to_call(responses).as_deref(), Some("w"));
        assert_eq!(to_call(br#"{"messages":[]}"#), None);
    }
}
