-- A contract remembers why its object could not be written, and how often that happened.
ALTER TABLE oc_openconnector_synchronization_contracts ADD COLUMN last_error LONGTEXT;
ALTER TABLE oc_openconnector_synchronization_contracts ADD COLUMN retry_count BIGINT;
