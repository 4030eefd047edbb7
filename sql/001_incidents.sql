-- sentineld PostgreSQL schema, migration 001: incidents and their audit
-- trail. Applied once by out_postgres (recorded in schema_migrations with a
-- checksum); never edit this file after a release: add 002_*.sql instead.
-- No BEGIN/COMMIT here: the migrator runs each file in its own transaction.
-- Column meanings: docs/incidents.md (the incident document).

CREATE TABLE incidents (
    id               uuid        PRIMARY KEY,
    version          integer     NOT NULL CHECK (version >= 1),
    rule_id          text        NOT NULL,
    title            text,
    description      text,
    severity         text        NOT NULL
        CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    base_severity    text,
    status           text        NOT NULL
        CHECK (status IN ('open', 'acknowledged', 'resolved', 'suppressed')),
    pending_approval jsonb,
    group_key        jsonb       NOT NULL DEFAULT '{}',
    first_seen       timestamptz,
    last_seen        timestamptz,
    hit_count        bigint      NOT NULL DEFAULT 0,
    signal_count     bigint      NOT NULL DEFAULT 0,
    owner            text,
    previous_id      uuid,
    tags             text[]      NOT NULL DEFAULT '{}',
    explanation      jsonb,
    evidence         jsonb,
    created_at       timestamptz,
    updated_at       timestamptz,
    -- When this row was last written here (the document's own times are
    -- the daemon's clock; this one is the database's).
    stored_at        timestamptz NOT NULL DEFAULT now()
);

-- The console's queries: open incidents by severity, newest first.
CREATE INDEX incidents_status_last_seen ON incidents (status, last_seen DESC);
CREATE INDEX incidents_severity_last_seen ON incidents (severity, last_seen DESC);
CREATE INDEX incidents_last_seen ON incidents (last_seen DESC);
CREATE INDEX incidents_rule_id ON incidents (rule_id);

-- One row per incident version: what changed, when, and (when the document
-- carries an "audit" entry) who and why. Append-only: the trigger below
-- refuses UPDATE and DELETE; a replayed version is ignored (ON CONFLICT DO
-- NOTHING on the primary key), so replays never duplicate the trail.
CREATE TABLE incident_audit (
    incident_id      uuid        NOT NULL,
    version          integer     NOT NULL,
    changed_at       timestamptz,
    action           text        NOT NULL,
    actor            text,
    reason           text,
    status           text        NOT NULL,
    severity         text        NOT NULL,
    owner            text,
    pending_approval jsonb,
    entry            jsonb,
    stored_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, version)
);

CREATE INDEX incident_audit_changed_at ON incident_audit (changed_at DESC);

CREATE FUNCTION incident_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'incident_audit is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER incident_audit_append_only
    BEFORE UPDATE OR DELETE ON incident_audit
    FOR EACH ROW EXECUTE FUNCTION incident_audit_append_only();
