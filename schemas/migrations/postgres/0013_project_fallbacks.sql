-- A project's default fallback chains, as JSON: requested model -> models tried after it.
ALTER TABLE rm_projects ADD COLUMN fallbacks TEXT NOT NULL DEFAULT '{}';
