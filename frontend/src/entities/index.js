/**
 * What the UI knows about each entity kind: its API path, its route, the columns of its list and the
 * fields of its form. One description drives the generic list, detail and edit views.
 *
 * Field types: text, textarea, number, boolean, select (options), reference (options from another kind),
 * keyvalue (object of strings; `valueEditor: 'template'` edits values as Twig templates), list (array of
 * strings), json (CodeMirror JSON), datetime. `readOnly` fields show in the detail view only.
 * `exportType` names the kind in the export and import routes (GET export/{type}/{id}); kinds
 * without it cannot be exported one by one.
 */

const name = { name: 'name', type: 'text' }
const description = { name: 'description', type: 'textarea' }
const version = { name: 'version', type: 'text' }
const slug = { name: 'slug', type: 'text', help: 'help.slug' }

export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']

export const ENTITIES = {
	sources: {
		kind: 'sources',
		routeName: 'sources',
		path: '/sources',
		exportType: 'source',
		icon: 'source',
		titleField: 'name',
		columns: ['name', 'type', 'location', 'isEnabled'],
		filters: [{ name: 'type', type: 'select', options: ['api', 'database', 'file', 'soap', 'xml'] }, { name: 'isEnabled', type: 'boolean' }],
		actions: ['testSource', 'sourceLogs'],
		fields: [
			name,
			description,
			{ name: 'type', type: 'select', options: ['api', 'database', 'file', 'soap', 'xml'] },
			{ name: 'location', type: 'text', placeholder: 'https://example.org/api' },
			{ name: 'isEnabled', type: 'boolean' },
			version,
			slug,
			{ name: 'configuration', type: 'keyvalue', help: 'help.configuration' },
			{ name: 'headers', type: 'keyvalue' },
			{ name: 'logRetention', type: 'number', unit: 'seconds' },
			{ name: 'errorRetention', type: 'number', unit: 'seconds' },
			{ name: 'rateLimitLimit', type: 'number' },
			{ name: 'rateLimitWindow', type: 'number', unit: 'seconds' },
			{ name: 'documentation', type: 'text' },
			{ name: 'lastCall', type: 'datetime', readOnly: true },
			{ name: 'lastSync', type: 'datetime', readOnly: true },
		],
	},
	endpoints: {
		kind: 'endpoints',
		routeName: 'endpoints',
		path: '/endpoints',
		exportType: 'endpoint',
		titleField: 'name',
		columns: ['name', 'method', 'endpoint', 'targetType'],
		filters: [{ name: 'method', type: 'select', options: METHODS }],
		actions: ['endpointLogs'],
		fields: [
			name,
			description,
			{ name: 'endpoint', type: 'text', placeholder: 'api/zaken/{{id}}' },
			{ name: 'method', type: 'select', options: METHODS },
			{ name: 'targetType', type: 'select', options: ['register/schema', 'api', 'source'] },
			{ name: 'targetId', type: 'text', placeholder: 'register/schema or source id' },
			{ name: 'inputMapping', type: 'reference', kind: 'mappings' },
			{ name: 'outputMapping', type: 'reference', kind: 'mappings' },
			{ name: 'rules', type: 'list', kind: 'rules' },
			{ name: 'conditions', type: 'json', help: 'help.jsonLogic' },
			version,
			slug,
		],
	},
	consumers: {
		kind: 'consumers',
		routeName: 'consumers',
		path: '/consumers',
		titleField: 'name',
		columns: ['name', 'authorizationType', 'userId'],
		filters: [{ name: 'authorizationType', type: 'select', options: ['none', 'basic', 'bearer', 'apiKey', 'oauth2', 'jwt'] }],
		actions: [],
		fields: [
			name,
			description,
			{ name: 'domains', type: 'list' },
			{ name: 'ips', type: 'list' },
			{ name: 'authorizationType', type: 'select', options: ['none', 'basic', 'bearer', 'apiKey', 'oauth2', 'jwt'] },
			{ name: 'authorizationConfiguration', type: 'json' },
			{ name: 'userId', type: 'text' },
		],
	},
	mappings: {
		kind: 'mappings',
		routeName: 'mappings',
		path: '/mappings',
		exportType: 'mapping',
		titleField: 'name',
		columns: ['name', 'description', 'version', 'passThrough'],
		filters: [{ name: 'passThrough', type: 'boolean' }],
		actions: ['testMapping'],
		fields: [
			name,
			description,
			version,
			slug,
			{ name: 'mapping', type: 'keyvalue', valueEditor: 'template', help: 'help.mapping' },
			{ name: 'cast', type: 'keyvalue', help: 'help.cast' },
			{ name: 'unset', type: 'list' },
			{ name: 'passThrough', type: 'boolean' },
		],
	},
	jobs: {
		kind: 'jobs',
		routeName: 'jobs',
		path: '/jobs',
		exportType: 'job',
		titleField: 'name',
		columns: ['name', 'jobClass', 'cron', 'isEnabled', 'nextRun', 'status'],
		filters: [{ name: 'isEnabled', type: 'boolean' }],
		actions: ['runJob', 'jobLogs'],
		fields: [
			name,
			description,
			{
				name: 'jobClass',
				type: 'select',
				options: ['OCA\\OpenConnector\\Action\\SynchronizationAction', 'OCA\\OpenConnector\\Action\\PingAction'],
			},
			{ name: 'arguments', type: 'keyvalue' },
			{ name: 'cron', type: 'text' },
			{ name: 'timeZone', type: 'text' },
			{ name: 'interval', type: 'number', unit: 'seconds' },
			{ name: 'executionTime', type: 'number', unit: 'seconds' },
			{ name: 'isEnabled', type: 'boolean' },
			{ name: 'singleRun', type: 'boolean' },
			{ name: 'timeSensitive', type: 'boolean' },
			{ name: 'allowParallelRuns', type: 'boolean' },
			{ name: 'scheduleAfter', type: 'datetime' },
			{ name: 'userId', type: 'text' },
			{ name: 'logRetention', type: 'number', unit: 'seconds' },
			{ name: 'errorRetention', type: 'number', unit: 'seconds' },
			version,
			slug,
			{ name: 'lastRun', type: 'datetime', readOnly: true },
			{ name: 'nextRun', type: 'datetime', readOnly: true },
		],
	},
	synchronizations: {
		kind: 'synchronizations',
		routeName: 'synchronizations',
		path: '/synchronizations',
		exportType: 'synchronization',
		titleField: 'name',
		columns: ['name', 'sourceType', 'targetType', 'sourceLastSynced'],
		filters: [{ name: 'sourceType', type: 'select', options: ['api', 'database', 'file', 'register/schema'] }],
		actions: ['runSynchronization', 'synchronizationContracts', 'synchronizationLogs'],
		fields: [
			name,
			description,
			{ name: 'sourceType', type: 'select', options: ['api', 'database', 'file', 'register/schema'] },
			{ name: 'sourceId', type: 'reference', kind: 'sources' },
			{ name: 'sourceConfig', type: 'keyvalue', help: 'help.sourceConfig' },
			{ name: 'sourceHashMapping', type: 'reference', kind: 'mappings' },
			{ name: 'sourceTargetMapping', type: 'reference', kind: 'mappings' },
			{ name: 'targetType', type: 'select', options: ['register/schema', 'api', 'database'] },
			{ name: 'targetId', type: 'text', placeholder: 'register/schema' },
			{ name: 'targetConfig', type: 'keyvalue' },
			{ name: 'targetSourceMapping', type: 'reference', kind: 'mappings' },
			{ name: 'conditions', type: 'json', help: 'help.jsonLogic' },
			{ name: 'actions', type: 'list', kind: 'rules' },
			{ name: 'followUps', type: 'list', kind: 'synchronizations' },
			version,
			slug,
			{ name: 'sourceLastSynced', type: 'datetime', readOnly: true },
			{ name: 'targetLastSynced', type: 'datetime', readOnly: true },
		],
	},
	rules: {
		kind: 'rules',
		routeName: 'rules',
		path: '/rules',
		exportType: 'rule',
		titleField: 'name',
		columns: ['name', 'type', 'action', 'timing', 'order'],
		filters: [{ name: 'type', type: 'select', options: ['authentication', 'error', 'mapping', 'synchronization', 'save_object', 'extend_input', 'fetch_file', 'write_file', 'locking', 'download', 'audit_trail', 'custom', 'javascript'] }],
		actions: [],
		fields: [
			name,
			description,
			{ name: 'type', type: 'select', options: ['authentication', 'error', 'mapping', 'synchronization', 'save_object', 'extend_input', 'extend_external_input', 'fetch_file', 'write_file', 'fileparts_create', 'filepart_upload', 'locking', 'override', 'download', 'audit_trail', 'custom', 'javascript'] },
			{ name: 'action', type: 'select', options: ['create', 'read', 'update', 'delete', 'post', 'get', 'put', 'patch'] },
			{ name: 'timing', type: 'select', options: ['before', 'after'] },
			{ name: 'order', type: 'number' },
			{ name: 'conditions', type: 'json', help: 'help.jsonLogic' },
			{ name: 'configuration', type: 'json' },
			version,
			slug,
		],
	},
	events: {
		kind: 'events',
		routeName: 'events',
		path: '/cloud-events/events',
		titleField: 'type',
		columns: ['type', 'source', 'subject', 'status', 'time'],
		filters: [{ name: 'status', type: 'select', options: ['pending', 'processed', 'failed'] }],
		actions: [],
		fields: [
			{ name: 'source', type: 'text', placeholder: '/objects/zaak' },
			{ name: 'type', type: 'text', placeholder: 'com.example.object.created' },
			{ name: 'subject', type: 'text' },
			{ name: 'specversion', type: 'text' },
			{ name: 'datacontenttype', type: 'text' },
			{ name: 'dataschema', type: 'text' },
			{ name: 'data', type: 'json' },
			{ name: 'status', type: 'select', options: ['pending', 'processed', 'failed'] },
			{ name: 'time', type: 'datetime', readOnly: true },
			{ name: 'processed', type: 'datetime', readOnly: true },
		],
	},
	'synchronization-contracts': {
		kind: 'synchronization-contracts',
		routeName: 'contracts',
		path: '/synchronizations/contracts',
		titleField: 'originId',
		columns: ['synchronizationId', 'originId', 'targetId', 'targetLastAction', 'sourceLastSynced'],
		filters: [{ name: 'synchronizationId', type: 'text' }, { name: 'targetLastAction', type: 'select', options: ['create', 'update', 'delete'] }],
		actions: [],
		fields: [
			{ name: 'synchronizationId', type: 'reference', kind: 'synchronizations' },
			{ name: 'originId', type: 'text' },
			{ name: 'originHash', type: 'text' },
			{ name: 'targetId', type: 'text' },
			{ name: 'targetHash', type: 'text' },
			{ name: 'targetLastAction', type: 'text' },
			{ name: 'sourceLastSynced', type: 'datetime', readOnly: true },
			{ name: 'targetLastSynced', type: 'datetime', readOnly: true },
		],
	},
}

/**
 * The log lists: call logs, endpoint logs (what our endpoints answered), job logs, synchronization
 * logs and event (delivery) messages, each a list route of the API with the usual
 * {results, total, page, pages} answer.
 */
export const LOGS = {
	sources: {
		kind: 'sources',
		apiPath: 'sources/logs',
		routeName: 'sourceLogs',
		path: '/sources/logs',
		parentKind: 'sources',
		parentFilter: 'source_id',
		columns: ['statusCode', 'statusMessage', 'sourceId', 'created'],
		filters: [
			{ name: 'status_code', type: 'select', options: ['200,299', '300,399', '400,499', '500,599'], label: 'field.statusCode' },
		],
	},
	endpoints: {
		kind: 'endpoints',
		apiPath: 'endpoints/logs',
		routeName: 'endpointLogs',
		path: '/endpoints/logs',
		parentKind: 'endpoints',
		parentFilter: 'endpoint_id',
		columns: ['statusCode', 'method', 'path', 'statusMessage', 'endpointId', 'created'],
		filters: [],
	},
	jobs: {
		kind: 'jobs',
		apiPath: 'jobs/logs',
		routeName: 'jobLogs',
		path: '/jobs/logs',
		parentKind: 'jobs',
		parentFilter: 'job_id',
		columns: ['level', 'message', 'jobId', 'executionTime', 'created'],
		filters: [{ name: 'level', type: 'select', options: ['SUCCESS', 'INFO', 'WARNING', 'ERROR', 'DEBUG'] }],
	},
	synchronizations: {
		kind: 'synchronizations',
		apiPath: 'synchronizations/logs',
		routeName: 'synchronizationLogs',
		path: '/synchronizations/logs',
		parentKind: 'synchronizations',
		parentFilter: 'synchronization_id',
		columns: ['message', 'synchronizationId', 'test', 'executionTime', 'created'],
		filters: [{ name: 'test', type: 'boolean' }],
	},
	events: {
		kind: 'events',
		apiPath: 'events/messages',
		routeName: 'eventLogs',
		path: '/cloud-events/logs',
		parentKind: 'events',
		parentFilter: 'event_id',
		columns: ['status', 'eventId', 'subscriptionId', 'retryCount', 'lastAttempt'],
		filters: [{ name: 'status', type: 'select', options: ['pending', 'delivered', 'failed'] }],
	},
}

/** @param {string} kind entity kind @return {object} its description */
export function entityDescription(kind) {
	const description = ENTITIES[kind]
	if (!description) throw new Error(`Unknown entity kind: ${kind}`)
	return description
}

/**
 * The entity kind a type name of the import and export routes stands for: "source", "Source" and
 * "sources" all give "sources".
 *
 * @param {string} type a type name
 * @return {string|null} the kind, null when the UI knows none
 */
export function kindOfType(type) {
	const lower = String(type ?? '').trim().toLowerCase()
	if (!lower) return null
	const entity = Object.values(ENTITIES).find((candidate) => candidate.kind === lower || candidate.exportType === lower || candidate.kind === `${lower}s`)
	return entity?.kind ?? null
}

/** @param {object} field a field description @return {*} the empty value for a new object */
export function emptyValue(field) {
	switch (field.type) {
	case 'boolean': return false
	case 'number': return null
	case 'keyvalue': return {}
	case 'list': return []
	case 'json': return null
	default: return ''
	}
}
