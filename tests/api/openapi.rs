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

/// What validators and generated clients need of the served document: one id per operation,
/// the shared errors documented, and bodies required only where the server requires them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_document_has_unique_ids_and_documents_errors() {
    let t = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    let doc = t.get("/api/openapi.json", "").await;
    assert_eq!(doc.status, reqwest::StatusCode::OK);
    let doc = doc.body;
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap().to_string();
            assert!(ids.insert(id.clone()), "{id} repeats ({method} {path})");
            let responses = op["responses"].as_object().unwrap();
            for status in ["400", "401", "403"] {
                assert!(responses.contains_key(status), "{method} {path}: {status}");
            }
            if op.get("requestBody").is_some() {
                for status in ["413", "415"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path}: 404");
            }
        }
    }
    assert_eq!(ids.len(), 35);
    let rotate = &doc["paths"]["/api/keys/{id}/rotate"]["post"]["requestBody"];
    assert_eq!(rotate["required"], false, "{rotate}");
    let payload = &doc["components"]["schemas"]["AuditEvent"]["properties"]["payload"];
    assert_eq!(
        payload["oneOf"],
        serde_json::json!([{"type": "object"}, {"type": "string"}])
    );
}
