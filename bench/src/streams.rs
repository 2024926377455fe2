//! Time to first token, direct, through nginx and through tollgate, taking turns: for a
//! stream whose chunks all come at once (the mock's default, the hardest case for a proxy
//! that forwards each chunk), and for one paced like a model's tokens (1 ms apart), where only
//! the first chunk's way through counts.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::load::{self, Target};

/// (p50, p99) in µs per target; nginx when it is installed.
#[derive(Debug, Default, Clone)]
pub struct Ttft {
    pub direct: (f64, f64),
    pub gateway: (f64, f64),
    pub nginx: Option<(f64, f64)>,
}

/// The instant and the paced figures, and the streamed requests sent through tollgate.
pub async fn measure(
    direct: &Target,
    through: &Target,
    nginx: Option<&Target>,
    duration: Duration,
) -> (Ttft, Ttft, u64) {
    let short = duration < Duration::from_secs(1);
    let ask = |mock: serde_json::Value| {
        Arc::new(
            json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 64, "mock": mock,
                   "messages": [{"role": "user", "content": "Stream to the benchmark."}]})
            .to_string(),
        )
    };
    let instant = ask(json!({}));
    let paced = ask(json!({"chunks": 4, "chunk_delay_ms": 1}));
    let (a, sent_a) = turns(
        direct,
        through,
        nginx,
        &instant,
        if short { 20 } else { 1000 },
    )
    .await;
    let (b, sent_b) = turns(direct, through, nginx, &paced, if short { 10 } else { 300 }).await;
    (a, b, sent_a + sent_b)
}

/// The three targets with `body`, taking turns for `samples` rounds.
async fn turns(
    direct: &Target,
    through: &Target,
    nginx: Option<&Target>,
    body: &Arc<String>,
    samples: usize,
) -> (Ttft, u64) {
    let with = |t: &Target| Target {
        body: body.clone(),
        ..t.clone()
    };
    let (direct, through, nginx) = (with(direct), with(through), nginx.map(with));
    let mut targets = vec![&direct, &through];
    targets.extend(nginx.as_ref());
    let figures = load::ttft(&targets, samples).await;
    let pair = |i: usize| figures.get(i).map(|f| (f.0, f.1));
    let ttft = Ttft {
        direct: pair(0).unwrap_or_default(),
        gateway: pair(1).unwrap_or_default(),
        nginx: pair(2),
    };
    (ttft, figures.get(1).map_or(0, |f| f.2))
}
