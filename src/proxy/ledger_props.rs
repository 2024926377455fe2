//! Properties of the ledger over any sequence of reservations and settlements: nothing wraps
//! or panics, nothing held is negative, and a key's committed spend never passes its limit
//! while each request costs no more than it held.

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    /// Reserve an amount (any `i64`, negative and huge included) on the key.
    Reserve(i64, Option<i64>),
    /// Settle the hold at this index (modulo the holds open) at this share of what it held.
    Settle(usize, u8),
    /// Spend reported by another replica, or a top-up.
    Add(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let amount = prop_oneof![
        any::<i64>(),
        Just(i64::MAX),
        Just(i64::MIN),
        -1_000i64..1_000_000,
    ];
    prop_oneof![
        (amount.clone(), proptest::option::of(amount.clone())).prop_map(|(a, o)| Op::Reserve(a, o)),
        (any::<usize>(), 0u8..=100).prop_map(|(i, p)| Op::Settle(i, p)),
        amount.prop_map(Op::Add),
    ]
}

fn account(l: &Ledger, key: &str) -> Account {
    l.keys.get(key).map(|a| *a).unwrap_or_default()
}

fn org(l: &Ledger, id: &str) -> Account {
    l.orgs.get(id).map(|a| *a).unwrap_or_default()
}

proptest! {
    #[test]
    fn committed_spend_never_passes_the_limit(
        limit in prop_oneof![0..1_000_000i64, Just(MAX_NANOS), Just(20_000i64)],
        balance in prop_oneof![any::<i64>(), 0..1_000_000i64],
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let l = Ledger::default();
        l.set_balance("o", balance);
        let mut holds: Vec<Hold> = vec![];
        for op in ops {
            match op {
                Op::Reserve(a, o) => {
                    if let Ok(h) = l.reserve("k", Some(limit), a, o.map(|o| ("o", o))) {
                        prop_assert!(h.key_amount >= 0 && h.org_amount.unwrap_or(0) >= 0);
                        holds.push(h);
                    }
                }
                Op::Settle(i, share) if !holds.is_empty() => {
                    let h = holds.swap_remove(i % holds.len());
                    // A cost within the hold: the usage fitted the request's bounds.
                    let key_cost = (i128::from(h.key_amount) * i128::from(share) / 100) as i64;
                    let org_cost = (i128::from(h.org_amount.unwrap_or(0)) * i128::from(share) / 100) as i64;
                    l.settle(h, "k", "o", key_cost, org_cost);
                }
                Op::Settle(..) => {}
                // Spend from elsewhere goes in as it is (it was already spent); only the
                // ledger's own reservations are checked against the limit here.
                Op::Add(a) => l.add_balance("o", a),
            }
            let k = account(&l, "k");
            prop_assert!(k.reserved >= 0, "negative hold {k:?}");
            prop_assert!(i128::from(k.settled) + k.reserved <= i128::from(limit), "{k:?} over {limit}");
            let o = org(&l, "o");
            prop_assert!(o.reserved >= 0);
            prop_assert!((-MAX_NANOS..=MAX_NANOS).contains(&o.settled));
        }
        for h in holds {
            l.settle(h, "k", "o", 0, 0);
        }
        prop_assert_eq!(account(&l, "k").reserved, 0);
        prop_assert_eq!(org(&l, "o").reserved, 0);
    }

    #[test]
    fn any_amounts_neither_wrap_nor_panic(
        amounts in proptest::collection::vec((any::<i64>(), any::<i64>(), any::<i64>()), 1..40),
        limit in proptest::option::of(any::<i64>()),
    ) {
        let l = Ledger::default();
        let mut holds = vec![];
        for (a, b, c) in amounts {
            l.add_key_spend("k", a);
            l.add_balance("o", b);
            // Holds without an organization are kept open (many at the ceiling, say).
            if let Ok(h) = l.reserve("k", limit, c, None) {
                holds.push(h);
            }
            if let Ok(h) = l.reserve("k", limit, c, Some(("o", a))) {
                l.settle(h, "k", "o", b, c);
            }
            let k = account(&l, "k");
            prop_assert!((-MAX_NANOS..=MAX_NANOS).contains(&k.settled));
            prop_assert!(k.reserved >= 0);
            let o = org(&l, "o");
            prop_assert!((-MAX_NANOS..=MAX_NANOS).contains(&o.settled));
            prop_assert!((0..=i128::from(MAX_NANOS)).contains(&o.reserved));
        }
        for h in holds {
            l.settle(h, "k", "o", i64::MAX, 0);
        }
        prop_assert_eq!(account(&l, "k").reserved, 0, "every hold released exactly");
    }
}
