import { describe, expect, it } from 'vitest'
import { callsPerDay, callsPerHour, pipelineHealth, recentRuns } from '../../src/stats/callStats.js'

const now = new Date('2026-11-23T15:00:00')
const at = (daysAgo, hour, statusCode) => ({ statusCode, created: new Date(now.getFullYear(), now.getMonth(), now.getDate() - daysAgo, hour, 5).toISOString() })

describe('call statistics', () => {
	it('counts calls per day of the last 7 days', () => {
		const stats = callsPerDay([at(0, 9, 200), at(0, 10, 500), at(6, 9, 201), at(8, 9, 200)], now)
		expect(stats.labels).toHaveLength(7)
		expect(stats.success).toEqual([1, 0, 0, 0, 0, 0, 1])
		expect(stats.error).toEqual([0, 0, 0, 0, 0, 0, 1])
	})

	it('counts calls per hour of the day', () => {
		const stats = callsPerHour([at(0, 9, 200), at(1, 9, 404), at(2, 23, 200)])
		expect(stats.success[9]).toBe(1)
		expect(stats.error[9]).toBe(1)
		expect(stats.success[23]).toBe(1)
	})

	it('splits pipeline health into ok, retry (408, 429, 5xx, no answer) and failed', () => {
		expect(pipelineHealth([{ statusCode: 200 }, { statusCode: 302 }, { statusCode: 429 }, { statusCode: 503 }, { statusCode: null }, { statusCode: 404 }, { statusCode: 400 }]))
			.toEqual({ ok: 2, retry: 3, failed: 2 })
	})

	it('merges job and synchronization runs, newest first', () => {
		const runs = recentRuns(
			[{ id: 1, jobId: 2, level: 'ERROR', message: 'boom', created: '2026-11-23T10:00:00Z' }],
			[{ id: 5, synchronizationId: '3', message: 'done', result: { objects: { invalid: 0 } }, created: '2026-11-23T11:00:00Z' }],
		)
		expect(runs.map((run) => [run.kind, run.status])).toEqual([['synchronization', 'success'], ['job', 'error']])
	})
})
