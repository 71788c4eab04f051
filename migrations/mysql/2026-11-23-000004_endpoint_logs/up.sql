-- What the gateway answered on our endpoints, one row per request.
CREATE TABLE oc_openconnector_endpoint_logs (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    status_code BIGINT,
    status_message VARCHAR(255),
    method VARCHAR(255),
    path LONGTEXT,
    endpoint_id BIGINT NOT NULL,
    request LONGTEXT,
    response LONGTEXT,
    user_id VARCHAR(255),
    session_id VARCHAR(255),
    created DATETIME(6),
    expires DATETIME(6),
    size BIGINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_endpoint_logs_uq_uuid ON oc_openconnector_endpoint_logs (uuid);
CREATE INDEX oc_openconnector_endpoint_logs_ix1 ON oc_openconnector_endpoint_logs (endpoint_id, status_code, id);
CREATE INDEX oc_openconnector_endpoint_logs_ix2 ON oc_openconnector_endpoint_logs (created, id);
CREATE INDEX oc_openconnector_endpoint_logs_ix3 ON oc_openconnector_endpoint_logs (expires);
