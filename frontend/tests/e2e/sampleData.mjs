/**
 * Sample logs for the README screenshot of the dashboard (the API has no route that creates them).
 * Deterministic: the same picture every run.
 */
const HOUR = 3600000

/** @param {Date} now @return {Array<object>} call logs over the last 7 days */
export function sampleCallLogs(now) {
	const logs = []
	let id = 1
	for (let day = 6; day >= 0; day--) {
		for (let hour = 0; hour < 24; hour++) {
			const busy = hour >= 7 && hour <= 18 ? 4 + ((hour * 7 + day * 3) % 5) : (hour + day) % 2
			for (let n = 0; n < busy; n++) {
				const created = new Date(now.getTime() - day * 24 * HOUR - (now.getHours() - hour) * HOUR - n * 60000)
				if (created > now) continue
				const roll = (id * 37) % 100
				const statusCode = roll < 88 ? 200 : roll < 94 ? 503 : roll < 97 ? 429 : 404
				logs.push({ id, sourceId: 1 + (id % 3), statusCode, statusMessage: statusCode === 200 ? 'OK' : statusCode === 503 ? 'Service Unavailable' : statusCode === 429 ? 'Too Many Requests' : 'Not Found', created: created.toISOString() })
				id++
			}
		}
	}
	return logs.sort((a, b) => b.created.localeCompare(a.created))
}

/** @param {Date} now @return {Array<object>} job logs */
export function sampleJobLogs(now) {
	return [0, 1, 2].map((i) => ({ id: 10 + i, jobId: 1, level: i === 1 ? 'WARNING' : 'INFO', message: i === 1 ? 'Stopped synchronization: rate limit reached' : 'Synchronized 42 successfully', created: new Date(now.getTime() - (i * 3 + 1) * HOUR).toISOString() }))
}

/** @param {Date} now @return {Array<object>} synchronization logs */
export function sampleSyncLogs(now) {
	return [0, 1].map((i) => ({ id: 20 + i, synchronizationId: '1', message: 'Synchronization finished', result: { objects: { found: 42, created: 3 - i, updated: 5, deleted: 0, skipped: 34, invalid: 0 } }, created: new Date(now.getTime() - (i * 4 + 2) * HOUR).toISOString() }))
}
