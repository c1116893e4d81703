-- Job definitions and run history. Postgres is the source of truth for both;
-- Redis only holds what moves.

-- The current definition of each job. Deleting a job sets deleted_at and keeps
-- the row, so its run history keeps a name to show.
CREATE TABLE jobs (
    id                  uuid PRIMARY KEY,
    name                text        NOT NULL,
    version             bigint      NOT NULL,
    schedule            text        NOT NULL,
    timezone            text        NOT NULL,
    queue               text        NOT NULL,
    target              jsonb       NOT NULL,
    timeout_s           bigint      NOT NULL,
    retry               jsonb       NOT NULL,
    overlap             text        NOT NULL,
    catchup             jsonb       NOT NULL,
    starting_deadline_s bigint,
    jitter_s            bigint      NOT NULL DEFAULT 0,
    paused              boolean     NOT NULL DEFAULT false,
    paused_reason       text,
    labels              jsonb       NOT NULL DEFAULT '{}'::jsonb,
    description         text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    deleted_at          timestamptz
);

-- Names are unique among live jobs; a deleted job's name can be reused.
CREATE UNIQUE INDEX jobs_live_name ON jobs (name) WHERE deleted_at IS NULL;
CREATE INDEX jobs_live_queue ON jobs (queue, name) WHERE deleted_at IS NULL;
CREATE INDEX jobs_labels ON jobs USING gin (labels jsonb_path_ops);

-- Every version a job ever had, so a run's job_version can be looked up.
CREATE TABLE job_versions (
    job_id     uuid        NOT NULL,
    version    bigint      NOT NULL,
    definition jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (job_id, version)
);

-- One row per run, carrying its latest attempt, for fast history listing.
CREATE TABLE runs (
    id           uuid PRIMARY KEY,
    job_id       uuid        NOT NULL,
    job_version  bigint      NOT NULL,
    trigger      text        NOT NULL CHECK (trigger IN ('schedule', 'manual', 'retry', 'backfill')),
    state        text        NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed',
                                                       'timed_out', 'cancelled', 'skipped', 'missed',
                                                       'retrying', 'dead')),
    attempt      integer     NOT NULL,
    scheduled_at timestamptz NOT NULL,
    emitted_at   timestamptz,
    started_at   timestamptz,
    finished_at  timestamptz,
    executor_id  text,
    exit_code    integer,
    http_status  integer,
    error        text,
    stdout       text,
    stderr       text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX runs_job_time ON runs (job_id, scheduled_at DESC, id DESC);
CREATE INDEX runs_time ON runs (scheduled_at DESC, id DESC);
CREATE INDEX runs_state_time ON runs (state, scheduled_at DESC);

-- Every attempt of every run. The recorder upserts by (run_id, attempt), so a
-- result applied twice changes nothing.
CREATE TABLE run_attempts (
    run_id       uuid        NOT NULL,
    attempt      integer     NOT NULL,
    state        text        NOT NULL,
    executor_id  text,
    emitted_at   timestamptz,
    started_at   timestamptz,
    finished_at  timestamptz,
    exit_code    integer,
    http_status  integer,
    error        text,
    stdout       text,
    stderr       text,
    PRIMARY KEY (run_id, attempt)
);
