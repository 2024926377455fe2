-- Wake other replicas' projectors: one notification per appending transaction, delivered
-- at commit. Polling stays as the backstop.
CREATE FUNCTION tollgate_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tollgate_events', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_events_notify();
