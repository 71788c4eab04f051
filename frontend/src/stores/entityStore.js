import { defineStore } from 'pinia'
import { api, ApiError } from '../api/client.js'
import { entityDescription } from '../entities/index.js'

export const PAGE_SIZE = 20

/**
 * One Pinia store per entity kind, all built by this factory: list (search, filters, order, paging),
 * the object being viewed, save (create or update) with per-field errors from the API, and delete.
 *
 * @param {string} kind API kind, e.g. "sources"
 * @return {Function} the store hook
 */
export function defineEntityStore(kind) {
	entityDescription(kind)
	return defineStore(`entity:${kind}`, {
		state: () => ({
			kind,
			items: [],
			total: 0,
			page: 1,
			pages: 1,
			limit: PAGE_SIZE,
			search: '',
			filters: {},
			order: {},
			loading: false,
			listError: null,
			current: null,
			currentError: null,
			saving: false,
			saveError: null,
			fieldErrors: {},
		}),
		actions: {
			/** Loads one page of the list with the current search, filters and order. */
			async fetchList(page = this.page) {
				this.loading = true
				this.listError = null
				try {
					const data = await api.get(kind, {
						_page: page,
						_limit: this.limit,
						_search: this.search,
						_order: this.order,
						...this.filters,
					})
					this.items = data.results ?? []
					this.total = data.total ?? this.items.length
					this.page = data.page ?? page
					this.pages = Math.max(1, data.pages ?? 1)
				} catch (error) {
					this.items = []
					this.total = 0
					this.listError = error
				} finally {
					this.loading = false
				}
			},
			/** @param {string} text search text (resets to page 1) */
			setSearch(text) {
				this.search = text
				this.page = 1
			},
			/** @param {object} filters field filters (resets to page 1) */
			setFilters(filters) {
				this.filters = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== '' && v !== null && v !== undefined))
				this.page = 1
			},
			/** Loads one object by id, uuid or slug. */
			async fetchOne(id) {
				this.currentError = null
				try {
					this.current = await api.get(`${kind}/${encodeURIComponent(id)}`)
				} catch (error) {
					this.current = null
					this.currentError = error
				}
				return this.current
			},
			/** Forgets errors of a previous save (when a form opens). */
			resetSaveState() {
				this.saveError = null
				this.fieldErrors = {}
			},
			/**
			 * Creates (no id) or updates (PUT) an object. On a 400 the API's per-field messages end up in
			 * fieldErrors, keyed by field name.
			 *
			 * @param {object} data the object
			 * @return {Promise<object|null>} the saved object, or null when the API refused it
			 */
			async save(data) {
				this.saving = true
				this.resetSaveState()
				try {
					const saved = data.id
						? await api.put(`${kind}/${encodeURIComponent(data.id)}`, data)
						: await api.post(kind, data)
					this.current = saved
					return saved
				} catch (error) {
					this.saveError = error
					this.fieldErrors = error instanceof ApiError ? { ...error.details } : {}
					return null
				} finally {
					this.saving = false
				}
			},
			/** Deletes an object; true when it is gone. */
			async remove(id) {
				try {
					await api.delete(`${kind}/${encodeURIComponent(id)}`)
					this.items = this.items.filter((item) => item.id !== id)
					this.total = Math.max(0, this.total - 1)
					if (this.current?.id === id) this.current = null
					return true
				} catch (error) {
					this.listError = error
					return false
				}
			},
			/** Every object of the kind (up to 500), for reference pickers. */
			async fetchOptions() {
				const data = await api.get(kind, { _limit: 500, _order: { name: 'asc' } }).catch(() => ({ results: [] }))
				return data.results ?? []
			},
		},
	})
}

const stores = {}

/**
 * The store of one entity kind (created on first use).
 *
 * @param {string} kind API kind
 * @return {object} the store instance
 */
export function useEntityStore(kind) {
	stores[kind] ??= defineEntityStore(kind)
	return stores[kind]()
}
