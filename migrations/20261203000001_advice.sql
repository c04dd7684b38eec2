-- Advice on passing chains ([advice], orgwatch tune): the window a scan measured, and each
-- latest passing chain's alarm as measured. The measures themselves ride in each finding's
-- evidence (`$.advice`, docs/FORMATS.md), measured on the scan that gathered them and carried
-- by the scans after it while the chain runs through the same alarm and topic.

-- The days a scan measured over; NULL when it gathered no advice.
ALTER TABLE scans ADD COLUMN advice_window_days INTEGER;

-- Each account's and control's latest finding that carries advice: its alarm, how often it went
-- to ALARM over the window, the baseline's p99 and maximum per period, its threshold, the
-- threshold suggested (NULL: keep it), and whether it is noisy (1) or not (0).
CREATE VIEW alarm_noise AS
SELECT l.account_id, l.account_name, l.control_id, l.status,
       json_extract(l.evidence, '$.advice.alarm_arn')           AS alarm_arn,
       json_extract(l.evidence, '$.advice.alarm_name')          AS alarm_name,
       json_extract(l.evidence, '$.advice.times_in_alarm')      AS times_in_alarm,
       json_extract(l.evidence, '$.advice.hours_in_alarm')      AS hours_in_alarm,
       json_extract(l.evidence, '$.advice.baseline.p99')        AS baseline_p99,
       json_extract(l.evidence, '$.advice.baseline.max')        AS baseline_max,
       json_extract(l.evidence, '$.advice.threshold')           AS threshold,
       json_extract(l.evidence, '$.advice.suggested_threshold') AS suggested_threshold,
       json_extract(l.evidence, '$.advice.noisy')               AS noisy,
       json_extract(l.evidence, '$.advice.window_days')         AS window_days,
       json_extract(l.evidence, '$.advice.measured_at')         AS measured_at,
       l.scan_id
FROM latest_findings l
WHERE json_extract(l.evidence, '$.advice') IS NOT NULL;
