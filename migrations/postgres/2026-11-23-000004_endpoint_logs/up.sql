-- What the gateway answered on our endpoints, one row per request.
CREATE TABLE oc_openconnector_endpoint_logs (
    id BIGSERIAL PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    status_code BIGINT,
    status_message VARCHAR(255),
    method VARCHAR(255),
    path TEXT,
    endpoint_id BIGINT NOT NULL,
    request TEXT,
    response TEXT,
    user_id VARCHAR(255),
    session_id VARCHAR(255),
    created TIMESTAMP,
    expires TIMESTAMP,
    size BIGINT
);
CREATE UNIQUE INDEX oc_openconnector_endpoint_logs_uq_uuid ON oc_openconnector_endpoint_logs (uuid);
CREATE INDEX oc_openconnector_endpoint_logs_ix1 ON oc_openconnector_endpoint_logs (endpoint_id, status_code, id);
CREATE INDEX oc_openconnector_endpoint_logs_ix2 ON oc_openconnector_endpoint_logs (created, id);
CREATE INDEX oc_openconnector_endpoint_logs_ix3 ON oc_openconnector_endpoint_logs (expires);
