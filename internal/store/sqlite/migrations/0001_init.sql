-- Times are integer microseconds since the Unix epoch (UTC), except audit_events.time, which is
-- the exact text the event's hash covers. Column types are ones PostgreSQL also reads.
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('rollout', 0);

CREATE TABLE rollouts (
	num              INTEGER PRIMARY KEY, -- insertion order: "newest first" without trusting clocks
	id               TEXT NOT NULL UNIQUE,
	service          TEXT NOT NULL,
	environment      TEXT NOT NULL,
	version          TEXT NOT NULL,
	previous_version TEXT NOT NULL,
	strategy         TEXT NOT NULL,
	phase            TEXT NOT NULL,
	reason           TEXT NOT NULL,
	plan             BLOB NOT NULL,
	plan_sha256      TEXT NOT NULL,
	service_file     BLOB NOT NULL,
	state            TEXT NOT NULL,
	revision         BIGINT NOT NULL,
	created_by       TEXT NOT NULL,
	created_at       BIGINT NOT NULL,
	updated_at       BIGINT NOT NULL
);
CREATE INDEX rollouts_service_env ON rollouts (service, environment);
CREATE INDEX rollouts_phase ON rollouts (phase);

CREATE TABLE measurements (
	num         INTEGER PRIMARY KEY,
	rollout_id  TEXT NOT NULL REFERENCES rollouts (id),
	step        INTEGER NOT NULL,
	metric      TEXT NOT NULL,
	version     TEXT NOT NULL,
	phase       TEXT NOT NULL,
	value       DOUBLE PRECISION NOT NULL,
	message     TEXT NOT NULL,
	started_at  BIGINT NOT NULL,
	finished_at BIGINT NOT NULL
);
CREATE INDEX measurements_rollout ON measurements (rollout_id);

CREATE TABLE approvals (
	num        INTEGER PRIMARY KEY,
	rollout_id TEXT NOT NULL REFERENCES rollouts (id),
	gate       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	decision   TEXT NOT NULL,
	comment    TEXT NOT NULL,
	time       BIGINT NOT NULL
);
CREATE INDEX approvals_rollout ON approvals (rollout_id);

CREATE TABLE releases (
	num         INTEGER PRIMARY KEY,
	service     TEXT NOT NULL,
	environment TEXT NOT NULL,
	version     TEXT NOT NULL,
	rollout_id  TEXT NOT NULL, -- no foreign key: a release may predate hugai's record of it
	time        BIGINT NOT NULL
);
CREATE INDEX releases_service_env ON releases (service, environment);

CREATE TABLE audit_events (
	seq       INTEGER PRIMARY KEY,
	subject   TEXT NOT NULL,
	type      TEXT NOT NULL,
	actor     TEXT NOT NULL,
	time      TEXT NOT NULL,
	payload   TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);
CREATE INDEX audit_events_subject ON audit_events (subject, seq);

-- The head, kept apart from the chain: a truncated tail leaves a valid shorter chain, but not one
-- that ends at this head.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  BIGINT NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
