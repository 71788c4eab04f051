import {
	mdiViewDashboard, mdiDatabaseArrowRight, mdiApi, mdiAccountKey, mdiMapMarkerPath, mdiCalendarClock,
	mdiBroadcast, mdiSync, mdiSourceBranch, mdiFileImport, mdiCog, mdiTextBoxSearchOutline, mdiFileDocumentMultipleOutline,
	mdiCalendarText,
} from '@mdi/js'

/**
 * The main menu, as the product knows it (reference §10): top-level entries with their sub-entries.
 * `key` is the l10n key of the label; `to` is a route name.
 */
export const MAIN_MENU = [
	{ key: 'nav.dashboard', to: 'dashboard', icon: mdiViewDashboard },
	{ key: 'nav.sources', to: 'sources', icon: mdiDatabaseArrowRight, children: [{ key: 'nav.logs', to: 'sourceLogs', icon: mdiTextBoxSearchOutline }] },
	{ key: 'nav.endpoints', to: 'endpoints', icon: mdiApi, children: [{ key: 'nav.logs', to: 'endpointLogs', icon: mdiTextBoxSearchOutline }] },
	{ key: 'nav.consumers', to: 'consumers', icon: mdiAccountKey },
	{ key: 'nav.mappings', to: 'mappings', icon: mdiMapMarkerPath },
	{ key: 'nav.jobs', to: 'jobs', icon: mdiCalendarClock, children: [{ key: 'nav.logs', to: 'jobLogs', icon: mdiTextBoxSearchOutline }] },
	{
		key: 'nav.cloudEvents',
		to: 'events',
		icon: mdiBroadcast,
		children: [
			{ key: 'nav.events', to: 'events', icon: mdiCalendarText },
			{ key: 'nav.logs', to: 'eventLogs', icon: mdiTextBoxSearchOutline },
		],
	},
	{
		key: 'nav.synchronization',
		to: 'synchronizations',
		icon: mdiSync,
		children: [
			{ key: 'nav.contracts', to: 'contracts', icon: mdiFileDocumentMultipleOutline },
			{ key: 'nav.logs', to: 'synchronizationLogs', icon: mdiTextBoxSearchOutline },
		],
	},
	{ key: 'nav.rules', to: 'rules', icon: mdiSourceBranch },
	{ key: 'nav.import', to: 'import', icon: mdiFileImport },
]

export const SETTINGS_MENU = { key: 'nav.settings', to: 'settings', icon: mdiCog }
