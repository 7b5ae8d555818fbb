-- API tokens: the secret is never stored, only its SHA-256 (hex). A revoked token keeps its row,
-- so its name is not reused and the audit's references stay meaningful.
CREATE TABLE tokens (
	name        TEXT PRIMARY KEY,
	hash        TEXT NOT NULL UNIQUE,
	subject     TEXT NOT NULL,
	role        TEXT NOT NULL,
	environment TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	created_at  BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL, -- 0: never
	revoked_at  BIGINT NOT NULL, -- 0: not revoked
	revoked_by  TEXT NOT NULL
);
