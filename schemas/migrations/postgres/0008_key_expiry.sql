-- When a key stops working (Unix seconds; NULL: never).
ALTER TABLE rm_api_keys ADD COLUMN expires_at BIGINT;
