-- Jobs: a crontab and its time zone beside the interval, and the lease a replica holds while
-- it runs the job. Job logs: the result of the action and the error with its cause.
ALTER TABLE oc_openconnector_jobs ADD COLUMN cron VARCHAR(255);
ALTER TABLE oc_openconnector_jobs ADD COLUMN time_zone VARCHAR(64);
ALTER TABLE oc_openconnector_jobs ADD COLUMN lease_owner VARCHAR(64);
ALTER TABLE oc_openconnector_jobs ADD COLUMN lease_expires TIMESTAMP;
ALTER TABLE oc_openconnector_job_logs ADD COLUMN result TEXT;
ALTER TABLE oc_openconnector_job_logs ADD COLUMN error TEXT;
-- Settings of the whole installation (retention), one JSON value per name.
CREATE TABLE oc_openconnector_settings (
    name VARCHAR(190) NOT NULL PRIMARY KEY,
    value TEXT
);
