//! Postgres array literals (`{1,NULL,"a \"b\""}`) for binding a column of rows as one text
//! parameter. Every text element is quoted, so commas, braces, spaces and the word NULL in
//! a value stay data.

/// A value bound into a multi-row statement: an element of an array literal (here) or a
/// field of a `COPY` row (`copy`).
pub(crate) enum Val {
    I(i64),
    T(String),
    OI(Option<i64>),
    OT(Option<String>),
}

/// Appends one element to an array literal under construction.
pub(crate) fn push(array: &mut String, v: &Val) {
    match v {
        Val::I(n) | Val::OI(Some(n)) => array.push_str(itoa::Buffer::new().format(*n)),
        Val::T(t) | Val::OT(Some(t)) => quote(array, t),
        Val::OI(None) | Val::OT(None) => array.push_str("NULL"),
    }
}

/// Postgres text cannot hold NUL, which JSON text (and so an event) can: it is stored as
/// U+FFFD, as the replacement character it is, so that one client's odd model name cannot
/// stop the projector (every retry of the batch would fail the same way).
pub(crate) fn storable(t: &str) -> std::borrow::Cow<'_, str> {
    match t.contains('\0') {
        true => t.replace('\0', "\u{fffd}").into(),
        false => t.into(),
    }
}

/// `storable` for an owned string, copied only when it holds NUL.
pub(crate) fn storable_owned(t: String) -> String {
    match t.contains('\0') {
        true => t.replace('\0', "\u{fffd}"),
        false => t,
    }
}

fn quote(array: &mut String, t: &str) {
    let t = &*storable(t);
    array.reserve(t.len() + 2);
    array.push('"');
    // Ids and model names rarely hold a quote or a backslash: copied whole, not char by char.
    if !t.bytes().any(|b| b == b'"' || b == b'\\') {
        array.push_str(t);
        array.push('"');
        return;
    }
    for c in t.chars() {
        if c == '"' || c == '\\' {
            array.push('\\');
        }
        array.push(c);
    }
    array.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(vals: &[Val]) -> String {
        let mut s = String::from("{");
        for (i, v) in vals.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push(&mut s, v);
        }
        s.push('}');
        s
    }

    #[test]
    fn quotes_text_and_spells_null() {
        let vals = [
            Val::T("a,b {c}".into()),
            Val::T(r#"say "hi" \ bye"#.into()),
            Val::OT(None),
            Val::T("NULL".into()),
            Val::T(String::new()),
            Val::T("nul\0".into()),
        ];
        assert_eq!(
            literal(&vals),
            "{\"a,b {c}\",\"say \\\"hi\\\" \\\\ bye\",NULL,\"NULL\",\"\",\"nul\u{fffd}\"}"
        );
        assert_eq!(
            literal(&[Val::I(-3), Val::OI(None), Val::OI(Some(7))]),
            "{-3,NULL,7}"
        );
    }
}
