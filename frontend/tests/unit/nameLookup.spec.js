import { describe, expect, it } from 'vitest'
import { createNameLookup, indexByIdentifier } from '../../src/stores/nameLookup.js'

/**
 * A fake API: lists per kind and single objects, recording every request.
 *
 * @param {object} lists kind → {results, total} (or an Error to refuse)
 * @param {object} [objects] "kind/id" → object
 * @return {{get: Function, requests: Array<string>}} the get function and the paths asked for
 */
function fakeApi(lists, objects = {}) {
	const requests = []
	const get = async (path) => {
		requests.push(path)
		if (path in lists) {
			if (lists[path] instanceof Error) throw lists[path]
			return lists[path]
		}
		if (path in objects) return objects[path]
		throw Object.assign(new Error('not found'), { status: 404 })
	}
	return { get, requests }
}

const sources = { results: [{ id: 5, uuid: 'a1b2', slug: 'imported-api', name: 'Imported API' }], total: 1 }
const mappings = { results: [{ id: 2, slug: 'in', name: 'In' }, { id: 3, slug: 'out', name: '' }], total: 2 }

describe('name lookup', () => {
	it('indexes objects by id, uuid and slug', () => {
		const index = indexByIdentifier(sources.results)
		expect(index['5']).toEqual({ id: 5, name: 'Imported API' })
		expect(index.a1b2).toBe(index['5'])
		expect(index['imported-api']).toBe(index['5'])
	})

	it('loads each kind once for all the references of a synchronization', async () => {
		const { get, requests } = fakeApi({ sources, mappings })
		const names = createNameLookup(get)
		await Promise.all([
			names.resolve('sources', ['5']),
			names.resolve('mappings', ['2', 3, '2', null, '']),
			names.resolve('mappings', ['3']),
		])
		expect(requests).toEqual(['sources', 'mappings'])
		expect(names.reference('sources', '5')).toEqual({ label: 'Imported API', to: { name: 'sourcesDetail', params: { id: '5' } } })
		expect(names.reference('sources', 'a1b2').label).toBe('Imported API')
		expect(names.reference('mappings', 2).label).toBe('In')
		// Without a name, the slug names it.
		expect(names.reference('mappings', '3').label).toBe('out')
	})

	it('falls back to the reference itself when the object is not found', async () => {
		const { get, requests } = fakeApi({ sources })
		const names = createNameLookup(get)
		await names.resolve('sources', ['99'])
		expect(names.find('sources', '99')).toBeNull()
		expect(names.reference('sources', '99')).toEqual({ label: '99', to: null })
		expect(requests).toEqual(['sources'])
	})

	it('asks nothing for empty references, and nothing per object when the list is refused', async () => {
		const { get, requests } = fakeApi({ jobs: new Error('boom') })
		const names = createNameLookup(get)
		await names.resolve('synchronizations', [null, undefined, ''])
		await names.resolve('jobs', ['1', '2'])
		expect(requests).toEqual(['jobs'])
		expect(names.reference('jobs', '1').label).toBe('1')
	})

	it('fetches a reference beyond a cut-short list on its own, at most once', async () => {
		const { get, requests } = fakeApi(
			{ synchronizations: { results: [{ id: 1, name: 'First' }], total: 600 } },
			{ 'synchronizations/uuid-9': { id: 9, uuid: 'uuid-9', name: 'Ninth' } },
		)
		const names = createNameLookup(get)
		await names.resolve('synchronizations', ['1', 'uuid-9', 'uuid-9', 'gone'])
		await names.resolve('synchronizations', ['uuid-9', 'gone'])
		expect(requests).toEqual(['synchronizations', 'synchronizations/uuid-9', 'synchronizations/gone'])
		expect(names.reference('synchronizations', 'uuid-9')).toEqual({ label: 'Ninth', to: { name: 'synchronizationsDetail', params: { id: '9' } } })
		expect(names.reference('synchronizations', 'gone').to).toBeNull()
	})

	it('asks again after forget, keeping the names it had meanwhile', async () => {
		const lists = { sources }
		const { get, requests } = fakeApi(lists)
		const names = createNameLookup(get)
		await names.resolve('sources', ['5'])
		names.forget()
		expect(names.reference('sources', '5').label).toBe('Imported API')
		lists.sources = { results: [{ id: 5, name: 'Renamed' }], total: 1 }
		await names.resolve('sources', ['5'])
		expect(requests).toEqual(['sources', 'sources'])
		expect(names.reference('sources', '5').label).toBe('Renamed')
	})
})
