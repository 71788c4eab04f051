import { apiDownload } from './client.js'

// How long the object URL of a saved file stays valid: the browser has started the download by then.
const REVOKE_AFTER_MS = 10000

/**
 * Hands a Blob to the browser as a file to save, through a temporary <a download>.
 *
 * @param {Blob} blob the file's content
 * @param {string} filename the suggested name
 */
export function saveBlob(blob, filename) {
	const url = URL.createObjectURL(blob)
	const link = document.createElement('a')
	link.href = url
	link.download = filename
	link.rel = 'noopener'
	link.style.display = 'none'
	document.body.appendChild(link)
	try {
		link.click()
	} finally {
		link.remove()
		setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS)
	}
}

/**
 * Downloads a file the API serves (with the API's credentials, which a plain link would not send)
 * and saves it under the name the server gives.
 *
 * @param {string} path API path, e.g. "export" or "export/source/3"
 * @param {string} fallbackName the name when the answer names none
 * @return {Promise<string>} the name the file was saved under
 * @throws {ApiError} when the API refuses
 */
export async function downloadFromApi(path, fallbackName) {
	const { blob, filename } = await apiDownload(path)
	const name = filename || fallbackName
	saveBlob(blob, name)
	return name
}
