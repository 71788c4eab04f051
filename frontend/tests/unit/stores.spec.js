import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useEntityStore } from '../../src/stores/entityStore.js'
import { useLogStore } from '../../src/stores/logStore.js'
import { useActionsStore } from '../../src/stores/actions.js'
import { useDashboardStore } from '../../src/stores/dashboard.js'
import { mockFetch, standaloneContext } from './setup.js'

describe('entity store (one per kind, from the factory)', () => {
	beforeEach(() => {
		setActivePinia(createPinia())
		standaloneContext()
	})

	it('gives each kind its own store', () => {
		expect(useEntityStore('sources')).not.toBe(useEntityStore('mappings'))
		expect(useEntityStore('sources')).toBe(useEntityStore('sources'))
		expect(() => useEntityStore('nonsense')).toThrow()
	})

	it('lists a page with search, filters and order', async () => {
		const calls = mockFetch([{ status: 200, body: { results: [{ id: 1, name: 'A' }], total: 41, page: 3, pages: 3 } }])
		const store = useEntityStore('sources')
		store.setSearch('pet')
		store.setFilters({ type: 'api', isEnabled: '' })
		store.order = { name: 'desc' }
		await store.fetchList(3)
		expect(calls[0].url).toBe('http://localhost/api/sources?_page=3&_limit=20&_search=pet&_order%5Bname%5D=desc&type=api')
		expect(store.items).toHaveLength(1)
		expect(store.total).toBe(41)
		expect(store.pages).toBe(3)
	})

	it('keeps the API field messages after a refused save', async () => {
		mockFetch([{ status: 400, body: { error: 'the request has invalid fields', details: { name: 'is required', logRetention: 'expected an integer' } } }])
		const store = useEntityStore('sources')
		expect(await store.save({ location: 'x' })).toBeNull()
		expect(store.fieldErrors).toEqual({ name: 'is required', logRetention: 'expected an integer' })
		expect(store.saveError.status).toBe(400)
	})

	it('creates with POST and updates with PUT', async () => {
		const calls = mockFetch([{ status: 201, body: { id: 7, name: 'New' } }, { status: 200, body: { id: 7, name: 'Renamed' } }])
		const store = useEntityStore('mappings')
		await store.save({ name: 'New' })
		await store.save({ id: 7, name: 'Renamed' })
		expect(calls.map((c) => [c.options.method, c.url])).toEqual([['POST', 'http://localhost/api/mappings'], ['PUT', 'http://localhost/api/mappings/7']])
		expect(store.current.name).toBe('Renamed')
	})

	it('removes an item from the list after DELETE', async () => {
		mockFetch([{ status: 204 }])
		const store = useEntityStore('rules')
		store.items = [{ id: 1 }, { id: 2 }]
		store.total = 2
		expect(await store.remove(1)).toBe(true)
		expect(store.items).toEqual([{ id: 2 }])
		expect(store.total).toBe(1)
	})
})

describe('log store', () => {
	beforeEach(() => {
		setActivePinia(createPinia())
		standaloneContext()
	})

	it('lists call logs newest first with owner and status filters', async () => {
		const calls = mockFetch([{ status: 200, body: { results: [], total: 0, page: 1, pages: 1 } }])
		const store = useLogStore('sources')
		store.setFilters({ source_id: '3', status_code: '400,499' })
		await store.fetchList(1)
		expect(calls[0].url).toBe('http://localhost/api/sources/logs?_page=1&_limit=20&_order%5Bcreated%5D=desc&source_id=3&status_code=400%2C499')
	})
})

describe('actions store (routes that may not exist yet)', () => {
	beforeEach(() => {
		setActivePinia(createPinia())
		standaloneContext()
	})

	it('records a 404 as the action error instead of throwing', async () => {
		mockFetch([{ status: 404, statusText: 'Not Found' }])
		const actions = useActionsStore()
		expect(await actions.runJobNow(3, { forceRun: true })).toBeNull()
		expect(actions.runJob.error.status).toBe(404)
		expect(actions.runJob.running).toBe(false)
	})

	it('posts a source test with the documented body', async () => {
		const calls = mockFetch([{ status: 200, body: { statusCode: 200, response: { body: '{}' } } }])
		const actions = useActionsStore()
		await actions.testSourceCall(5, { method: 'POST', endpoint: '/pets', body: '{"a":1}' })
		expect(calls[0].url).toBe('http://localhost/api/sources/test/5')
		expect(JSON.parse(calls[0].options.body)).toEqual({ method: 'POST', endpoint: '/pets', headers: {}, query: {}, body: '{"a":1}', type: 'json' })
		expect(actions.testSource.result.statusCode).toBe(200)
	})

	it('runs a synchronization and ends the progress at 100 % with the object counts', async () => {
		mockFetch([{ status: 200, body: { message: 'ok', result: { objects: { found: 4, created: 4 } } } }])
		const actions = useActionsStore()
		await actions.runSynchronizationNow(1, { test: true, pollMs: 10000 })
		expect(actions.runSynchronization.progress).toMatchObject({ running: false, percent: 100, found: 4 })
		expect(actions.runSynchronization.result.result.objects.created).toBe(4)
	})
})

describe('dashboard store', () => {
	beforeEach(() => {
		setActivePinia(createPinia())
		standaloneContext()
	})

	it('shows counts and empty charts on a fresh install', async () => {
		globalThis.fetch = async (url) => {
			const path = new URL(url).pathname
			const body = path === '/api/dashboard' ? { sources: 0, mappings: 0, callLogs: 0 } : { results: [], total: 0, page: 1, pages: 1 }
			return { ok: true, status: 200, text: async () => JSON.stringify(body) }
		}
		const store = useDashboardStore()
		await store.load()
		expect(store.counts.sources).toBe(0)
		expect(store.callLogs).toEqual([])
		expect(store.health).toEqual({ ok: 0, retry: 0, failed: 0 })
		expect(store.runs).toEqual([])
	})
})
