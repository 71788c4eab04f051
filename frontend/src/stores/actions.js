import { defineStore } from 'pinia'
import { api } from '../api/client.js'

/**
 * The product's actions whose routes the back end does not serve yet. They are kept here, apart from
 * CRUD, so they light up when the routes land. Each action records { running, result, error } under
 * its name; a 404 shows as "not available yet" in the UI.
 *
 * Documented shapes (reference-openconnector.md §2.2, §3.6, §4.7, §5.8, §7):
 * - POST sources/test/{id}        {method, endpoint, headers, query, body, type} → CallLog
 * - POST mappings/test            {inputObject, mapping, schema?, validation?} → {resultObject, isValid, validationErrors}
 * - POST synchronizations/{id}/run|test  {test, force} → SynchronizationLog (result.objects counts)
 * - GET  synchronizations/{id}/progress  → {running, stage, processed, found, expected} (polled while a run is in flight)
 * - POST jobs/run/{id} {forceRun} | POST jobs/test/{id} → JobLog (or null when not due)
 * - POST sources/logs/{id}/retry   → CallLog of the repeated call
 * - POST import (multipart `file` or {json}) → {message, …}
 */
export const useActionsStore = defineStore('actions', {
	state: () => ({
		testSource: idle(),
		testMapping: idle(),
		runSynchronization: idle(),
		runJob: idle(),
		retryCall: idle(),
		importFile: idle(),
	}),
	actions: {
		async perform(name, request) {
			this[name] = { ...idle(), running: true }
			try {
				const result = await request()
				this[name] = { ...idle(), result, done: true }
				return result
			} catch (error) {
				this[name] = { ...idle(), error, done: true }
				return null
			}
		},
		reset(name) {
			this[name] = idle()
		},
		testSourceCall(sourceId, { method = 'GET', endpoint = '', headers = {}, query = {}, body = '', type = 'json' } = {}) {
			return this.perform('testSource', () => api.post(`sources/test/${encodeURIComponent(sourceId)}`, { method, endpoint, headers, query, body, type }))
		},
		testMappingWith(mapping, inputObject, { schema, validation } = {}) {
			return this.perform('testMapping', () => api.post('mappings/test', { inputObject, mapping, schema, validation }))
		},
		/**
		 * Runs (or tests) a synchronization, polling its progress while the run is in flight.
		 *
		 * @param {string|number} id synchronization id
		 * @param {object} options test, force, pollMs
		 * @return {Promise<object|null>} the synchronization log
		 */
		async runSynchronizationNow(id, { test = false, force = false, pollMs = 500 } = {}) {
			const progress = { running: true, processed: 0, found: 0, stage: 'starting', percent: null }
			let polling = true
			const poll = async () => {
				while (polling) {
					await new Promise((resolve) => setTimeout(resolve, pollMs))
					if (!polling) break
					try {
						const live = await api.get(`synchronizations/${encodeURIComponent(id)}/progress`)
						Object.assign(progress, live, { percent: (live.expected || live.found) ? Math.min(100, Math.round((100 * live.processed) / (live.expected || live.found))) : null })
						if (this.runSynchronization.running) this.runSynchronization = { ...this.runSynchronization, progress: { ...progress } }
					} catch {
						// No progress route (yet): the bar stays indeterminate.
					}
				}
			}
			const action = test ? 'test' : 'run'
			const run = this.perform('runSynchronization', () => api.post(`synchronizations/${encodeURIComponent(id)}/${action}`, { test, force }))
			this.runSynchronization = { ...this.runSynchronization, progress: { ...progress } }
			poll()
			const log = await run
			polling = false
			const objects = log?.result?.objects
			if (objects) {
				this.runSynchronization = { ...this.runSynchronization, progress: { running: false, processed: objects.found, found: objects.found, percent: 100, stage: 'done' } }
			}
			return log
		},
		runJobNow(id, { test = false, forceRun = false } = {}) {
			return this.perform('runJob', () => test
				? api.post(`jobs/test/${encodeURIComponent(id)}`, {})
				: api.post(`jobs/run/${encodeURIComponent(id)}`, { forceRun }))
		},
		retryCallLog(logId) {
			return this.perform('retryCall', () => api.post(`sources/logs/${encodeURIComponent(logId)}/retry`, {}))
		},
		importConfiguration(file) {
			const form = new FormData()
			form.append('file', file)
			return this.perform('importFile', () => api.post('import', form))
		},
	},
})

/** @return {object} the state of an action that has not run */
function idle() {
	return { running: false, done: false, result: null, error: null, progress: null }
}
