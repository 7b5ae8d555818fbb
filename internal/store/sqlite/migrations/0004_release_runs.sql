-- Executions of a release's stages (`hugai release execute`). The frozen stages and their state
-- are one JSON document, as a rollout's state is: the store filters by tag and phase only.
-- (Number 0003 belongs to the governance tables.)
CREATE TABLE release_runs (
	num        INTEGER PRIMARY KEY,
	tag        TEXT NOT NULL,
	service    TEXT NOT NULL,
	phase      TEXT NOT NULL,
	active     INTEGER NOT NULL,
	document   TEXT NOT NULL,
	revision   BIGINT NOT NULL,
	created_by TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX release_runs_tag ON release_runs (tag, num);
CREATE INDEX release_runs_active ON release_runs (active, num);
