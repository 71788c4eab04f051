import { reactive } from 'vue'
import { api } from '../api/client.js'
import { ENTITIES } from '../entities/index.js'

// As many objects as the reference pickers load: a page this size names nearly every reference.
const LIST_LIMIT = 500

/** @param {*} value a reference @return {boolean} true when it names something */
const present = (value) => value !== undefined && value !== null && value !== ''

/** @param {*} value a field's value @return {boolean} true when it can be a reference: a non-empty text or a number */
export const isReference = (value) => (typeof value === 'string' && value !== '') || typeof value === 'number'

/**
 * Indexes objects under every identifier a reference may hold: the id, the uuid and the slug (as text).
 *
 * @param {Array<object>} items objects of one kind
 * @return {object} identifier → { id, name }
 */
export function indexByIdentifier(items) {
	const index = {}
	for (const item of items ?? []) {
		if (!item || typeof item !== 'object') continue
		const entry = { id: item.id, name: item.name || item.slug || null }
		for (const identifier of [item.id, item.uuid, item.slug]) {
			if (present(identifier)) index[String(identifier)] = entry
		}
	}
	return index
}

/**
 * Names for references (a synchronization's source, a log's synchronization, …) without a request per
 * reference: the first `resolve` of a kind loads its list once; only when that list is cut short (more
 * objects than LIST_LIMIT) is a reference still unknown fetched on its own, each at most once. A
 * reference that stays unknown shows as the identifier itself.
 *
 * @param {Function} [get] (path, query) → promise of the decoded answer; the API client by default
 * @return {object} { resolve(kind, values), find(kind, value), reference(kind, value), forget() }
 */
export function createNameLookup(get = (path, query) => api.get(path, query)) {
	const known = reactive({})
	let lists = {}
	let singles = {}

	const remember = (kind, items) => {
		known[kind] = { ...known[kind], ...indexByIdentifier(items) }
	}
	const loadList = (kind) => {
		lists[kind] ??= get(kind, { _limit: LIST_LIMIT }).then((data) => {
			const items = data?.results ?? []
			remember(kind, items)
			return { complete: items.length >= (data?.total ?? items.length) }
		}, () => ({ complete: true })) // no list, no names: the identifiers show, without a request each
		return lists[kind]
	}
	const loadOne = (kind, identifier) => {
		const key = `${kind}/${identifier}`
		singles[key] ??= get(`${kind}/${encodeURIComponent(identifier)}`).then((item) => item && remember(kind, [item]), () => null)
		return singles[key]
	}

	/**
	 * Learns the names of the objects some references name.
	 *
	 * @param {string} kind entity kind, e.g. "sources"
	 * @param {Array} values references (ids, uuids or slugs); empty ones are ignored
	 * @return {Promise<void>} settles when the names are known (or known to be unknown)
	 */
	const resolve = async (kind, values) => {
		const wanted = [...new Set((values ?? []).filter(present).map(String))]
		if (!wanted.length) return
		const { complete } = await loadList(kind)
		if (complete) return
		await Promise.all(wanted.filter((identifier) => !known[kind]?.[identifier]).map((identifier) => loadOne(kind, identifier)))
	}
	/**
	 * @param {string} kind entity kind
	 * @param {*} value a reference
	 * @return {object|null} { id, name } of the object, null when unknown
	 */
	const find = (kind, value) => (present(value) ? known[kind]?.[String(value)] ?? null : null)
	/**
	 * @param {string} kind entity kind
	 * @param {*} value a reference
	 * @return {{label: string, to: object|null}} the name and the detail route, or the reference itself and no route
	 */
	const reference = (kind, value) => {
		const found = find(kind, value)
		const entity = ENTITIES[kind]
		if (!found || !entity) return { label: present(value) ? String(value) : '', to: null }
		return { label: found.name ?? String(value), to: { name: `${entity.routeName}Detail`, params: { id: String(found.id ?? value) } } }
	}
	/** Forgets which lists were loaded (the names stay until replaced), so the next resolve asks again. */
	const forget = () => {
		lists = {}
		singles = {}
	}
	return { resolve, find, reference, forget }
}
