-- The event log: the columns postgres-es reads and writes, plus a global position and a
-- recorded-at time (microseconds since the Unix epoch) stamped by a trigger.
CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        json                         NOT NULL,
    metadata       json                         NOT NULL,
    global_pos     bigint                       NOT NULL,
    recorded_at    bigint                       NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX events_global_pos ON events (global_pos);
CREATE INDEX events_recorded_at ON events (aggregate_type, aggregate_id, recorded_at);

CREATE TABLE snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json                                 NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

CREATE SEQUENCE events_global_pos_seq;

-- A sequence value is taken at insert, not at commit. Appends take a transaction-scoped
-- advisory lock first, so positions are handed out in commit order: once a reader sees
-- position N, no smaller position can commit later, and `global_pos > checkpoint` is safe.
CREATE FUNCTION tollgate_events_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7242715001);
    NEW.global_pos := nextval('events_global_pos_seq');
    NEW.recorded_at := (extract(epoch from clock_timestamp()) * 1000000)::bigint;
    RETURN NEW;
END
$$;

CREATE TRIGGER events_stamp BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION tollgate_events_stamp();
