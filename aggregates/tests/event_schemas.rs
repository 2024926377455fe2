//! `schemas/events/*.schema.json` match the event types. Regenerate with
//! `TOLLGATE_WRITE_SCHEMAS=1 cargo test -p tollgate-aggregates --test event_schemas`.

#[test]
fn committed_event_schemas_are_current() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/events");
    let write = std::env::var_os("TOLLGATE_WRITE_SCHEMAS").is_some();
    for (aggregate, schema) in tollgate_aggregates::event_schemas() {
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        let path = format!("{dir}/{aggregate}.schema.json");
        if write {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(committed, text, "{path} is stale: see this test's header");
    }
}
