//! The official OpenAI Python SDK's Responses API against a real gateway
//! (`tests/python/test_openai_responses.py`): to an OpenAI model and to an Anthropic model,
//! plain, streamed and with a function tool round trip.

use crate::helpers::Backend;
use crate::upstream::spawn_gateway;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_responses_python_sdk() {
    let python = crate::python();
    let g = spawn_gateway(Backend::Sqlite).await;
    crate::anthropic::upstreams(&g.mock).await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;
    let script = "tests/python/test_openai_responses.py";
    let (ok, report) = crate::run_script(&python, script, &g.t.base, &tenant.token, &[]).await;
    assert!(ok, "{report}");

    // Every request was metered as a Responses request: eight served, one refused.
    let logs = g.usage_logs(&tenant.project, 9).await;
    assert_eq!(logs.len(), 9, "{logs:#?}");
    assert!(
        logs.iter().all(|l| l["endpoint"] == "responses"),
        "{logs:#?}"
    );
    let refused: Vec<_> = logs.iter().filter(|l| l["status"] != 200).collect();
    assert_eq!(refused.len(), 1, "{logs:#?}");
    assert_eq!(refused[0]["status"], 400);
}
