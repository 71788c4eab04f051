import { defineStore } from 'pinia'
import { api } from '../api/client.js'
import { DAY_MS, callsPerDay, callsPerHour, pipelineHealth, recentRuns } from '../stats/callStats.js'

const MAX_CALL_PAGES = 4

/**
 * The dashboard: counts per entity (/api/dashboard), and — computed here from the log lists, since
 * the back end has no statistics routes — calls per day and hour, pipeline health, recent runs and
 * failed calls of the last 7 days.
 */
export const useDashboardStore = defineStore('dashboard', {
	state: () => ({
		counts: null,
		callLogs: [],
		callLogsTotal: 0,
		jobLogs: [],
		syncLogs: [],
		failedCalls: [],
		loading: false,
		error: null,
		sectionErrors: {},
	}),
	getters: {
		perDay: (state) => callsPerDay(state.callLogs),
		perHour: (state) => callsPerHour(state.callLogs),
		health: (state) => pipelineHealth(state.callLogs),
		runs: (state) => recentRuns(state.jobLogs, state.syncLogs),
	},
	actions: {
		async load(now = new Date()) {
			this.loading = true
			this.error = null
			this.sectionErrors = {}
			const since = new Date(now.getTime() - 6 * DAY_MS)
			since.setHours(0, 0, 0, 0)
			const section = (name, promise, fallback) => promise.catch((error) => {
				this.sectionErrors[name] = error
				return fallback
			})
			const [counts, calls, jobLogs, syncLogs, failed] = await Promise.all([
				// The counts show as soon as they arrive; the log-based cards follow.
				api.get('dashboard').then((counts) => {
					this.counts = counts
					return counts
				}, (error) => {
					this.error = error
					return null
				}),
				section('calls', this.fetchCalls(since.toISOString()), { results: [], total: 0 }),
				section('runs', api.get('jobs/logs', { _limit: 8, _order: { created: 'desc' } }), { results: [] }),
				section('runs', api.get('synchronizations/logs', { _limit: 8, _order: { created: 'desc' } }), { results: [] }),
				section('failed', api.get('sources/logs', { _limit: 6, _order: { created: 'desc' }, status_code: '400,599', date_from: since.toISOString() }), { results: [] }),
			])
			this.counts = counts
			this.callLogs = calls.results
			this.callLogsTotal = calls.total
			this.jobLogs = jobLogs.results ?? []
			this.syncLogs = syncLogs.results ?? []
			this.failedCalls = failed.results ?? []
			this.loading = false
		},
		/** The call logs since a moment (pages of 500, at most MAX_CALL_PAGES). */
		async fetchCalls(since) {
			const results = []
			let total = 0
			for (let page = 1; page <= MAX_CALL_PAGES; page++) {
				const data = await api.get('sources/logs', { _page: page, _limit: 500, date_from: since })
				results.push(...(data.results ?? []))
				total = data.total ?? results.length
				if (page >= (data.pages ?? 1)) break
			}
			return { results, total }
		},
	},
})
