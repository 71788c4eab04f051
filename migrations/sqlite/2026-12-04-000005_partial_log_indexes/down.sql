DROP INDEX oc_openconnector_call_logs_ix3;
CREATE INDEX oc_openconnector_call_logs_ix3 ON oc_openconnector_call_logs (synchronization_id, id);
