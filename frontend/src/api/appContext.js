import { loadState } from '@nextcloud/initial-state'

/**
 * Reads an initial state Nextcloud put into the page, or undefined when there is none
 * (standalone, or a key that was not provided).
 *
 * @param {string} app the app id the state was provided for
 * @param {string} key the state key
 * @return {*} the state or undefined
 */
function readInitialState(app, key) {
	try {
		return loadState(app, key)
	} catch {
		return undefined
	}
}

/**
 * An initial state that may arrive as an object or as its JSON text.
 *
 * @param {*} state the state as loaded
 * @return {object|undefined} the object, or undefined
 */
function parseState(state) {
	if (typeof state === 'string') {
		try {
			return JSON.parse(state)
		} catch {
			return undefined
		}
	}
	return state && typeof state === 'object' ? state : undefined
}

/**
 * Works out where the app lives and how it talks to its API, once, at load time.
 *
 * - routerBase: the path of document.baseURI (the server writes <base href> with the app's base path:
 *   "/" standalone, "/index.php/apps/app_api/proxy/openconnector/" under the AppAPI proxy).
 * - apiBase: new URL('api/', document.baseURI), unless Nextcloud provided the initial state
 *   `openconnector/api-base`, which wins.
 * - inNextcloud: requests carry Nextcloud's session (no admin token) when an initial state is present,
 *   the `OC` global exists, or the page is served through the AppAPI proxy / HaRP.
 *
 * @param {object} [env] injectable environment for tests
 * @return {{routerBase: string, apiBase: string, inNextcloud: boolean}}
 */
export function resolveAppContext(env = {}) {
	const baseURI = env.baseURI ?? document.baseURI
	// Under AppAPI the service registers the initial state `api-base` for the top-menu page; AppAPI
	// provides it as app `app_api`, as an object {apiBase, routerBase} (or its JSON text).
	const appApiState = parseState(readInitialState('app_api', 'api-base'))
	const stateApiBase = env.stateApiBase !== undefined
		? env.stateApiBase
		: (readInitialState('openconnector', 'api-base') ?? appApiState?.apiBase)
	const stateRouterBase = env.stateRouterBase !== undefined
		? env.stateRouterBase
		: (readInitialState('openconnector', 'router-base') ?? appApiState?.routerBase)
	const hasOC = env.hasOC ?? (typeof window !== 'undefined' && typeof window.OC !== 'undefined')

	const base = new URL(baseURI)
	let apiBase = new URL('api/', base).href
	if (typeof stateApiBase === 'string' && stateApiBase !== '') {
		apiBase = new URL(stateApiBase.endsWith('/') ? stateApiBase : stateApiBase + '/', base).href
	}
	const routerBase = typeof stateRouterBase === 'string' && stateRouterBase !== '' ? stateRouterBase : base.pathname
	const proxied = /\/apps\/app_api\/(proxy|embedded)\/|^\/exapps\//.test(base.pathname)
	return {
		routerBase,
		apiBase,
		inNextcloud: Boolean(stateApiBase) || hasOC || proxied,
	}
}

let current = null

/** @return {{routerBase: string, apiBase: string, inNextcloud: boolean}} the context of this page */
export function appContext() {
	if (!current) current = resolveAppContext()
	return current
}

/** Replaces the context (tests). @param {object|null} ctx the context */
export function setAppContext(ctx) {
	current = ctx
}
