-- orgwatch's history. Timestamps are RFC 3339 text in UTC (e.g. 2026-11-21T12:00:00.000Z),
-- which SQLite's date functions read directly.

-- One row per scan of the organization.
CREATE TABLE scans (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at           TEXT    NOT NULL,
    finished_at          TEXT,
    -- running: in progress; completed: every account judged; failed: the organization could
    -- not be listed; interrupted: stopped by a signal; abandoned: left running by a crash.
    status               TEXT    NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted', 'abandoned')),
    error                TEXT,
    accounts_total       INTEGER NOT NULL DEFAULT 0,
    pass_count           INTEGER NOT NULL DEFAULT 0,
    fail_count           INTEGER NOT NULL DEFAULT 0,
    error_count          INTEGER NOT NULL DEFAULT 0,
    not_applicable_count INTEGER NOT NULL DEFAULT 0
);

-- Every account ever seen in the organization.
CREATE TABLE accounts (
    account_id         TEXT PRIMARY KEY,
    account_name       TEXT NOT NULL,
    state              TEXT NOT NULL,
    first_seen_scan_id INTEGER NOT NULL REFERENCES scans(id),
    last_seen_scan_id  INTEGER NOT NULL REFERENCES scans(id)
);

-- The accounts each scan set out to judge.
CREATE TABLE scan_accounts (
    scan_id    INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    account_id TEXT    NOT NULL,
    PRIMARY KEY (scan_id, account_id)
);

-- One finding per (scan, account, control).
CREATE TABLE findings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    scan_id     INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    account_id  TEXT    NOT NULL,
    control_id  TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('PASS', 'FAIL', 'ERROR', 'NOT_APPLICABLE')),
    reason      TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    evidence    TEXT    NOT NULL CHECK (json_valid(evidence)),
    observed_at TEXT    NOT NULL,
    UNIQUE (scan_id, account_id, control_id)
);
CREATE INDEX findings_by_account_control ON findings (account_id, control_id, scan_id);

-- A change of status or reason between two consecutive completed scans; kept when old
-- findings are pruned.
CREATE TABLE drift (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    scan_id          INTEGER NOT NULL,
    previous_scan_id INTEGER,
    account_id       TEXT    NOT NULL,
    control_id       TEXT    NOT NULL,
    previous_status  TEXT,
    previous_reason  TEXT,
    status           TEXT,
    reason           TEXT,
    -- NEW (first finding), REGRESSION (PASS to FAIL/ERROR), RECOVERY (to PASS), CHANGE,
    -- LEFT_ORGANIZATION (no longer in the organization's audited accounts).
    change           TEXT    NOT NULL,
    detected_at      TEXT    NOT NULL
);
CREATE INDEX drift_by_account_control ON drift (account_id, control_id, id);
CREATE INDEX drift_by_time ON drift (detected_at);

-- The latest finding of each account and control.
CREATE VIEW latest_findings AS
SELECT f.account_id, a.account_name, f.control_id, f.status, f.reason, f.message, f.evidence, f.scan_id, f.observed_at
FROM findings f
LEFT JOIN accounts a ON a.account_id = f.account_id
WHERE f.scan_id = (
    SELECT MAX(f2.scan_id) FROM findings f2
    WHERE f2.account_id = f.account_id AND f2.control_id = f.control_id
);

CREATE VIEW drift_events AS
SELECT account_id, control_id, previous_status, status, previous_reason, reason, change, scan_id, previous_scan_id, detected_at
FROM drift;

-- Counts by status for each scan: the organization's posture over time.
CREATE VIEW posture_by_scan AS
SELECT s.id AS scan_id, s.started_at, s.finished_at, s.status AS scan_status,
       SUM(f.status = 'PASS') AS pass, SUM(f.status = 'FAIL') AS fail,
       SUM(f.status = 'ERROR') AS error, SUM(f.status = 'NOT_APPLICABLE') AS not_applicable
FROM scans s
LEFT JOIN findings f ON f.scan_id = s.id
GROUP BY s.id;

-- Accounts and controls failing now, with when the current failure began.
CREATE VIEW failing_longest AS
SELECT l.account_id, l.account_name, l.control_id, l.reason,
       (SELECT MAX(d.detected_at) FROM drift d
        WHERE d.account_id = l.account_id AND d.control_id = l.control_id) AS failing_since
FROM latest_findings l
WHERE l.status = 'FAIL'
ORDER BY failing_since ASC;

-- Each recovery with the time since the account last broke.
CREATE VIEW time_to_fix AS
SELECT r.account_id, r.control_id, b.detected_at AS broke_at, r.detected_at AS fixed_at,
       ROUND((julianday(r.detected_at) - julianday(b.detected_at)) * 24.0, 4) AS hours_to_fix
FROM drift r
JOIN drift b ON b.id = (
    SELECT MAX(b2.id) FROM drift b2
    WHERE b2.account_id = r.account_id AND b2.control_id = r.control_id AND b2.id < r.id
      AND b2.status IN ('FAIL', 'ERROR')
      AND (b2.previous_status IS NULL OR b2.previous_status NOT IN ('FAIL', 'ERROR'))
)
WHERE r.change = 'RECOVERY';

CREATE VIEW mean_time_to_fix AS
SELECT control_id, COUNT(*) AS fixes, AVG(hours_to_fix) AS mean_hours_to_fix
FROM time_to_fix
GROUP BY control_id;
