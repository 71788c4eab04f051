import http from 'node:http'
import fs from 'node:fs'
import path from 'node:path'

const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json', '.png': 'image/png', '.woff2': 'font/woff2' }

/**
 * A tiny stand-in for the Rust binary's static serving, used until the binary serves the UI itself,
 * and to mimic the AppAPI proxy: serves `dist` under `basePath` (index.html for every non-API GET,
 * with %BASE_HREF% filled in), forwards `<basePath>api/…` to the binary. With `injectToken` it adds
 * the admin token itself, as AppAPI authenticates proxied requests for the browser.
 *
 * @param {object} options distDir, apiUrl (binary base URL), basePath ("/" or "/…/"), injectToken, gzip
 * @return {Promise<{url: string, close: Function}>} the running server
 */
export function startStaticServer({ distDir, apiUrl, basePath = '/', injectToken = null, port = 0 }) {
	const server = http.createServer((req, res) => {
		const url = new URL(req.url, 'http://localhost')
		if (!url.pathname.startsWith(basePath)) {
			res.writeHead(404).end()
			return
		}
		const rest = url.pathname.slice(basePath.length)
		if (rest.startsWith('api/') || rest === 'api') {
			const headers = { ...req.headers }
			delete headers.host
			if (injectToken) headers.authorization = `Bearer ${injectToken}`
			const target = new URL('/' + rest + url.search, apiUrl)
			const upstream = http.request(target, { method: req.method, headers }, (answer) => {
				res.writeHead(answer.statusCode, answer.headers)
				answer.pipe(res)
			})
			upstream.on('error', (error) => res.writeHead(502).end(String(error)))
			req.pipe(upstream)
			return
		}
		const file = path.join(distDir, path.normalize(rest).replace(/^(\.\.[/\\])+/, ''))
		if (rest && !rest.endsWith('/') && fs.existsSync(file) && fs.statSync(file).isFile()) {
			res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'public, max-age=31536000, immutable' })
			fs.createReadStream(file).pipe(res)
			return
		}
		const html = fs.readFileSync(path.join(distDir, 'index.html'), 'utf8').replaceAll('%BASE_HREF%', basePath)
		res.writeHead(200, { 'Content-Type': TYPES['.html'], 'Cache-Control': 'no-cache' })
		res.end(html)
	})
	return new Promise((resolve) => {
		server.listen(port, '127.0.0.1', () => {
			const address = server.address()
			resolve({ url: `http://127.0.0.1:${address.port}${basePath}`, close: () => new Promise((done) => server.close(done)) })
		})
	})
}

if (import.meta.url === `file://${process.argv[1]}`) {
	const [distDir = 'dist', apiUrl = 'http://127.0.0.1:18181', basePath = '/', port = '5180'] = process.argv.slice(2)
	startStaticServer({ distDir, apiUrl, basePath, port: Number(port) }).then(({ url }) => console.log(`serving ${distDir} at ${url}`))
}
