import { defineStore } from 'pinia'
import { api } from '../api/client.js'
import { LOGS } from '../entities/index.js'
import { PAGE_SIZE } from './entityStore.js'

/**
 * A store for one log list (call logs, job logs, synchronization logs, …): paging, filters
 * (including date_from/date_to and the owner filter such as source_id), newest first, delete.
 *
 * @param {string} logKind a key of LOGS
 * @return {Function} the store hook
 */
export function defineLogStore(logKind) {
	const { apiPath } = LOGS[logKind]
	return defineStore(`logs:${logKind}`, {
		state: () => ({
			items: [],
			total: 0,
			page: 1,
			pages: 1,
			limit: PAGE_SIZE,
			filters: {},
			loading: false,
			error: null,
		}),
		actions: {
			async fetchList(page = this.page) {
				this.loading = true
				this.error = null
				try {
					const data = await api.get(apiPath, { _page: page, _limit: this.limit, _order: { created: 'desc' }, ...this.filters })
					this.items = data.results ?? []
					this.total = data.total ?? this.items.length
					this.page = data.page ?? page
					this.pages = Math.max(1, data.pages ?? 1)
				} catch (error) {
					this.items = []
					this.total = 0
					this.error = error
				} finally {
					this.loading = false
				}
			},
			setFilters(filters) {
				this.filters = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== '' && v !== null && v !== undefined))
				this.page = 1
			},
			async remove(id) {
				try {
					await api.delete(`${apiPath}/${id}`)
					this.items = this.items.filter((log) => log.id !== id)
					this.total = Math.max(0, this.total - 1)
					return true
				} catch (error) {
					this.error = error
					return false
				}
			},
		},
	})
}

const stores = {}

/** @param {string} logKind a key of LOGS @return {object} the store instance */
export function useLogStore(logKind) {
	stores[logKind] ??= defineLogStore(logKind)
	return stores[logKind]()
}
