import { defineStore } from 'pinia'
import { api } from '../api/client.js'
import { downloadFromApi } from '../api/download.js'

/**
 * The product's actions beside CRUD. Each action records { running, result, error, subject } under
 * its name (subject: the object it acts on, when it matters); a 404 from a server without the route
 * shows as "not available" in the UI.
 *
 * Documented shapes (reference-openconnector.md §2.2, §3.6, §4.7, §5.8, §7):
 * - POST sources/test/{id}        {method, endpoint, headers, query, body, type} → CallLog
 * - POST mappings/test            {inputObject, mapping, schema?, validation?} → {resultObject, isValid, validationErrors}
 * - POST synchronizations/{id}/run|test  {test, force} → SynchronizationLog (result.objects counts)
 * - GET  synchronizations/{id}/progress  → {running, stage, processed, found, expected} (polled while a run is in flight)
 * - POST jobs/run/{id} {forceRun} | POST jobs/test/{id} → JobLog (or null when not due)
 * - POST sources/logs/{id}/retry   → CallLog of the repeated call
 * - POST import {json: <the file's text>, filename} → 201/200 {message, created, updated, unchanged, warnings}
 *   (each entry {type, slug, id, name}); 400 {error, details: {<place in the document>: problem}}
 * - GET  export → the configuration bundle; GET export/{type}/{id} → one object as JSON-LD (attachments)
 */
export const useActionsStore = defineStore('actions', {
	state: () => ({
		testSource: idle(),
		testMapping: idle(),
		runSynchronization: idle(),
		runJob: idle(),
		retryCall: idle(),
		importFile: idle(),
		exportFile: idle(),
	}),
	actions: {
		/**
		 * Runs one action, recording its state under its name.
		 *
		 * @param {string} name state key
		 * @param {Function} request returns a promise of the result
		 * @param {string|null} [subject] what the action acts on (e.g. the synchronization's id)
		 * @return {Promise<*>} the result, null when it failed
		 */
		async perform(name, request, subject = null) {
			this[name] = { ...idle(), running: true, subject }
			try {
				const result = await request()
				this[name] = { ...idle(), result, done: true, subject }
				return result
			} catch (error) {
				this[name] = { ...idle(), error, done: true, subject }
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
		 * Runs (or tests) a synchronization, polling its progress while the run is in flight. Closing the
		 * dialog does not stop it: the request and the polling go on, and the state stays under the
		 * synchronization's id (subject) so reopening the dialog shows the run.
		 *
		 * @param {string|number} id synchronization id
		 * @param {object} options test, force, pollMs
		 * @return {Promise<object|null>} the synchronization log
		 */
		async runSynchronizationNow(id, { test = false, force = false, pollMs = 500 } = {}) {
			const subject = String(id)
			const progress = { running: true, processed: 0, found: 0, stage: 'starting', percent: null }
			let polling = true
			const poll = async () => {
				while (polling) {
					await new Promise((resolve) => setTimeout(resolve, pollMs))
					if (!polling) break
					try {
						const live = await api.get(`synchronizations/${encodeURIComponent(id)}/progress`)
						Object.assign(progress, live, { percent: (live.expected || live.found) ? Math.min(100, Math.round((100 * live.processed) / (live.expected || live.found))) : null })
						if (this.runSynchronization.running && this.runSynchronization.subject === subject) this.runSynchronization = { ...this.runSynchronization, progress: { ...progress } }
					} catch {
						// No progress route (yet): the bar stays indeterminate.
					}
				}
			}
			const action = test ? 'test' : 'run'
			const run = this.perform('runSynchronization', () => api.post(`synchronizations/${encodeURIComponent(id)}/${action}`, { test, force }), subject)
			this.runSynchronization = { ...this.runSynchronization, progress: { ...progress } }
			poll()
			const log = await run
			polling = false
			const objects = log?.result?.objects
			if (objects && this.runSynchronization.subject === subject) {
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
		/**
		 * Imports a configuration file: its text is read here and sent as JSON.
		 *
		 * @param {File} file a configuration bundle or one exported object (.json)
		 * @return {Promise<object|null>} the import report
		 */
		importConfiguration(file) {
			return this.perform('importFile', async () => api.post('import', { json: await file.text(), filename: file.name }))
		},
		/** Downloads the whole configuration as one bundle. @return {Promise<string|null>} the file name */
		exportConfiguration() {
			return this.perform('exportFile', () => downloadFromApi('export', 'openconnector-configuration.json'), 'configuration')
		},
		/**
		 * Downloads one object as JSON-LD.
		 *
		 * @param {string} type source, mapping, rule, endpoint, synchronization or job
		 * @param {string|number} id the object's id
		 * @return {Promise<string|null>} the file name
		 */
		exportObject(type, id) {
			return this.perform('exportFile', () => downloadFromApi(`export/${encodeURIComponent(type)}/${encodeURIComponent(id)}`, `${type}-${id}.json`), `${type}/${id}`)
		},
	},
})

/** @return {object} the state of an action that has not run */
function idle() {
	return { running: false, done: false, result: null, error: null, progress: null, subject: null }
}
