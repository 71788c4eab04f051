-- MySQL and MariaDB have no partial indexes: the full index on call_logs (synchronization_id,
-- id) stays. This migration exists so that every backend names the same migrations.
DO 0;
