-- Prompt tokens written to the provider's prompt cache (priced at the cache-write rate).
ALTER TABLE rm_usage_logs ADD COLUMN cache_creation_tokens INTEGER NOT NULL DEFAULT 0;
