import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

/** @return {Promise<number>} a free TCP port on loopback */
export function freePort() {
	return new Promise((resolve, reject) => {
		const server = net.createServer()
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address()
			server.close(() => resolve(port))
		})
		server.on('error', reject)
	})
}

/**
 * Starts the real binary on SQLite in a temporary data directory.
 *
 * @param {string} bin path of the openconnector binary
 * @return {Promise<{url: string, token: string, dataDir: string, stop: Function}>} the running server
 */
export async function startBinary(bin) {
	if (!fs.existsSync(bin)) throw new Error(`binary not found: ${bin} (set OPENCONNECTOR_BIN)`)
	const port = await freePort()
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'oc-e2e-'))
	const token = 'e2e-token-' + Math.random().toString(36).slice(2, 14)
	const child = spawn(bin, [], {
		env: { ...process.env, OPENCONNECTOR_DATA_DIR: dataDir, OPENCONNECTOR_BIND: `127.0.0.1:${port}`, OPENCONNECTOR_ADMIN_TOKEN: token },
		stdio: ['ignore', 'pipe', 'pipe'],
	})
	let output = ''
	child.stdout.on('data', (chunk) => { output += chunk })
	child.stderr.on('data', (chunk) => { output += chunk })
	const url = `http://127.0.0.1:${port}/`
	const deadline = Date.now() + 30000
	for (;;) {
		if (child.exitCode !== null) throw new Error(`binary exited (${child.exitCode}):\n${output}`)
		try {
			const answer = await fetch(url + 'api/health')
			if (answer.ok) break
		} catch {
			// not listening yet
		}
		if (Date.now() > deadline) throw new Error(`binary did not answer /api/health in 30 s:\n${output}`)
		await new Promise((resolve) => setTimeout(resolve, 200))
	}
	return {
		url,
		token,
		dataDir,
		output: () => output,
		stop: async () => {
			child.kill('SIGTERM')
			await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))
			fs.rmSync(dataDir, { recursive: true, force: true })
		},
	}
}

/** A minimal test runner: named async tests, run in order, counted. */
export function createRunner() {
	const tests = []
	return {
		test: (name, fn) => tests.push({ name, fn }),
		async run(context) {
			let passed = 0
			let failed = 0
			const only = process.env.E2E_ONLY
			for (const { name, fn } of tests) {
				if (only && !name.includes(only)) continue
				const started = Date.now()
				try {
					await fn(context)
					passed++
					console.log(`  ✓ ${name} (${Date.now() - started} ms)`)
				} catch (error) {
					failed++
					console.log(`  ✗ ${name}\n    ${String(error?.stack ?? error).split('\n').slice(0, 6).join('\n    ')}`)
					await context.onFailure?.(name)
				}
			}
			return { passed, failed }
		},
	}
}

/**
 * @param {boolean} condition what must hold
 * @param {string} message what went wrong otherwise
 */
export function assert(condition, message) {
	if (!condition) throw new Error(message)
}
