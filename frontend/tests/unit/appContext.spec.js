import { describe, expect, it } from 'vitest'
import { resolveAppContext } from '../../src/api/appContext.js'

describe('resolveAppContext', () => {
	it('standalone at /: router base "/" and API base /api/', () => {
		expect(resolveAppContext({ baseURI: 'http://127.0.0.1:8080/', stateApiBase: undefined, stateRouterBase: undefined, hasOC: false }))
			.toEqual({ routerBase: '/', apiBase: 'http://127.0.0.1:8080/api/', inNextcloud: false })
	})

	it('under the AppAPI proxy: paths follow <base href> and no token is needed', () => {
		const context = resolveAppContext({ baseURI: 'https://cloud.example/index.php/apps/app_api/proxy/openconnector/', stateApiBase: undefined, stateRouterBase: undefined, hasOC: false })
		expect(context.routerBase).toBe('/index.php/apps/app_api/proxy/openconnector/')
		expect(context.apiBase).toBe('https://cloud.example/index.php/apps/app_api/proxy/openconnector/api/')
		expect(context.inNextcloud).toBe(true)
	})

	it('the initial state api-base wins', () => {
		const context = resolveAppContext({ baseURI: 'https://cloud.example/index.php/apps/app_api/embedded/openconnector/main', stateApiBase: '/index.php/apps/app_api/proxy/openconnector/api', stateRouterBase: undefined, hasOC: true })
		expect(context.apiBase).toBe('https://cloud.example/index.php/apps/app_api/proxy/openconnector/api/')
		expect(context.inNextcloud).toBe(true)
	})
})
