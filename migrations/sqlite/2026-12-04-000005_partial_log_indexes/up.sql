-- Most call logs belong to no synchronization (source tests, endpoint proxies, jobs): the
-- index that finds a synchronization's calls need not hold them. `synchronization_id = ?`
-- implies the index's condition, so those lookups still use it.
DROP INDEX oc_openconnector_call_logs_ix3;
CREATE INDEX oc_openconnector_call_logs_ix3 ON oc_openconnector_call_logs (synchronization_id, id) WHERE synchronization_id IS NOT NULL;
