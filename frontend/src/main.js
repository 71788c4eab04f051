import { createApp } from 'vue'
import { createPinia } from 'pinia'
import { getRequestToken } from '@nextcloud/auth'
import App from './App.vue'
import { createAppRouter } from './router.js'
import { appContext } from './api/appContext.js'
import { setRequestTokenProvider, setToken, setUnauthorizedHandler } from './api/client.js'
import { l10nPlugin } from './l10n/index.js'
import './styles/standalone-theme.css'
import './styles/app.css'

const context = appContext()
if (context.inNextcloud) {
	setRequestTokenProvider(getRequestToken)
} else {
	document.documentElement.classList.add('oc-standalone')
}

const router = createAppRouter()
setUnauthorizedHandler(() => {
	if (context.inNextcloud) return
	setToken(null)
	const current = router.currentRoute.value
	if (current.name !== 'login') router.push({ name: 'login', query: { redirect: current.fullPath } })
})

// Inside a Nextcloud page (AppAPI top menu) the mount point is #content; standalone it is #app.
const mountPoint = document.getElementById('app') ?? document.getElementById('content')
createApp(App).use(createPinia()).use(router).use(l10nPlugin).mount(mountPoint)
