//! A project's default fallback chains: for a requested model, the models tried after it when
//! it fails and the request lists no `models` of its own.

use std::collections::BTreeMap;

use crate::DomainError;

/// Requested model -> the models tried after it, in order.
pub type Fallbacks = BTreeMap<String, Vec<String>>;

/// Models a project may give chains for.
pub const MAX_CHAINS: usize = 100;
/// Models after the requested one: with it, as many as a request may list (five).
pub const MAX_CHAIN_LENGTH: usize = 4;
/// The longest model name accepted.
const MAX_MODEL_NAME: usize = 200;

/// Chains are checked for shape only: whether a model is in the catalog and routable is the
/// gateway's to say, and a model it cannot serve when the chain is used is skipped.
pub fn validate(fallbacks: &Fallbacks) -> Result<(), DomainError> {
    let bad = |message: String| Err(DomainError::invalid("fallbacks", message));
    if fallbacks.len() > MAX_CHAINS {
        return bad(format!("fallbacks holds at most {MAX_CHAINS} models"));
    }
    for (model, chain) in fallbacks {
        for name in std::iter::once(model).chain(chain) {
            let plain = !name.is_empty()
                && name.len() <= MAX_MODEL_NAME
                && !name.chars().any(|c| c.is_whitespace() || c.is_control());
            if !plain {
                return bad(format!(
                    "'{}' is not a model name (1-{MAX_MODEL_NAME} characters, no spaces)",
                    name.escape_debug()
                ));
            }
        }
        if chain.is_empty() || chain.len() > MAX_CHAIN_LENGTH {
            return bad(format!(
                "the chain of '{model}' must list 1 to {MAX_CHAIN_LENGTH} models"
            ));
        }
        if chain.contains(model) {
            return bad(format!("the chain of '{model}' lists '{model}' itself"));
        }
        let mut seen = chain.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != chain.len() {
            return bad(format!("the chain of '{model}' lists a model twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chains(pairs: &[(&str, &[&str])]) -> Fallbacks {
        pairs
            .iter()
            .map(|(m, c)| (m.to_string(), c.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn plain_chains_pass_and_malformed_ones_name_the_fault() {
        let ok = chains(&[("gpt-4o", &["claude-sonnet-4-5", "gemini-2.0-flash"])]);
        assert!(validate(&ok).is_ok());
        assert!(validate(&Fallbacks::new()).is_ok(), "none at all");
        let faults = [
            (chains(&[("gpt-4o", &[])]), "1 to 4"),
            (chains(&[("gpt-4o", &["a", "b", "c", "d", "e"])]), "1 to 4"),
            (chains(&[("gpt-4o", &["gpt-4o"])]), "itself"),
            (chains(&[("gpt-4o", &["a", "a"])]), "twice"),
            (chains(&[("gpt 4o", &["a"])]), "not a model name"),
            (chains(&[("gpt-4o", &[""])]), "not a model name"),
        ];
        for (f, says) in faults {
            let err = validate(&f).expect_err("refused").to_string();
            assert!(err.contains(says), "{err}");
        }
        let many: Fallbacks = (0..=MAX_CHAINS)
            .map(|i| (format!("m{i}"), vec!["x".to_string()]))
            .collect();
        assert!(validate(&many).is_err());
    }
}
