use super::*;
use serde_json::json;

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", "application/json".parse().unwrap());
    h
}

/// What both readings give, side by side.
fn fields(
    r: &ChatRequest,
) -> (
    u64,
    Option<u64>,
    Option<u64>,
    String,
    Option<bool>,
    Option<Value>,
) {
    let b = &r.body;
    (
        r.prompt_bound,
        r.max_output,
        r.n,
        b.model.clone(),
        b.stream,
        b.stream_options.clone(),
    )
}

#[test]
fn the_usual_requests_are_read_without_a_tree_and_as_the_tree_reads_them() {
    let cases = [
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello"}], "max_tokens": 64}),
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true,
               "stream_options": {"include_usage": true}, "temperature": 0.2, "top_p": 1, "n": 2,
               "max_completion_tokens": 10, "max_tokens": 99, "user": "u", "metadata": {"a": [1]}}),
        json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "é"},
               {"type": "image_url", "image_url": {"url": "x"}}]}],
               "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
               "stream": null, "stream_options": null, "temperature": null, "n": null}),
        json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "t"}]}, 5]}),
    ];
    for v in cases {
        let raw = Bytes::from(v.to_string());
        let typed = ChatRequest::typed(&raw).unwrap_or_else(|| panic!("read without a tree: {v}"));
        let tree = ChatRequest::of_tree(raw.clone(), v.clone());
        assert_eq!(fields(&typed), fields(&tree), "{v}");
        assert_eq!(
            typed.body.json().expect("a tree"),
            &v,
            "the tree, when asked for, is the request's"
        );
    }
}

#[test]
fn other_shapes_go_through_the_tree_and_keep_their_errors() {
    let error = |text: &str| match ChatRequest::read(&headers(), &Bytes::from(text.to_string())) {
        Err(ProxyError::InvalidRequest { message, .. }) => message,
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("accepted: {text}"),
    };
    let msgs = r#""messages": [{"role": "user", "content": "hi"}]"#;
    assert_eq!(
        error(&format!(r#"{{"model": 5, {msgs}}}"#)),
        "model is required"
    );
    assert_eq!(
        error(&format!(r#"{{"model": " ", {msgs}}}"#)),
        "model is required"
    );
    assert_eq!(
        error(r#"{"model": "m", "messages": []}"#),
        "messages must be a non-empty array"
    );
    assert_eq!(
        error(r#"{"model": "m", "messages": {}}"#),
        "messages must be a non-empty array"
    );
    assert_eq!(
        error(&format!(r#"{{"model": "m", {msgs}, "stream": "yes"}}"#)),
        "stream must be a boolean"
    );
    assert_eq!(
        error(&format!(r#"{{"model": "m", {msgs}, "top_p": "1"}}"#)),
        "top_p must be a number"
    );
    for bad in ["0", "-1", "2.5", "\"3\""] {
        assert_eq!(
            error(&format!(r#"{{"model": "m", {msgs}, "max_tokens": {bad}}}"#)),
            "max_tokens must be a positive integer"
        );
    }
    assert_eq!(
        error(r#"[{"model": "m"}]"#),
        "the body must be a JSON object"
    );
    assert!(error(r#"{"model": "m""#).starts_with("malformed JSON"));
    let wrong_type = headers_without_json();
    assert!(matches!(
        ChatRequest::read(&wrong_type, &Bytes::from_static(b"{}")),
        Err(ProxyError::UnsupportedMediaType(_))
    ));
}

fn headers_without_json() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", "text/plain".parse().unwrap());
    h
}

#[test]
fn a_repeated_member_is_read_as_the_tree_reads_it() {
    // The last `model` wins, as in the tree; the typed reading declines repeated members.
    let text = r#"{"model": "a", "model": "b", "messages": [{"role": "user", "content": "hi"}]}"#;
    let raw = Bytes::from_static(text.as_bytes());
    assert!(ChatRequest::typed(&raw).is_none());
    let read = ChatRequest::read(&headers(), &raw).expect("valid");
    assert_eq!(read.body.model, "b");
    assert!(!read.streaming());
}

#[test]
fn text_the_tree_refuses_is_refused_though_the_fields_read_are_fine() {
    // Numbers beyond a float's range, lone surrogates, invalid UTF-8 and nesting deeper than
    // the tree allows, in members the reading does not use, at the top and inside a message.
    let msgs = r#""messages": [{"role": "user", "content": "hi"}]"#;
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let bodies: Vec<Vec<u8>> = vec![
        format!(r#"{{"model": "m", {msgs}, "x": 1e400}}"#).into_bytes(),
        format!(r#"{{"model": "m", {msgs}, "user": "\ud800"}}"#).into_bytes(),
        [format!(r#"{{"model": "m", {msgs}, "user": ""#).as_bytes(), b"\xff\xfe\"}"].concat(),
        format!(r#"{{"model": "m", {msgs}, "x": {deep}}}"#).into_bytes(),
        br#"{"model": "m", "messages": [{"role": "user", "content": "hi", "name": "\udfff"}]}"#
            .to_vec(),
        br#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a", "x": 1e999}]}]}"#
            .to_vec(),
    ];
    for body in bodies {
        let raw = Bytes::from(body);
        assert!(ChatRequest::typed(&raw).is_none(), "{raw:?}");
        match ChatRequest::read(&headers(), &raw) {
            Err(ProxyError::InvalidRequest { message, code, .. }) => {
                assert!(message.starts_with("malformed JSON"), "{message}");
                assert_eq!(code, "invalid_json");
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("accepted: {raw:?}"),
        }
    }
}

#[test]
fn a_repeated_member_turns_the_bytes_pass_through_off() {
    let text = r#"{"model": "gpt-4o-mini", "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#;
    let read = ChatRequest::read(&headers(), &Bytes::from_static(text.as_bytes())).expect("valid");
    assert!(
        !read.body.pass_through,
        "an upstream might keep the first value"
    );
    let usual = r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#;
    let read = ChatRequest::read(&headers(), &Bytes::from_static(usual.as_bytes())).expect("valid");
    assert!(read.body.pass_through);
}

#[test]
fn counts_above_their_bounds_are_refused_naming_the_member() {
    let msgs = r#""messages": [{"role": "user", "content": "hi"}]"#;
    let cases = [
        ("n", "1000000000000", "n must be at most 128"),
        ("n", "129", "n must be at most 128"),
        (
            "max_tokens",
            "18446744073709551615",
            "max_tokens must be at most 1000000",
        ),
        (
            "max_completion_tokens",
            "1000001",
            "max_completion_tokens must be at most 1000000",
        ),
    ];
    for (field, value, expected) in cases {
        let raw = Bytes::from(format!(r#"{{"model": "m", {msgs}, "{field}": {value}}}"#));
        match ChatRequest::read(&headers(), &raw) {
            Err(ProxyError::InvalidRequest { message, param, .. }) => {
                assert_eq!(message, expected);
                assert_eq!(param.as_deref(), Some(field));
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("accepted {field}: {value}"),
        }
    }
    // Above u64 (a float to the parser) and negative: not a positive integer.
    for value in ["18446744073709551616", "-1", "1e30"] {
        let raw = Bytes::from(format!(r#"{{"model": "m", {msgs}, "n": {value}}}"#));
        assert!(ChatRequest::read(&headers(), &raw).is_err(), "{value}");
    }
    // At the bounds: read without a tree.
    let raw = Bytes::from(format!(
        r#"{{"model": "m", {msgs}, "n": 128, "max_tokens": 1000000}}"#
    ));
    let read = ChatRequest::typed(&raw).expect("within bounds");
    assert_eq!((read.n, read.max_output), (Some(128), Some(1_000_000)));
}

#[test]
fn the_larger_output_limit_is_reserved() {
    let msgs = r#""messages": [{"role": "user", "content": "hi"}]"#;
    for (members, max, param) in [
        (
            r#""max_completion_tokens": 10, "max_tokens": 99"#,
            99,
            "max_tokens",
        ),
        (
            r#""max_completion_tokens": 99, "max_tokens": 10"#,
            99,
            "max_completion_tokens",
        ),
        (r#""max_tokens": 7"#, 7, "max_tokens"),
    ] {
        let raw = Bytes::from(format!(r#"{{"model": "m", {msgs}, {members}}}"#));
        let read = ChatRequest::read(&headers(), &raw).unwrap();
        assert_eq!((read.max_output, read.max_output_param), (Some(max), param));
    }
}
