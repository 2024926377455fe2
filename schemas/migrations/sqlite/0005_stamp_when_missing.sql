-- The stamp trigger updated each new event row to set its position and time, which rewrote
-- the whole row; a usage event holds a flush's records (up to about 600 KB), so its payload
-- was written twice. The usage writer now sets both columns as it inserts (the position it
-- takes is the row's rowid, as the trigger would set it); the trigger stamps only rows that
-- come without them.
DROP TRIGGER events_stamp;
CREATE TRIGGER events_stamp AFTER INSERT ON events WHEN NEW.global_pos IS NULL
BEGIN
    UPDATE events
    SET global_pos  = NEW.rowid,
        recorded_at = CAST(unixepoch('subsec') * 1000000 AS INTEGER)
    WHERE rowid = NEW.rowid;
END;
