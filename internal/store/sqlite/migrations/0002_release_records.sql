-- Releases cut by `hugai release create`. The release itself (notes, change, risk, plans) is one
-- JSON document: the store filters by tag and component only.
CREATE TABLE release_records (
	num        INTEGER PRIMARY KEY, -- insertion order: "newest first" without trusting clocks
	tag        TEXT NOT NULL UNIQUE,
	component  TEXT NOT NULL,
	version    TEXT NOT NULL,
	document   TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX release_records_component ON release_records (component, num);
