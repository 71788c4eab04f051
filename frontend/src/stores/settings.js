import { defineStore } from 'pinia'
import { api } from '../api/client.js'

/** The six retention settings (milliseconds; 0 = keep forever) and their defaults (reference §7). */
export const RETENTION_DEFAULTS = {
	successLogRetention: 3600000,
	callLogRetention: 2592000000,
	eventMessageRetention: 604800000,
	jobLogRetention: 2592000000,
	syncContractLogRetention: 7776000000,
	syncLogRetention: 2592000000,
}

/**
 * Settings: GET/PUT /api/settings → {version: {appName, appVersion}, retention: {…}} and
 * POST /api/settings/rebase (recompute expiry of existing logs).
 */
export const useSettingsStore = defineStore('settings', {
	state: () => ({
		retention: { ...RETENTION_DEFAULTS },
		version: null,
		loaded: false,
		loading: false,
		saving: false,
		error: null,
		saved: false,
	}),
	actions: {
		async load() {
			this.loading = true
			this.error = null
			try {
				const data = await api.get('settings')
				this.retention = { ...RETENTION_DEFAULTS, ...(data?.retention ?? {}) }
				this.version = data?.version ?? null
				this.loaded = true
			} catch (error) {
				this.error = error
			} finally {
				this.loading = false
			}
		},
		async saveRetention(retention) {
			this.saving = true
			this.error = null
			this.saved = false
			try {
				const data = await api.put('settings', { retention })
				this.retention = { ...RETENTION_DEFAULTS, ...(data?.retention ?? retention) }
				this.saved = true
			} catch (error) {
				this.error = error
			} finally {
				this.saving = false
			}
		},
		async rebase() {
			this.error = null
			try {
				await api.post('settings/rebase', {})
				return true
			} catch (error) {
				this.error = error
				return false
			}
		},
	},
})
