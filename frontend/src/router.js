import { createRouter, createWebHistory } from 'vue-router'
import { ENTITIES, LOGS } from './entities/index.js'
import { appContext } from './api/appContext.js'
import { getToken } from './api/client.js'
// The dashboard is the first page: bundled with the entry so its first load needs no extra round trip.
import DashboardView from './views/DashboardView.vue'

const EntityListView = () => import('./views/entity/EntityListView.vue')
const EntityDetailView = () => import('./views/entity/EntityDetailView.vue')
const EntityEditView = () => import('./views/entity/EntityEditView.vue')
const LogsView = () => import('./views/logs/LogsView.vue')

/**
 * The routes: dashboard, login, settings, import, the log lists, and for every entity kind
 * list / new / detail / edit. Log routes come first so "/sources/logs" is not read as a source id.
 *
 * @return {Array} route records
 */
export function buildRoutes() {
	const routes = [
		{ path: '/', name: 'dashboard', component: DashboardView },
		{ path: '/login', name: 'login', component: () => import('./views/LoginView.vue'), meta: { public: true } },
		{ path: '/settings', name: 'settings', component: () => import('./views/SettingsView.vue') },
		{ path: '/import', name: 'import', component: () => import('./views/ImportView.vue') },
		{ path: '/cloud-events', redirect: { name: 'events' } },
		{ path: '/webhooks', redirect: { name: 'events' } },
	]
	for (const log of Object.values(LOGS)) {
		routes.push({ path: log.path, name: log.routeName, component: LogsView, props: { logKind: log.kind } })
	}
	routes.push({
		path: '/synchronizations/:id/contracts',
		name: 'synchronizationContracts',
		component: EntityListView,
		props: (route) => ({ kind: 'synchronization-contracts', fixedFilters: { synchronization_id: route.params.id } }),
	})
	for (const entity of Object.values(ENTITIES)) {
		const kind = entity.kind
		routes.push(
			{ path: entity.path, name: entity.routeName, component: EntityListView, props: { kind } },
			{ path: `${entity.path}/new`, name: `${entity.routeName}New`, component: EntityEditView, props: { kind } },
			{ path: `${entity.path}/:id`, name: `${entity.routeName}Detail`, component: EntityDetailView, props: (route) => ({ kind, id: route.params.id }) },
			{ path: `${entity.path}/:id/edit`, name: `${entity.routeName}Edit`, component: EntityEditView, props: (route) => ({ kind, id: route.params.id }) },
		)
	}
	routes.push({ path: '/:pathMatch(.*)*', name: 'notFound', component: () => import('./views/NotFoundView.vue') })
	return routes
}

/**
 * @param {object} [options] history (tests pass a memory history)
 * @return {object} the router; standalone without a token every page leads to the login view
 */
export function createAppRouter({ history } = {}) {
	const router = createRouter({
		history: history ?? createWebHistory(appContext().routerBase),
		routes: buildRoutes(),
	})
	router.beforeEach((to) => {
		if (to.meta.public || appContext().inNextcloud || getToken()) return true
		return { name: 'login', query: { redirect: to.fullPath } }
	})
	return router
}
