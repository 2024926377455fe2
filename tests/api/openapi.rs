/// `schemas/openapi.json` is the served document; regenerate with
/// `cargo run -- openapi > schemas/openapi.json`.
#[test]
fn committed_openapi_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/openapi.json");
    let generated = tollgate::api::openapi::document();
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(generated.contains("/api/keys/{id}/rotate"));
    assert_eq!(
        committed, generated,
        "schemas/openapi.json is stale: run `cargo run -- openapi > schemas/openapi.json`"
    );
}
