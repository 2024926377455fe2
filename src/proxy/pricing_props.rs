//! Properties of the pricing arithmetic over any inputs: no wrap or panic, costs within
//! `[0, MAX_NANOS]`, and a reservation that covers any usage within the request's bounds.

use proptest::prelude::*;

use super::*;

fn any_price() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        -1e6..1e6f64,
        0.0..1000.0f64,
    ]
}

fn offer(input: f64, output: f64, cached: Option<f64>) -> ProviderOffer {
    ProviderOffer {
        provider: tollgate_aggregates::Provider::OpenAi,
        model: "m".into(),
        input_usd_per_mtok: input,
        output_usd_per_mtok: output,
        cached_input_usd_per_mtok: cached,
        cache_write_usd_per_mtok: None,
    }
}

proptest! {
    #[test]
    fn any_cost_is_within_the_ceiling(
        input in any_price(),
        output in any_price(),
        cached_price in proptest::option::of(any_price()),
        prompt in any::<u64>(),
        completion in any::<u64>(),
        cached in any::<u64>(),
        percent in any_price(),
    ) {
        let o = offer(input, output, cached_price);
        let usage = Usage { prompt_tokens: prompt, completion_tokens: completion, cached_tokens: cached, reasoning_tokens: 0, cache_creation_tokens: completion };
        let c = cost(&o, &usage);
        prop_assert!((0..=MAX_NANOS).contains(&c));
        let f = fee(c, percent);
        prop_assert!((0..=MAX_NANOS).contains(&f));
        let r = reservation(&o, prompt, completion);
        prop_assert!((0..=MAX_NANOS).contains(&r));
        // Whatever the request's counts, the output bound saturates instead of wrapping.
        let model = ModelEntry {
            id: "m".into(), name: "m".into(), kind: crate::proxy::catalog::ModelKind::Chat,
            context_window: 0, max_output_tokens: cached,
            capabilities: crate::proxy::catalog::Capabilities {
                tools: false, json_mode: false, streaming: false, vision: false,
            },
            providers: vec![],
        };
        let most = max_output_tokens(Some(prompt), Some(completion), &model);
        prop_assert_eq!(most, prompt.saturating_mul(completion.max(1)));
        let _ = usd_short(c);
    }

    #[test]
    fn the_reservation_covers_any_usage_within_the_bounds(
        input in 0.0..1000.0f64,
        output in 0.0..1000.0f64,
        cached_share in 0.0..=1.0f64,
        prompt_bound in 0..1_000_000_000u64,
        max_output in 0..200_000_000u64,
        prompt_frac in 0.0..=1.0f64,
        completion_frac in 0.0..=1.0f64,
        cached_frac in 0.0..=1.0f64,
        written_frac in 0.0..=1.0f64,
        write_share in proptest::option::of(0.0..2.0f64),
        percent in 0.0..100.0f64,
    ) {
        // Cache reads at a price no higher than input (what every provider charges); cache
        // writes above or below it.
        let mut o = offer(input, output, Some(input * cached_share));
        o.cache_write_usd_per_mtok = write_share.map(|w| input * w);
        let prompt = (prompt_bound as f64 * prompt_frac) as u64;
        let usage = Usage {
            prompt_tokens: prompt.min(prompt_bound),
            completion_tokens: ((max_output as f64 * completion_frac) as u64).min(max_output),
            cached_tokens: (prompt as f64 * cached_frac) as u64,
            reasoning_tokens: 0,
            cache_creation_tokens: (prompt as f64 * written_frac) as u64,
        };
        let held = reservation(&o, prompt_bound, max_output);
        let real = cost(&o, &usage);
        prop_assert!(real <= held, "{real} > {held}");
        prop_assert!(add_nanos(real, fee(real, percent)) <= add_nanos(held, fee(held, percent)));
    }
}
