-- The event log: the columns sqlite-es reads and writes, plus a global position and a
-- recorded-at time (microseconds since the Unix epoch). SQLite has one writer at a time, so
-- rowid order is commit order; the trigger copies it into global_pos.
CREATE TABLE events
(
    aggregate_type text                          NOT NULL,
    aggregate_id   text                          NOT NULL,
    sequence       integer CHECK (sequence >= 0) NOT NULL,
    event_type     text                          NOT NULL,
    event_version  text                          NOT NULL,
    payload        text                          NOT NULL,
    metadata       text                          NOT NULL,
    global_pos     integer,
    recorded_at    integer,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX events_global_pos ON events (global_pos);
CREATE INDEX events_recorded_at ON events (aggregate_type, aggregate_id, recorded_at);

CREATE TABLE snapshots
(
    aggregate_type   text                                  NOT NULL,
    aggregate_id     text                                  NOT NULL,
    last_sequence    integer CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot integer CHECK (current_snapshot >= 0) NOT NULL,
    payload          text                                  NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

CREATE TRIGGER events_stamp AFTER INSERT ON events
BEGIN
    UPDATE events
    SET global_pos  = NEW.rowid,
        recorded_at = CAST(unixepoch('subsec') * 1000000 AS INTEGER)
    WHERE rowid = NEW.rowid;
END;
