DROP TABLE oc_openconnector_settings;
ALTER TABLE oc_openconnector_job_logs DROP COLUMN error;
ALTER TABLE oc_openconnector_job_logs DROP COLUMN result;
ALTER TABLE oc_openconnector_jobs DROP COLUMN lease_expires;
ALTER TABLE oc_openconnector_jobs DROP COLUMN lease_owner;
ALTER TABLE oc_openconnector_jobs DROP COLUMN time_zone;
ALTER TABLE oc_openconnector_jobs DROP COLUMN cron;
