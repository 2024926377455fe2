use std::collections::HashSet;

use serde_json::{json, Value};

use super::*;

fn catalog() -> Catalog {
    Catalog::embedded().expect("embedded catalog must load")
}

fn providers_of(offers: &[ProviderOffer]) -> Vec<&str> {
    offers.iter().map(|o| o.provider.id()).collect()
}

/// A minimal valid model entry as JSON, to be tweaked by validation tests.
fn model_json(id: &str) -> Value {
    json!({
        "id": id, "name": id, "kind": "chat", "context_window": 1000, "max_output_tokens": 100,
        "capabilities": {"tools": true, "json_mode": true, "streaming": true, "vision": false},
        "providers": [{"provider": "openai", "model": id,
                       "input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}]
    })
}

fn load(models: Vec<Value>) -> Result<Catalog, String> {
    Catalog::from_json(&json!({ "models": models }).to_string())
}

fn load_err(models: Vec<Value>) -> String {
    load(models).err().unwrap_or_default()
}

/// "entry id <- provider,provider" for a successful resolution, cheapest offer first.
fn resolved(requested: &str) -> String {
    let (entry, offers) = catalog().resolve(requested).expect(requested);
    format!("{} <- {}", entry.id, providers_of(&offers).join(","))
}

fn not_found(requested: &str) -> Result<(Arc<ModelEntry>, Vec<ProviderOffer>), ResolveError> {
    Err(ResolveError::ModelNotFound(requested.to_string()))
}

fn unknown_provider(p: &str) -> Result<(Arc<ModelEntry>, Vec<ProviderOffer>), ResolveError> {
    Err(ResolveError::UnknownProvider(p.to_string()))
}

// ---------------------------------------------------------------- embedded data

#[test]
fn embedded_catalog_loads_and_every_rule_holds() {
    let cat = catalog();
    let n = cat.models().count();
    assert!((30..=45).contains(&n), "{n} entries");
    let (mut ids, mut pairs) = (HashSet::new(), HashSet::new());
    for m in cat.models() {
        let id = m.id.as_str();
        assert!(ids.insert(id), "duplicate id {id}");
        assert!(!m.name.is_empty() && !m.providers.is_empty(), "{id}");
        assert!(m.context_window > 0, "{id}");
        let c = &m.capabilities;
        match m.kind {
            ModelKind::Chat => {
                assert!(m.max_output_tokens > 0, "{id}");
                assert!(m.max_output_tokens <= m.context_window, "{id}");
                assert!(c.streaming, "{id}: chat models stream");
            }
            ModelKind::Embedding => {
                assert_eq!(m.max_output_tokens, 0, "{id}");
                assert!(
                    !c.tools && !c.json_mode && !c.streaming && !c.vision,
                    "{id}"
                );
            }
        }
        for o in &m.providers {
            assert_ne!(o.provider, Provider::Custom, "{id}: {o:?}");
            assert!(pairs.insert((&o.provider, &o.model)), "{id}: {o:?}");
            for p in [o.input_usd_per_mtok, o.output_usd_per_mtok] {
                assert!(p.is_finite() && p >= 0.0, "{id}: {o:?}");
            }
            if let Some(cached) = o.cached_input_usd_per_mtok {
                assert!(cached.is_finite() && cached >= 0.0, "{id}: {o:?}");
                assert!(
                    cached <= o.input_usd_per_mtok,
                    "{id}: cache dearer than input"
                );
            }
            if m.kind == ModelKind::Embedding {
                assert_eq!(o.output_usd_per_mtok, 0.0, "{id}");
            }
            // Every offer is reachable as "provider/provider model name".
            let (entry, offers) = cat.resolve(&format!("{}/{}", o.provider, o.model)).unwrap();
            assert_eq!((entry.id.as_str(), offers), (id, vec![o.clone()]));
        }
        // Every id resolves to itself.
        assert_eq!(cat.resolve(id).unwrap().0.id, id);
        assert_eq!(cat.get(id).map(|e| e.id.as_str()), Some(id));
    }
}

#[test]
fn embedded_catalog_has_required_models() {
    let cat = catalog();
    const REQUIRED: &str = "gpt-5 gpt-5-mini gpt-5-nano gpt-4.1 gpt-4.1-mini gpt-4.1-nano gpt-4o \
        gpt-4o-mini o3 o4-mini text-embedding-3-small text-embedding-3-large claude-opus-4-1 \
        claude-sonnet-4-5 claude-haiku-4-5 claude-3-5-haiku gemini-2.5-pro gemini-2.5-flash \
        gemini-2.5-flash-lite gemini-2.0-flash mistral-large-latest mistral-small-latest \
        codestral-latest deepseek-chat deepseek-reasoner grok-4 grok-3-mini \
        llama-3.3-70b-instruct llama-3.3-70b-instruct-free";
    for id in REQUIRED.split_whitespace() {
        assert!(cat.get(id).is_some(), "missing {id}");
    }
    let providers: HashSet<Provider> = cat
        .models()
        .flat_map(|m| m.providers.iter().map(|o| o.provider))
        .collect();
    for p in Provider::ALL.into_iter().filter(|&p| p != Provider::Custom) {
        assert!(providers.contains(&p), "no model offered by {p}");
    }
    // At least one model with several differently priced offers, and at least one free model.
    let priced = |m: &ModelEntry| -> HashSet<String> {
        let price = |o: &ProviderOffer| o.input_usd_per_mtok + o.output_usd_per_mtok;
        m.providers.iter().map(|o| price(o).to_string()).collect()
    };
    assert!(cat.models().any(|m| priced(m).len() > 1));
    assert!(cat
        .models()
        .any(|m| m.providers.iter().all(ProviderOffer::is_free)));
    let embedding = cat.get("text-embedding-3-small").map(|m| m.kind);
    assert_eq!(embedding, Some(ModelKind::Embedding));
}

#[test]
fn models_keep_file_order() {
    let file: CatalogFile = serde_json::from_str(EMBEDDED_CATALOG).unwrap();
    assert!(catalog().models().eq(file.models.iter()));
    let first = catalog().models().next().map(|m| m.id.clone());
    assert_eq!(first.as_deref(), Some("gpt-5"));
}

// ---------------------------------------------------------------- resolve

#[test]
fn resolve_bare_id() {
    let (entry, offers) = catalog().resolve("gpt-4.1").unwrap();
    assert_eq!(entry.id, "gpt-4.1");
    assert_eq!(offers.len(), 1);
    assert_eq!(
        (offers[0].provider.id(), offers[0].model.as_str()),
        ("openai", "gpt-4.1")
    );
    assert_eq!(offers[0].input_usd_per_mtok, 2.0);
    assert_eq!(resolved("o3"), "o3 <- openai");
}

#[test]
fn resolve_provider_prefixed_id() {
    let (entry, offers) = catalog().resolve("anthropic/claude-sonnet-4-5").unwrap();
    assert_eq!(entry.id, "claude-sonnet-4-5");
    assert_eq!(providers_of(&offers), ["anthropic"]);
    assert_eq!(offers[0].model, "claude-sonnet-4-5-20250929");

    let (entry, offers) = catalog().resolve("openrouter/gpt-4o").unwrap();
    assert_eq!(entry.id, "gpt-4o");
    assert_eq!(offers[0].model, "openai/gpt-4o");
    assert_eq!(resolved("openai/gpt-4o"), "gpt-4o <- openai");
}

#[test]
fn resolve_provider_model_name() {
    assert_eq!(
        resolved("claude-sonnet-4-5-20250929"),
        "claude-sonnet-4-5 <- anthropic,openrouter"
    );
    assert_eq!(
        resolved("anthropic/claude-sonnet-4-5-20250929"),
        "claude-sonnet-4-5 <- anthropic"
    );
    let (entry, offers) = catalog().resolve("groq/llama-3.3-70b-versatile").unwrap();
    assert_eq!(entry.id, "llama-3.3-70b-instruct");
    assert_eq!(offers[0].model, "llama-3.3-70b-versatile");
    assert_eq!(resolved("grok-4-0709"), "grok-4 <- xai");
}

#[test]
fn resolve_multi_provider_cheapest_first() {
    let (entry, offers) = catalog().resolve("llama-3.3-70b-instruct").unwrap();
    assert_eq!(entry.id, "llama-3.3-70b-instruct");
    assert_eq!(providers_of(&offers), ["groq", "together"]);
    let total = |o: &ProviderOffer| o.input_usd_per_mtok + o.output_usd_per_mtok;
    assert!(total(&offers[0]) < total(&offers[1]), "{offers:?}");
    // The cheaper offer is listed second in the file but still comes first.
    assert_eq!(
        resolved("deepseek-v3"),
        "deepseek-v3 <- openrouter,together"
    );
}

#[test]
fn resolve_price_ties_are_broken_by_provider_id() {
    assert_eq!(resolved("gpt-4o"), "gpt-4o <- openai,openrouter");
    assert_eq!(resolved("gpt-oss-120b"), "gpt-oss-120b <- groq,together");

    let mut a = model_json("tie");
    a["providers"] = json!([
        {"provider": "together", "model": "t", "input_usd_per_mtok": 1.0, "output_usd_per_mtok": 1.0},
        {"provider": "groq", "model": "g", "input_usd_per_mtok": 0.5, "output_usd_per_mtok": 1.5},
        {"provider": "deepseek", "model": "d", "input_usd_per_mtok": 3.0, "output_usd_per_mtok": 0.0}
    ]);
    let (_, offers) = load(vec![a]).unwrap().resolve("tie").unwrap();
    assert_eq!(providers_of(&offers), ["groq", "together", "deepseek"]);
}

#[test]
fn resolve_model_part_containing_slash() {
    assert_eq!(
        resolved("together/meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        "llama-3.3-70b-instruct <- together"
    );
    let (entry, offers) = catalog()
        .resolve("openrouter/meta-llama/llama-3.3-70b-instruct:free")
        .unwrap();
    assert_eq!(entry.id, "llama-3.3-70b-instruct-free");
    assert!(offers[0].is_free());
}

#[test]
fn resolve_slash_name_without_provider_prefix() {
    // "meta-llama" is not a provider: the whole string is a provider model name.
    let (entry, offers) = catalog()
        .resolve("meta-llama/llama-3.3-70b-instruct:free")
        .unwrap();
    assert_eq!(entry.id, "llama-3.3-70b-instruct-free");
    assert_eq!(providers_of(&offers), ["openrouter"]);
    assert!(offers.iter().all(ProviderOffer::is_free));
    assert_eq!(
        resolved("Qwen/Qwen3-235B-A22B-Instruct-2507-tput"),
        "qwen3-235b-a22b-instruct-2507 <- together"
    );
}

#[test]
fn resolve_known_prefix_falls_back_to_whole_name() {
    // "openai" is a provider, but OpenAI does not serve gpt-oss; groq and together name it so.
    assert_eq!(
        resolved("openai/gpt-oss-120b"),
        "gpt-oss-120b <- groq,together"
    );
    assert_eq!(
        resolved("openai/gpt-oss-20b:free"),
        "gpt-oss-20b-free <- openrouter"
    );
}

#[test]
fn resolve_custom() {
    let (entry, offers) = catalog().resolve("custom/my-org/finetune:v2").unwrap();
    assert_eq!(entry.id, "custom/my-org/finetune:v2");
    assert_eq!(entry.kind, ModelKind::Chat);
    assert_eq!(entry.context_window, 0);
    let c = &entry.capabilities;
    assert!(c.tools && c.json_mode && c.streaming && c.vision);
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].provider, Provider::Custom);
    assert_eq!(offers[0].model, "my-org/finetune:v2");
    assert!(offers[0].is_free());
    assert_eq!(entry.providers, offers);
    // Even when the name matches a catalog model, "custom/" never uses the catalog.
    assert_eq!(resolved("custom/gpt-4o"), "custom/gpt-4o <- custom");
    assert_eq!(catalog().resolve("custom/"), not_found("custom/"));
}

#[test]
fn resolve_unknown_model() {
    let cat = catalog();
    let plain = [
        "gpt-99",
        "",
        "GPT-4O",
        "openai/",
        "groq/gpt-4o",
        "anthropic/gpt-5",
    ];
    // ... and prefixes that cannot be provider ids.
    let odd_prefix = ["Qwen/Qwen9", "example.com/model", "/gpt-4o", "my_org/model"];
    for s in plain.into_iter().chain(odd_prefix) {
        assert_eq!(cat.resolve(s), not_found(s), "{s}");
    }
    let msg = ResolveError::ModelNotFound("x".into()).to_string();
    assert_eq!(msg, "model 'x' not found");
}

#[test]
fn resolve_unknown_provider() {
    let cat = catalog();
    assert_eq!(cat.resolve("azure/gpt-4o"), unknown_provider("azure"));
    assert_eq!(
        cat.resolve("fireworks-2/llama/x"),
        unknown_provider("fireworks-2")
    );
    assert_eq!(
        cat.resolve("meta-llama/no-such-model"),
        unknown_provider("meta-llama")
    );
    let msg = ResolveError::UnknownProvider("azure".into()).to_string();
    assert_eq!(msg, "unknown provider 'azure'");
}

#[test]
fn is_free_needs_both_prices_zero() {
    let offer = |input: f64, output: f64| -> ProviderOffer {
        let v = json!({"provider": "groq", "model": "m",
                       "input_usd_per_mtok": input, "output_usd_per_mtok": output});
        serde_json::from_value(v).unwrap()
    };
    assert!(offer(0.0, 0.0).is_free());
    assert!(!offer(0.0, 0.1).is_free());
    assert!(!offer(0.1, 0.0).is_free());
}

// ---------------------------------------------------------------- validation

#[test]
fn valid_minimal_catalog_loads() {
    let cat = load(vec![model_json("a"), model_json("b")]).unwrap();
    assert_eq!(cat.models().count(), 2);
    let offer = &cat.get("a").unwrap().providers[0];
    assert!(offer.cached_input_usd_per_mtok.is_none());
    assert!(load(vec![]).unwrap().get("a").is_none());
}

#[test]
fn rejects_duplicate_id() {
    let mut b = model_json("a");
    b["providers"][0]["model"] = json!("other");
    let err = load_err(vec![model_json("a"), b]);
    assert!(err.contains("duplicate model id 'a'"), "{err}");
}

#[test]
fn rejects_negative_or_non_finite_price() {
    let fields = [
        "input_usd_per_mtok",
        "output_usd_per_mtok",
        "cached_input_usd_per_mtok",
    ];
    for field in fields {
        let mut m = model_json("a");
        m["providers"][0][field] = json!(-0.5);
        let err = load_err(vec![m]);
        assert!(err.contains(field) && err.contains("'a'"), "{err}");
    }
    let text = model_json("a").to_string().replace("2.0", "1e999");
    assert!(Catalog::from_json(&format!(r#"{{"models": [{text}]}}"#)).is_err());
}

#[test]
fn rejects_unknown_provider() {
    for provider in ["azure", "custom", "OpenAI", ""] {
        let mut m = model_json("a");
        m["providers"][0]["provider"] = json!(provider);
        let err = load_err(vec![m]);
        assert!(
            err.contains(&format!("unknown provider '{provider}'")),
            "{err}"
        );
    }
}

#[test]
fn rejects_other_invalid_entries() {
    let mut no_providers = model_json("a");
    no_providers["providers"] = json!([]);
    assert!(load_err(vec![no_providers]).contains("no providers"));

    let mut twice = model_json("a");
    twice["providers"] = json!([twice["providers"][0].clone(), twice["providers"][0].clone()]);
    assert!(load_err(vec![twice]).contains("listed twice"));

    let mut shared = model_json("b");
    shared["providers"][0]["model"] = json!("a");
    assert!(load_err(vec![model_json("a"), shared]).contains("already listed"));

    let mut empty_name = model_json("a");
    empty_name["providers"][0]["model"] = json!("");
    assert!(load_err(vec![empty_name]).contains("empty model name"));

    for id in ["", "has space", "custom/x"] {
        assert!(
            load_err(vec![model_json(id)]).contains("invalid model id"),
            "{id}"
        );
    }

    let mut bad_kind = model_json("a");
    bad_kind["kind"] = json!("image");
    assert!(load(vec![bad_kind]).is_err());

    let mut typo = model_json("a");
    typo["providers"][0]["cached_input_usd_per_mtoks"] = json!(0.1);
    assert!(load(vec![typo]).is_err());

    assert!(Catalog::from_json("not json").is_err());
    assert!(Catalog::from_json(r#"{"model": []}"#).is_err());
}
