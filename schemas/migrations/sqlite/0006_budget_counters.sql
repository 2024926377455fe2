-- Shared budget counters: how much of a limit the gateway's replicas have taken between them
-- (spent, or leased to a replica and not given back), per scope (`key:<id>`, `credits:<org>`)
-- and period (0 for a lifetime limit). Live coordination state, not a read model: a rebuild
-- leaves it alone.
CREATE TABLE budget_counters (
    scope TEXT NOT NULL,
    period_start INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (scope, period_start)
);
