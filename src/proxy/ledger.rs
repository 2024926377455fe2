//! Money in memory: per-key spend against its limit and per-organization credit balances.
//! A request reserves its maximum cost before it is forwarded and settles to the real cost
//! afterwards, so concurrent requests can never overshoot by more than what is in flight.

use tollgate_aggregates::types::{add_nanos, clamp_nanos, MAX_NANOS};

use super::FastMap;

/// An amount to hold or charge: never negative (a negative hold would make room for others),
/// never above the money ceiling.
fn amount(v: i64) -> i64 {
    v.clamp(0, MAX_NANOS)
}

/// An exact sum brought back into money's range, for messages.
fn to_nanos(v: i128) -> i64 {
    v.clamp(-i128::from(MAX_NANOS), i128::from(MAX_NANOS)) as i64
}

#[derive(Debug, Default, Clone, Copy)]
struct Account {
    /// Settled spend (keys) or balance (organizations), nano-USD.
    settled: i64,
    /// Organizations: every credit ever added (the limit of what may be charged in all).
    granted: i64,
    /// Reserved by requests in flight: exact (each hold is at most `MAX_NANOS`, so no count of
    /// them overflows an `i128`), so releasing every hold always brings it back to zero.
    reserved: i128,
}

#[derive(Debug, Default)]
pub struct Ledger {
    keys: FastMap<String, Account>,
    orgs: FastMap<String, Account>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    KeyLimit { limit: i64, committed: i64 },
    Credits { available: i64 },
}

/// An amount held on a key and possibly on its organization's credits. It names neither:
/// the request settles it with the ids it holds anyway (no copy of them per request).
#[derive(Debug)]
pub struct Hold {
    pub key_amount: i64,
    /// Held on the organization's credits, if the request pays with them.
    pub org_amount: Option<i64>,
    /// What the organization was ever given and its balance, as the hold found them.
    pub credits: (i64, i64),
}

/// The account of `id`, made on first use; the id is copied only then (not on every request).
fn account<'a>(
    map: &'a FastMap<String, Account>,
    id: &str,
) -> dashmap::mapref::one::RefMut<'a, String, Account> {
    match map.get_mut(id) {
        Some(acc) => acc,
        None => map.entry(id.to_string()).or_default(),
    }
}

impl Ledger {
    pub fn set_key_spend(&self, key_id: &str, spent: i64) {
        self.keys.entry(key_id.to_string()).or_default().settled = clamp_nanos(spent);
    }

    pub fn set_balance(&self, org_id: &str, balance: i64) {
        self.orgs.entry(org_id.to_string()).or_default().settled = clamp_nanos(balance);
    }

    /// Spend recorded elsewhere (another replica) or a top-up.
    pub fn add_key_spend(&self, key_id: &str, amount: i64) {
        let mut key = self.keys.entry(key_id.to_string()).or_default();
        key.settled = add_nanos(key.settled, amount);
    }

    /// Credits added to an organization (at load, or a top-up): its balance and what it
    /// was ever given both grow.
    pub fn add_credits(&self, org_id: &str, amount: i64) {
        let mut org = self.orgs.entry(org_id.to_string()).or_default();
        org.settled = add_nanos(org.settled, amount);
        org.granted = add_nanos(org.granted, amount);
    }

    /// Records what the organization was given, leaving its balance as loaded.
    pub fn add_granted(&self, org_id: &str, amount: i64) {
        let mut org = self.orgs.entry(org_id.to_string()).or_default();
        org.granted = add_nanos(org.granted, amount);
    }

    pub fn add_balance(&self, org_id: &str, amount: i64) {
        let mut org = self.orgs.entry(org_id.to_string()).or_default();
        org.settled = add_nanos(org.settled, amount);
    }

    pub fn key_spend(&self, key_id: &str) -> i64 {
        self.keys.get(key_id).map(|a| a.settled).unwrap_or(0)
    }

    /// What the organization was ever given and its balance, in one lookup.
    pub fn balance(&self, org_id: &str) -> i64 {
        self.orgs.get(org_id).map(|a| a.settled).unwrap_or(0)
    }

    /// Reserves `key_amount` under the key's `limit` (if any) and, when `org` is given,
    /// `org_amount` against its credit balance. Both or neither. Amounts are taken within
    /// `[0, MAX_NANOS]`, and the checks are made in `i128`, so nothing wraps.
    pub fn reserve(
        &self,
        key_id: &str,
        limit: Option<i64>,
        key_amount: i64,
        org: Option<(&str, i64)>,
    ) -> Result<Hold, Refusal> {
        let key_amount = amount(key_amount);
        let org = org.map(|(o, a)| (o, amount(a)));
        {
            let mut key = account(&self.keys, key_id);
            if let Some(limit) = limit {
                let committed = i128::from(key.settled) + key.reserved;
                if committed + i128::from(key_amount) > i128::from(limit)
                    || (key_amount == 0 && committed >= i128::from(limit))
                {
                    return Err(Refusal::KeyLimit {
                        limit,
                        committed: to_nanos(committed),
                    });
                }
            }
            key.reserved += i128::from(key_amount);
        }
        let mut credits = (0, 0);
        if let Some((org_id, held)) = org {
            let mut acc = account(&self.orgs, org_id);
            credits = (acc.granted, acc.settled);
            let available = i128::from(acc.settled) - acc.reserved;
            if i128::from(held) > available || available <= 0 {
                drop(acc);
                account(&self.keys, key_id).reserved -= i128::from(key_amount);
                return Err(Refusal::Credits {
                    available: to_nanos(available),
                });
            }
            acc.reserved += i128::from(held);
        }
        Ok(Hold {
            key_amount,
            org_amount: org.map(|(_, a)| a),
            credits,
        })
    }

    /// Replaces the hold `reserve` gave for `key_id` (and `org_id`) with the real cost:
    /// `key_cost` spent on the key, `org_cost` taken from the organization's credits.
    pub fn settle(&self, hold: Hold, key_id: &str, org_id: &str, key_cost: i64, org_cost: i64) {
        {
            let mut key = account(&self.keys, key_id);
            key.reserved -= i128::from(hold.key_amount);
            key.settled = add_nanos(key.settled, amount(key_cost));
        }
        if let Some(held) = hold.org_amount {
            let mut acc = account(&self.orgs, org_id);
            acc.reserved -= i128::from(held);
            acc.settled = add_nanos(acc.settled, -amount(org_cost));
        }
    }
}

#[cfg(test)]
#[path = "ledger_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_never_pass_the_limit() {
        let l = Ledger::default();
        let holds: Vec<_> = (0..20)
            .filter_map(|_| l.reserve("k", Some(100), 10, None).ok())
            .collect();
        assert_eq!(holds.len(), 10);
        for h in holds {
            l.settle(h, "k", "o", 3, 0);
        }
        assert_eq!(l.key_spend("k"), 30);
        assert!(l.reserve("k", Some(100), 70, None).is_ok());
        assert!(l.reserve("k", Some(100), 1, None).is_err());
    }

    #[test]
    fn credits_are_held_and_released_together() {
        let l = Ledger::default();
        l.set_balance("o", 50);
        let h = l.reserve("k", None, 40, Some(("o", 40))).unwrap();
        let refused = l.reserve("k2", None, 20, Some(("o", 20)));
        assert!(matches!(refused, Err(Refusal::Credits { available: 10 })));
        l.settle(h, "k", "o", 5, 5);
        assert_eq!(l.balance("o"), 45);
        assert!(l.reserve("k2", None, 20, Some(("o", 20))).is_ok());
        l.set_balance("empty", 0);
        assert!(
            l.reserve("k3", None, 0, Some(("empty", 0))).is_err(),
            "no credits, no request"
        );
    }
}
