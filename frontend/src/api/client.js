import { appContext } from './appContext.js'

const TOKEN_KEY = 'openconnector.adminToken'

/** An error answered by the API: status, message and per-field details. */
export class ApiError extends Error {
	/**
	 * @param {number} status HTTP status (0 = network failure)
	 * @param {string} message human message
	 * @param {object} [details] problem per field name
	 * @param {string} [path] the request path
	 */
	constructor(status, message, details = {}, path = '') {
		super(message)
		this.name = 'ApiError'
		this.status = status
		this.details = details || {}
		this.path = path
	}

	/** @return {boolean} true when the route does not exist (yet) or the object is gone */
	get isNotFound() {
		return this.status === 404
	}
}

/** @return {string|null} the admin token saved for standalone use */
export function getToken() {
	try {
		return localStorage.getItem(TOKEN_KEY)
	} catch {
		return null
	}
}

/** @param {string|null} token the admin token, null to forget it */
export function setToken(token) {
	if (token) localStorage.setItem(TOKEN_KEY, token)
	else localStorage.removeItem(TOKEN_KEY)
}

let onUnauthorized = () => {}
/** @param {Function} handler called on every 401 answer */
export function setUnauthorizedHandler(handler) {
	onUnauthorized = handler
}

let requestTokenProvider = null
/** @param {Function|null} provider returns Nextcloud's CSRF request token (inside Nextcloud) */
export function setRequestTokenProvider(provider) {
	requestTokenProvider = provider
}

/**
 * Builds the query string the list routes understand; nested objects become `key[sub]=value`
 * (for `_order[field]=asc`), empty values are left out.
 *
 * @param {object} params query parameters
 * @return {string} "?a=b&…" or ""
 */
export function toQuery(params = {}) {
	const search = new URLSearchParams()
	for (const [key, value] of Object.entries(params)) {
		if (value === undefined || value === null || value === '') continue
		if (typeof value === 'object' && !Array.isArray(value)) {
			for (const [sub, subValue] of Object.entries(value)) {
				if (subValue !== undefined && subValue !== null && subValue !== '') search.append(`${key}[${sub}]`, subValue)
			}
		} else {
			search.append(key, Array.isArray(value) ? value.join(',') : value)
		}
	}
	const text = search.toString()
	return text ? '?' + text : ''
}

/**
 * Sends a request to the API with the credentials of the context: the admin token standalone,
 * Nextcloud's request token inside Nextcloud.
 *
 * @param {string} path e.g. "sources?_page=2"
 * @param {object} options method, body (JSON-encoded unless FormData), query, signal, accept
 * @return {Promise<Response>} the answer, whatever its status
 * @throws {ApiError} status 0 when the server cannot be reached
 */
async function send(path, { method = 'GET', body, query, signal, accept = 'application/json' } = {}) {
	const { apiBase, inNextcloud } = appContext()
	const url = new URL(path.replace(/^\//, '') + toQuery(query), apiBase).href
	const headers = { Accept: accept }
	if (inNextcloud) {
		const requestToken = requestTokenProvider?.()
		if (requestToken) headers.requesttoken = requestToken
	} else {
		const token = getToken()
		if (token) headers.Authorization = `Bearer ${token}`
	}
	let payload
	if (body instanceof FormData) {
		payload = body
	} else if (body !== undefined) {
		headers['Content-Type'] = 'application/json'
		payload = JSON.stringify(body)
	}
	try {
		return await fetch(url, { method, headers, body: payload, signal, credentials: 'same-origin' })
	} catch (error) {
		if (error?.name === 'AbortError') throw error
		throw new ApiError(0, error?.message || 'Network error', {}, path)
	}
}

/**
 * @param {Response} response the answer
 * @return {Promise<*>} its JSON body decoded, its text when it is not JSON, null when empty
 */
async function readBody(response) {
	const text = response.status === 204 ? '' : await response.text()
	if (!text) return null
	try {
		return JSON.parse(text)
	} catch {
		return text
	}
}

/**
 * @param {Response} response a non-2xx answer
 * @param {*} data its decoded body
 * @param {string} path the request path
 * @return {ApiError} the error to throw (a 401 also calls the unauthorized handler)
 */
function errorOf(response, data, path) {
	if (response.status === 401) onUnauthorized()
	const message = (data && typeof data === 'object' && (data.message || data.error)) || response.statusText || `HTTP ${response.status}`
	const details = data && typeof data === 'object' ? data.details : undefined
	return new ApiError(response.status, String(message), details, path)
}

/**
 * Calls the API. Relative paths resolve against the API base learnt at load time.
 *
 * @param {string} path e.g. "sources?_page=2"
 * @param {object} [options] method, body (JSON-encoded unless FormData), query, signal
 * @return {Promise<*>} the decoded JSON body (null for 204)
 * @throws {ApiError} for every non-2xx answer
 */
export async function apiRequest(path, options = {}) {
	const response = await send(path, options)
	const data = await readBody(response)
	if (!response.ok) throw errorOf(response, data, path)
	return data
}

/**
 * Fetches a file the API serves as an attachment (GET), with the same credentials as every call.
 *
 * @param {string} path e.g. "export/source/3"
 * @param {object} [options] query, signal
 * @return {Promise<{blob: Blob, filename: string}>} the body and the name from Content-Disposition ('' when none)
 * @throws {ApiError} for every non-2xx answer
 */
export async function apiDownload(path, { query, signal } = {}) {
	const response = await send(path, { query, signal, accept: 'application/json, */*' })
	if (!response.ok) throw errorOf(response, await readBody(response), path)
	return { blob: await response.blob(), filename: filenameFromDisposition(response.headers?.get('Content-Disposition')) }
}

/**
 * The file name of a Content-Disposition header: `filename*` (RFC 5987, UTF-8) before `filename`.
 *
 * @param {string|null} header e.g. `attachment; filename="Source-Pets-v1.0.0.json"`
 * @return {string} the name, without any folder part; '' when there is none
 */
export function filenameFromDisposition(header) {
	if (!header) return ''
	let name = ''
	const extended = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header)
	if (extended) {
		try {
			name = decodeURIComponent(extended[2].trim().replace(/^"(.*)"$/, '$1'))
		} catch {
			name = ''
		}
	}
	if (!name) {
		const plain = /filename\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]+)/i.exec(header)
		if (plain) name = plain[2] !== undefined ? plain[2].replace(/\\(.)/g, '$1') : plain[1].trim()
	}
	return name.split(/[/\\]/).pop().trim()
}

export const api = {
	get: (path, query, options) => apiRequest(path, { ...options, query }),
	post: (path, body, options) => apiRequest(path, { ...options, method: 'POST', body }),
	put: (path, body, options) => apiRequest(path, { ...options, method: 'PUT', body }),
	delete: (path, options) => apiRequest(path, { ...options, method: 'DELETE' }),
}
