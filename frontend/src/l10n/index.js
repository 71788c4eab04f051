import { ref } from 'vue'
import en from '../../../l10n/en.json'
import nl from '../../../l10n/nl.json'

/** Texts per language; keys are stable identifiers, values may hold {placeholders}. */
export const MESSAGES = { en, nl }
export const LANGUAGES = Object.keys(MESSAGES)
const STORAGE_KEY = 'openconnector.language'

/**
 * Picks the language: the one chosen in Settings, else Nextcloud's (<html lang>), else the browser's.
 *
 * @return {string} "en" or "nl"
 */
export function detectLanguage() {
	const candidates = []
	try {
		candidates.push(localStorage.getItem(STORAGE_KEY))
	} catch {
		// storage unavailable
	}
	if (typeof document !== 'undefined') candidates.push(document.documentElement.getAttribute('data-locale'), document.documentElement.lang)
	if (typeof navigator !== 'undefined') candidates.push(...(navigator.languages ?? [navigator.language]))
	for (const candidate of candidates) {
		const short = String(candidate ?? '').toLowerCase().split(/[-_]/)[0]
		if (LANGUAGES.includes(short)) return short
	}
	return 'en'
}

export const language = ref(detectLanguage())

/** @param {string} lang "en" or "nl"; remembered for the next visit */
export function setLanguage(lang) {
	if (!LANGUAGES.includes(lang)) return
	language.value = lang
	try {
		localStorage.setItem(STORAGE_KEY, lang)
	} catch {
		// storage unavailable
	}
	if (typeof document !== 'undefined') document.documentElement.lang = lang
}

/**
 * Translates a key, filling {placeholders}. Falls back to English, then to the key itself.
 *
 * @param {string} key message key
 * @param {object} [vars] placeholder values
 * @return {string} the text
 */
export function t(key, vars) {
	const text = MESSAGES[language.value]?.[key] ?? MESSAGES.en[key] ?? key
	if (!vars) return text
	return text.replace(/\{(\w+)\}/g, (match, name) => (vars[name] !== undefined ? String(vars[name]) : match))
}

/**
 * The label of an entity field: "field.<name>" when translated, else the camelCase name made readable.
 *
 * @param {string} name field name
 * @return {string} the label
 */
export function fieldLabel(name) {
	const key = `field.${name}`
	const text = t(key)
	if (text !== key) return text
	return name.replace(/_/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase())
}

/** Vue plugin: $t and $fieldLabel in templates. */
export const l10nPlugin = {
	install(app) {
		app.config.globalProperties.$t = t
		app.config.globalProperties.$fieldLabel = fieldLabel
	},
}
