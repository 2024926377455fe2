//! The usage read models written live (on Postgres, a batch of usage events only goes
//! through the typed connection with `COPY`) equal those a rebuild writes from the log (there
//! the log's first batch also holds the tenants' own events, so it goes through the generic
//! path): usage logs, audit rows, spend totals and credits alike.

use reqwest::StatusCode;
use tollgate_projections::read::dump;

use crate::both;
use crate::helpers::Backend;
use crate::upstream::{ask, openai_answer, spawn_gateway};

both!(usage_read_models_equal_after_rebuild);

async fn usage_read_models_equal_after_rebuild(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 10, 5)).await;
    let tenants = [
        g.tenant("credits", 5.0, &[], None).await,
        g.tenant("credits", 5.0, &[], Some(1.0)).await,
    ];
    for round in 0..6 {
        for t in &tenants {
            // One refused request per tenant too: failures are usage records as well.
            let model = if round == 0 {
                "no-such-model"
            } else {
                "gpt-4o-mini"
            };
            let r = g.chat(&t.token, ask(model)).await;
            let want = if round == 0 {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            assert_eq!(r.status, want, "{}", r.text);
        }
    }
    for t in &tenants {
        assert_eq!(g.usage_logs(&t.project, 6).await.len(), 6);
    }
    let live = dump(&g.t.app.db).await.unwrap();
    for table in ["rm_usage_logs", "rm_spend", "rm_audit"] {
        assert!(!live[table].is_empty(), "{table} has rows");
    }
    assert_eq!(live["rm_usage_logs"].len(), 12);
    g.t.app.projector.rebuild().await.unwrap();
    let rebuilt = dump(&g.t.app.db).await.unwrap();
    assert_eq!(live, rebuilt);
}
