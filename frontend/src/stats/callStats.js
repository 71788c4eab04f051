import { isRetryableStatus } from '../format.js'

export const DAY_MS = 86400000

/**
 * @param {Date} date a moment
 * @return {string} its local calendar day, YYYY-MM-DD
 */
export function dayKey(date) {
	const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000)
	return local.toISOString().slice(0, 10)
}

/**
 * @param {Date} now the current moment
 * @param {number} days how many days back (today included)
 * @return {Array<string>} the day keys, oldest first
 */
export function lastDays(now, days = 7) {
	return Array.from({ length: days }, (_, i) => dayKey(new Date(now.getTime() - (days - 1 - i) * DAY_MS)))
}

/** @param {object} log call log @return {boolean} true when the call succeeded (status < 400) */
const succeeded = (log) => typeof log.statusCode === 'number' && log.statusCode < 400

/**
 * Calls per day, split in success and error, for the charts.
 *
 * @param {Array<object>} logs call logs ({statusCode, created})
 * @param {Date} now the current moment
 * @param {number} days number of days
 * @return {{labels: string[], success: number[], error: number[]}} series
 */
export function callsPerDay(logs, now = new Date(), days = 7) {
	const labels = lastDays(now, days)
	const index = new Map(labels.map((label, i) => [label, i]))
	const success = labels.map(() => 0)
	const error = labels.map(() => 0)
	for (const log of logs) {
		if (!log.created) continue
		const i = index.get(dayKey(new Date(log.created)))
		if (i === undefined) continue
		if (succeeded(log)) success[i]++
		else error[i]++
	}
	return { labels, success, error }
}

/**
 * Calls per hour of the day (0–23, local time), split in success and error.
 *
 * @param {Array<object>} logs call logs
 * @return {{labels: string[], success: number[], error: number[]}} series
 */
export function callsPerHour(logs) {
	const labels = Array.from({ length: 24 }, (_, hour) => String(hour).padStart(2, '0'))
	const success = labels.map(() => 0)
	const error = labels.map(() => 0)
	for (const log of logs) {
		if (!log.created) continue
		const hour = new Date(log.created).getHours()
		if (succeeded(log)) success[hour]++
		else error[hour]++
	}
	return { labels, success, error }
}

/**
 * Pipeline health: ok (< 400), retry (transient: 408, 429, 5xx, no answer) and failed (other 4xx).
 *
 * @param {Array<object>} logs call logs of the period
 * @return {{ok: number, retry: number, failed: number}} counts
 */
export function pipelineHealth(logs) {
	const health = { ok: 0, retry: 0, failed: 0 }
	for (const log of logs) {
		const status = log.statusCode
		if (typeof status !== 'number' || status === 0) health.retry++
		else if (status < 400) health.ok++
		else if (isRetryableStatus(status)) health.retry++
		else health.failed++
	}
	return health
}

/**
 * Recent runs of jobs and synchronizations, newest first.
 *
 * @param {Array<object>} jobLogs job logs
 * @param {Array<object>} syncLogs synchronization logs
 * @param {number} limit how many
 * @return {Array<{kind: string, id: number, ownerId: *, status: string, message: string, created: string}>} runs
 */
export function recentRuns(jobLogs, syncLogs, limit = 8) {
	const runs = [
		...jobLogs.map((log) => ({ kind: 'job', id: log.id, ownerId: log.jobId, status: String(log.level ?? '').toLowerCase() || 'info', message: log.message ?? '', created: log.created })),
		...syncLogs.map((log) => ({ kind: 'synchronization', id: log.id, ownerId: log.synchronizationId, status: syncStatus(log), message: log.message ?? '', created: log.created })),
	]
	return runs.sort((a, b) => String(b.created).localeCompare(String(a.created))).slice(0, limit)
}

/** @param {object} log synchronization log @return {string} "error" when the result says so, else "success" */
function syncStatus(log) {
	const result = log.result ?? {}
	if (result.error || (result.objects && result.objects.invalid > 0)) return 'error'
	return 'success'
}
