import { setAppContext } from '../../src/api/appContext.js'

/** Standalone context at "/" for every test unless a test sets another. */
export function standaloneContext() {
	setAppContext({ routerBase: '/', apiBase: 'http://localhost/api/', inNextcloud: false })
}

/**
 * Replaces fetch with a list of canned answers, recording the requests.
 *
 * @param {Array<{status: number, body?: *, headers?: object}>} answers answers in order (the last one repeats)
 * @return {Array<{url: string, options: object}>} the recorded requests
 */
export function mockFetch(answers) {
	const calls = []
	globalThis.fetch = async (url, options = {}) => {
		calls.push({ url: String(url), options })
		const answer = answers[Math.min(calls.length - 1, answers.length - 1)]
		const text = answer.body === undefined ? '' : JSON.stringify(answer.body)
		return {
			ok: answer.status >= 200 && answer.status < 300,
			status: answer.status,
			statusText: answer.statusText ?? '',
			headers: new Headers(answer.headers ?? {}),
			text: async () => text,
			blob: async () => new Blob([text], { type: 'application/json' }),
		}
	}
	return calls
}
