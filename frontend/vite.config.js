import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The build is served by the Rust binary at any base path: assets are referenced relative to
// index.html (base: './'), and index.html carries <base href="%BASE_HREF%"> that the server fills in.
export default defineConfig({
	base: './',
	plugins: [vue()],
	server: {
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
		server: { deps: { inline: [/@nextcloud\/vue/] } },
	},
})
