import { language } from './l10n/index.js'

/**
 * @param {string} value ISO date-time
 * @return {string} a short local date and time, in the UI language
 */
export function formatDate(value) {
	const date = new Date(value)
	if (Number.isNaN(date.getTime())) return String(value)
	return date.toLocaleString(language.value === 'nl' ? 'nl-NL' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' })
}

/**
 * @param {number|null} statusCode HTTP status of a call
 * @return {string} badge class: success (<400), warning (retryable: 408, 429, 5xx), error (other)
 */
export function statusClass(statusCode) {
	if (statusCode === null || statusCode === undefined) return ''
	if (statusCode < 400) return 'oc-badge--success'
	if (isRetryableStatus(statusCode)) return 'oc-badge--warning'
	return 'oc-badge--error'
}

/**
 * Transient failures worth retrying (the call layer's classifier): 408, 429 and 5xx.
 *
 * @param {number} statusCode HTTP status
 * @return {boolean} true when a retry may succeed
 */
export function isRetryableStatus(statusCode) {
	return statusCode === 408 || statusCode === 429 || (statusCode >= 500 && statusCode <= 599)
}
