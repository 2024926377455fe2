//! Text that JSON carries but Postgres cannot store (NUL) reaches the usage log without
//! stopping the projector: a batch that failed on it would fail on every retry, and every
//! read model would stall behind it.

use reqwest::StatusCode;

use crate::both;
use crate::errors::{assert_error, assert_logged};
use crate::helpers::Backend;
use crate::upstream::{ask, openai_answer, spawn_gateway};

both!(a_nul_in_a_model_name_is_logged_and_projection_goes_on);

async fn a_nul_in_a_model_name_is_logged_and_projection_goes_on(backend: Backend) {
    let postgres = matches!(backend, Backend::Postgres);
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 10, 5)).await;
    let t = g.tenant("credits", 1.0, &[], None).await;

    let r = g.chat(&t.token, ask("gpt-4o-mini\u{0}x")).await;
    assert_error(&r, StatusCode::NOT_FOUND, "model_not_found", Some("model"));
    let log = assert_logged(&g, &t.project, 1, 404, "model_not_found").await;
    // Postgres text has no NUL: it is stored as the replacement character.
    let stored = if postgres {
        "gpt-4o-mini\u{fffd}x"
    } else {
        "gpt-4o-mini\u{0}x"
    };
    assert_eq!(log["requested_model"], stored, "{log}");

    let r = g.chat(&t.token, ask("gpt-4o-mini")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let logs = g.usage_logs(&t.project, 2).await;
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert_eq!(logs[0]["status"], 200, "{logs:?}");
}
