import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import { readFileSync } from 'node:fs'

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'))

// The build is served by the Rust binary at any base path: assets are referenced relative to
// index.html (base: './'), and index.html carries <base href="%BASE_HREF%"> that the server fills in.
export default defineConfig({
	base: './',
	plugins: [vue()],
	// @nextcloud/vue reads the globals appName and appVersion (set by Nextcloud's webpack config).
	define: {
		appName: JSON.stringify('openconnector'),
		appVersion: JSON.stringify(version),
	},
	server: {
		// The texts live in the repository's l10n/ folder, beside Nextcloud's translations.
		fs: { allow: ['..'] },
		proxy: { '/api': process.env.OPENCONNECTOR_URL || 'http://127.0.0.1:18181' },
	},
	build: {
		outDir: 'dist',
		assetsDir: 'assets',
		chunkSizeWarningLimit: 700,
		sourcemap: false,
	},
	test: {
		environment: 'jsdom',
		include: ['tests/unit/**/*.spec.js'],
		setupFiles: ['tests/unit/jsdom-polyfills.js'],
		server: { deps: { inline: [/@nextcloud\/vue/] } },
	},
})
