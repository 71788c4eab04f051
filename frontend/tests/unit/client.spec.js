import { beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError, api, setRequestTokenProvider, setToken, setUnauthorizedHandler, toQuery } from '../../src/api/client.js'
import { setAppContext } from '../../src/api/appContext.js'
import { mockFetch, standaloneContext } from './setup.js'

describe('api client', () => {
	beforeEach(() => {
		localStorage.clear()
		standaloneContext()
	})

	it('builds list queries with nested order and ranges, leaving out empty values', () => {
		expect(toQuery({ _page: 2, _search: '', _order: { name: 'asc' }, status_code: '400,599', x: null }))
			.toBe('?_page=2&_order%5Bname%5D=asc&status_code=400%2C599')
	})

	it('sends the admin token standalone and resolves paths against the API base', async () => {
		setToken('secret-token')
		const calls = mockFetch([{ status: 200, body: { results: [] } }])
		await api.get('sources', { _limit: 5 })
		expect(calls[0].url).toBe('http://localhost/api/sources?_limit=5')
		expect(calls[0].options.headers.Authorization).toBe('Bearer secret-token')
	})

	it('inside Nextcloud sends the request token and no bearer token', async () => {
		setToken('secret-token')
		setAppContext({ routerBase: '/index.php/apps/app_api/proxy/openconnector/', apiBase: 'http://nc/index.php/apps/app_api/proxy/openconnector/api/', inNextcloud: true })
		setRequestTokenProvider(() => 'csrf-123')
		const calls = mockFetch([{ status: 200, body: {} }])
		await api.get('dashboard')
		expect(calls[0].url).toBe('http://nc/index.php/apps/app_api/proxy/openconnector/api/dashboard')
		expect(calls[0].options.headers.requesttoken).toBe('csrf-123')
		expect(calls[0].options.headers.Authorization).toBeUndefined()
		setRequestTokenProvider(null)
	})

	it('turns an error answer into an ApiError with per-field details', async () => {
		mockFetch([{ status: 400, body: { error: 'the request has invalid fields', details: { name: 'is required' } } }])
		const error = await api.post('sources', {}).catch((e) => e)
		expect(error).toBeInstanceOf(ApiError)
		expect(error.status).toBe(400)
		expect(error.message).toBe('the request has invalid fields')
		expect(error.details).toEqual({ name: 'is required' })
	})

	it('calls the unauthorized handler on 401', async () => {
		const handler = vi.fn()
		setUnauthorizedHandler(handler)
		mockFetch([{ status: 401, body: { error: 'authentication required' } }])
		await expect(api.get('sources')).rejects.toMatchObject({ status: 401 })
		expect(handler).toHaveBeenCalledOnce()
		setUnauthorizedHandler(() => {})
	})

	it('answers null for 204 and reports a 404 without a body', async () => {
		mockFetch([{ status: 204 }, { status: 404, statusText: 'Not Found' }])
		expect(await api.delete('sources/1')).toBeNull()
		const error = await api.post('synchronizations/1/run', {}).catch((e) => e)
		expect(error.isNotFound).toBe(true)
		expect(error.message).toBe('Not Found')
	})
})
