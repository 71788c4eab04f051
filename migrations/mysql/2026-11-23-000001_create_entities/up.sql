CREATE TABLE oc_openconnector_sources (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description LONGTEXT,
    reference VARCHAR(255),
    version VARCHAR(255),
    location LONGTEXT,
    is_enabled BOOLEAN,
    type VARCHAR(255),
    documentation LONGTEXT,
    oas LONGTEXT,
    logging_config LONGTEXT,
    paths LONGTEXT,
    headers LONGTEXT,
    translation_config LONGTEXT,
    endpoints_config LONGTEXT,
    configuration LONGTEXT,
    status VARCHAR(255),
    log_retention BIGINT,
    error_retention BIGINT,
    object_count BIGINT,
    test BOOLEAN,
    rate_limit_limit BIGINT,
    rate_limit_remaining BIGINT,
    rate_limit_reset BIGINT,
    rate_limit_window BIGINT,
    last_call DATETIME(6),
    last_sync DATETIME(6),
    configurations LONGTEXT,
    slug VARCHAR(255),
    date_created DATETIME(6),
    date_modified DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_sources_uq_uuid ON oc_openconnector_sources (uuid);
CREATE UNIQUE INDEX oc_openconnector_sources_uq_slug ON oc_openconnector_sources (slug);

CREATE TABLE oc_openconnector_endpoints (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description LONGTEXT,
    reference VARCHAR(255),
    version VARCHAR(255),
    endpoint VARCHAR(255),
    endpoint_array LONGTEXT,
    endpoint_regex VARCHAR(255),
    method VARCHAR(255),
    target_type VARCHAR(255),
    target_id VARCHAR(255),
    conditions LONGTEXT,
    input_mapping VARCHAR(255),
    output_mapping VARCHAR(255),
    rules LONGTEXT,
    configurations LONGTEXT,
    slug VARCHAR(255),
    created DATETIME(6),
    updated DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_endpoints_uq_uuid ON oc_openconnector_endpoints (uuid);
CREATE UNIQUE INDEX oc_openconnector_endpoints_uq_slug ON oc_openconnector_endpoints (slug);
CREATE INDEX oc_openconnector_endpoints_ix1 ON oc_openconnector_endpoints (endpoint);
CREATE INDEX oc_openconnector_endpoints_ix2 ON oc_openconnector_endpoints (endpoint_regex);

CREATE TABLE oc_openconnector_mappings (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description LONGTEXT,
    reference VARCHAR(255),
    version VARCHAR(255),
    mapping LONGTEXT,
    unset LONGTEXT,
    cast_spec LONGTEXT,
    pass_through BOOLEAN,
    configurations LONGTEXT,
    slug VARCHAR(255),
    date_created DATETIME(6),
    date_modified DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_mappings_uq_uuid ON oc_openconnector_mappings (uuid);
CREATE UNIQUE INDEX oc_openconnector_mappings_uq_slug ON oc_openconnector_mappings (slug);

CREATE TABLE oc_openconnector_synchronizations (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description LONGTEXT,
    reference VARCHAR(255),
    version VARCHAR(255),
    source_id VARCHAR(255),
    source_type VARCHAR(255),
    source_hash VARCHAR(255),
    source_hash_mapping VARCHAR(255),
    source_target_mapping VARCHAR(255),
    source_config LONGTEXT,
    source_last_changed DATETIME(6),
    source_last_checked DATETIME(6),
    source_last_synced DATETIME(6),
    current_page BIGINT,
    target_id VARCHAR(255),
    target_type VARCHAR(255),
    target_hash VARCHAR(255),
    target_source_mapping VARCHAR(255),
    target_config LONGTEXT,
    target_last_changed DATETIME(6),
    target_last_checked DATETIME(6),
    target_last_synced DATETIME(6),
    conditions LONGTEXT,
    follow_ups LONGTEXT,
    actions LONGTEXT,
    configurations LONGTEXT,
    status VARCHAR(255),
    slug VARCHAR(255),
    created DATETIME(6),
    updated DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_synchronizations_uq_uuid ON oc_openconnector_synchronizations (uuid);
CREATE UNIQUE INDEX oc_openconnector_synchronizations_uq_slug ON oc_openconnector_synchronizations (slug);
CREATE INDEX oc_openconnector_synchronizations_ix1 ON oc_openconnector_synchronizations (source_id);
CREATE INDEX oc_openconnector_synchronizations_ix2 ON oc_openconnector_synchronizations (target_id);

CREATE TABLE oc_openconnector_synchronization_contracts (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    version VARCHAR(255),
    synchronization_id VARCHAR(255) NOT NULL,
    origin_id VARCHAR(255),
    origin_hash VARCHAR(255),
    source_last_changed DATETIME(6),
    source_last_checked DATETIME(6),
    source_last_synced DATETIME(6),
    target_id VARCHAR(255),
    target_hash VARCHAR(255),
    target_last_changed DATETIME(6),
    target_last_checked DATETIME(6),
    target_last_synced DATETIME(6),
    target_last_action VARCHAR(255),
    created DATETIME(6),
    updated DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_synchronization_contracts_uq_uuid ON oc_openconnector_synchronization_contracts (uuid);
CREATE INDEX oc_openconnector_synchronization_contracts_ix1 ON oc_openconnector_synchronization_contracts (synchronization_id, origin_id);
CREATE INDEX oc_openconnector_synchronization_contracts_ix2 ON oc_openconnector_synchronization_contracts (synchronization_id, target_id);
CREATE INDEX oc_openconnector_synchronization_contracts_ix3 ON oc_openconnector_synchronization_contracts (origin_id);
CREATE INDEX oc_openconnector_synchronization_contracts_ix4 ON oc_openconnector_synchronization_contracts (target_id);

CREATE TABLE oc_openconnector_rules (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description LONGTEXT,
    reference VARCHAR(255),
    version VARCHAR(255),
    action VARCHAR(255),
    timing VARCHAR(255),
    conditions LONGTEXT,
    type VARCHAR(255),
    configuration LONGTEXT,
    sort_order BIGINT,
    configurations LONGTEXT,
    slug VARCHAR(255),
    created DATETIME(6),
    updated DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_rules_uq_uuid ON oc_openconnector_rules (uuid);
CREATE UNIQUE INDEX oc_openconnector_rules_uq_slug ON oc_openconnector_rules (slug);
CREATE INDEX oc_openconnector_rules_ix1 ON oc_openconnector_rules (type);
CREATE INDEX oc_openconnector_rules_ix2 ON oc_openconnector_rules (sort_order);

CREATE TABLE oc_openconnector_jobs (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description LONGTEXT,
    reference VARCHAR(255),
    version VARCHAR(255),
    job_class VARCHAR(255),
    arguments LONGTEXT,
    interval_seconds BIGINT,
    execution_time BIGINT,
    time_sensitive BOOLEAN,
    allow_parallel_runs BOOLEAN,
    is_enabled BOOLEAN,
    single_run BOOLEAN,
    schedule_after DATETIME(6),
    user_id VARCHAR(255),
    job_list_id VARCHAR(255),
    log_retention BIGINT,
    error_retention BIGINT,
    last_run DATETIME(6),
    next_run DATETIME(6),
    configurations LONGTEXT,
    status VARCHAR(255),
    slug VARCHAR(255),
    created DATETIME(6),
    updated DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_jobs_uq_uuid ON oc_openconnector_jobs (uuid);
CREATE UNIQUE INDEX oc_openconnector_jobs_uq_slug ON oc_openconnector_jobs (slug);
CREATE INDEX oc_openconnector_jobs_ix1 ON oc_openconnector_jobs (is_enabled, next_run);

CREATE TABLE oc_openconnector_consumers (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description LONGTEXT,
    domains LONGTEXT,
    ips LONGTEXT,
    authorization_type VARCHAR(255),
    authorization_configuration LONGTEXT,
    user_id VARCHAR(255),
    created DATETIME(6),
    updated DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_consumers_uq_uuid ON oc_openconnector_consumers (uuid);

CREATE TABLE oc_openconnector_events (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    source VARCHAR(255) NOT NULL,
    type VARCHAR(255) NOT NULL,
    specversion VARCHAR(255),
    event_time DATETIME(6),
    datacontenttype VARCHAR(255),
    dataschema VARCHAR(255),
    subject VARCHAR(255),
    data LONGTEXT,
    user_id VARCHAR(255),
    processed DATETIME(6),
    status VARCHAR(255),
    created DATETIME(6),
    updated DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_events_uq_uuid ON oc_openconnector_events (uuid);
CREATE INDEX oc_openconnector_events_ix1 ON oc_openconnector_events (status);

CREATE TABLE oc_openconnector_event_subscriptions (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    reference VARCHAR(255),
    version VARCHAR(255),
    source VARCHAR(255),
    types LONGTEXT,
    config LONGTEXT,
    filters LONGTEXT,
    sink LONGTEXT NOT NULL,
    protocol VARCHAR(255),
    protocol_settings LONGTEXT,
    style VARCHAR(255),
    status VARCHAR(255),
    user_id VARCHAR(255),
    consumer_id BIGINT,
    created DATETIME(6),
    updated DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_event_subscriptions_uq_uuid ON oc_openconnector_event_subscriptions (uuid);
CREATE INDEX oc_openconnector_event_subscriptions_ix1 ON oc_openconnector_event_subscriptions (status);
CREATE INDEX oc_openconnector_event_subscriptions_ix2 ON oc_openconnector_event_subscriptions (consumer_id);
CREATE INDEX oc_openconnector_event_subscriptions_ix3 ON oc_openconnector_event_subscriptions (user_id);

CREATE TABLE oc_openconnector_event_messages (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    event_id BIGINT NOT NULL,
    consumer_id BIGINT,
    subscription_id BIGINT NOT NULL,
    status VARCHAR(255),
    payload LONGTEXT,
    last_response LONGTEXT,
    retry_count BIGINT,
    last_attempt DATETIME(6),
    next_attempt DATETIME(6),
    expires DATETIME(6),
    created DATETIME(6),
    updated DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_event_messages_uq_uuid ON oc_openconnector_event_messages (uuid);
CREATE INDEX oc_openconnector_event_messages_ix1 ON oc_openconnector_event_messages (event_id);
CREATE INDEX oc_openconnector_event_messages_ix2 ON oc_openconnector_event_messages (subscription_id);
CREATE INDEX oc_openconnector_event_messages_ix3 ON oc_openconnector_event_messages (status, next_attempt);
CREATE INDEX oc_openconnector_event_messages_ix4 ON oc_openconnector_event_messages (expires);

CREATE TABLE oc_openconnector_call_logs (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    status_code BIGINT,
    status_message VARCHAR(255),
    request LONGTEXT,
    response LONGTEXT,
    source_id BIGINT NOT NULL,
    action_id BIGINT,
    synchronization_id BIGINT,
    user_id VARCHAR(255),
    session_id VARCHAR(255),
    created DATETIME(6),
    expires DATETIME(6),
    size BIGINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_call_logs_uq_uuid ON oc_openconnector_call_logs (uuid);
CREATE INDEX oc_openconnector_call_logs_ix1 ON oc_openconnector_call_logs (source_id, status_code, id);
CREATE INDEX oc_openconnector_call_logs_ix2 ON oc_openconnector_call_logs (status_code, created, id);
CREATE INDEX oc_openconnector_call_logs_ix3 ON oc_openconnector_call_logs (synchronization_id, id);
CREATE INDEX oc_openconnector_call_logs_ix4 ON oc_openconnector_call_logs (created, id);
CREATE INDEX oc_openconnector_call_logs_ix5 ON oc_openconnector_call_logs (expires);

CREATE TABLE oc_openconnector_job_logs (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    level VARCHAR(255),
    message LONGTEXT,
    job_id BIGINT NOT NULL,
    job_list_id VARCHAR(255),
    job_class VARCHAR(255),
    arguments LONGTEXT,
    execution_time BIGINT,
    user_id VARCHAR(255),
    session_id VARCHAR(255),
    stack_trace LONGTEXT,
    expires DATETIME(6),
    last_run DATETIME(6),
    next_run DATETIME(6),
    created DATETIME(6),
    size BIGINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_job_logs_uq_uuid ON oc_openconnector_job_logs (uuid);
CREATE INDEX oc_openconnector_job_logs_ix1 ON oc_openconnector_job_logs (job_id, level, id);
CREATE INDEX oc_openconnector_job_logs_ix2 ON oc_openconnector_job_logs (level, created, id);
CREATE INDEX oc_openconnector_job_logs_ix3 ON oc_openconnector_job_logs (created, id);
CREATE INDEX oc_openconnector_job_logs_ix4 ON oc_openconnector_job_logs (expires);

CREATE TABLE oc_openconnector_synchronization_logs (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    message VARCHAR(255),
    synchronization_id VARCHAR(255) NOT NULL,
    result LONGTEXT,
    user_id VARCHAR(255),
    session_id VARCHAR(255),
    test BOOLEAN,
    force_run BOOLEAN,
    execution_time BIGINT,
    created DATETIME(6),
    expires DATETIME(6),
    size BIGINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_synchronization_logs_uq_uuid ON oc_openconnector_synchronization_logs (uuid);
CREATE INDEX oc_openconnector_synchronization_logs_ix1 ON oc_openconnector_synchronization_logs (synchronization_id, id);
CREATE INDEX oc_openconnector_synchronization_logs_ix2 ON oc_openconnector_synchronization_logs (created, id);
CREATE INDEX oc_openconnector_synchronization_logs_ix3 ON oc_openconnector_synchronization_logs (expires);

CREATE TABLE oc_openconnector_synchronization_contract_logs (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    message VARCHAR(255),
    synchronization_id VARCHAR(255) NOT NULL,
    synchronization_contract_id VARCHAR(255),
    synchronization_log_id VARCHAR(255),
    source LONGTEXT,
    target LONGTEXT,
    target_result VARCHAR(255),
    user_id VARCHAR(255),
    session_id VARCHAR(255),
    test BOOLEAN,
    force_run BOOLEAN,
    expires DATETIME(6),
    created DATETIME(6),
    size BIGINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX oc_openconnector_synchronization_contract_logs_uq_uuid ON oc_openconnector_synchronization_contract_logs (uuid);
CREATE INDEX oc_openconnector_synchronization_contract_logs_ix1 ON oc_openconnector_synchronization_contract_logs (synchronization_id, id);
CREATE INDEX oc_openconnector_synchronization_contract_logs_ix2 ON oc_openconnector_synchronization_contract_logs (synchronization_contract_id);
CREATE INDEX oc_openconnector_synchronization_contract_logs_ix3 ON oc_openconnector_synchronization_contract_logs (synchronization_log_id);
CREATE INDEX oc_openconnector_synchronization_contract_logs_ix4 ON oc_openconnector_synchronization_contract_logs (created);
CREATE INDEX oc_openconnector_synchronization_contract_logs_ix5 ON oc_openconnector_synchronization_contract_logs (expires);
