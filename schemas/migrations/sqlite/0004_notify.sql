-- Postgres notifies other replicas of new events; a SQLite file has one process, nothing to do.
SELECT 1;
