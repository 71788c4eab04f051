-- Jobs: a crontab and its time zone beside the interval, and the lease a replica holds while
-- it runs the job. Job logs: the result of the action and the error with its cause.
ALTER TABLE oc_openconnector_jobs ADD COLUMN cron VARCHAR(255);
ALTER TABLE oc_openconnector_jobs ADD COLUMN time_zone VARCHAR(64);
ALTER TABLE oc_openconnector_jobs ADD COLUMN lease_owner VARCHAR(64);
ALTER TABLE oc_openconnector_jobs ADD COLUMN lease_expires DATETIME(6);
ALTER TABLE oc_openconnector_job_logs ADD COLUMN result LONGTEXT;
ALTER TABLE oc_openconnector_job_logs ADD COLUMN error LONGTEXT;
-- Settings of the whole installation (retention), one JSON value per name.
CREATE TABLE oc_openconnector_settings (
    name VARCHAR(190) NOT NULL PRIMARY KEY,
    value LONGTEXT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
