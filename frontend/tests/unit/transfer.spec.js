import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import ImportProblems from '../../src/components/ImportProblems.vue'
import ImportSummary from '../../src/components/ImportSummary.vue'
import { filenameFromDisposition } from '../../src/api/client.js'
import { kindOfType } from '../../src/entities/index.js'
import { l10nPlugin, setLanguage } from '../../src/l10n/index.js'
import { buildRoutes } from '../../src/router.js'
import { useActionsStore } from '../../src/stores/actions.js'
import { mockFetch, standaloneContext } from './setup.js'

/** @param {string} text a file's content @param {string} name its name @return {File} the file */
const jsonFile = (text, name) => new File([text], name, { type: 'application/json' })

describe('import (actions store)', () => {
	beforeEach(() => {
		setActivePinia(createPinia())
		standaloneContext()
	})

	it('sends the file as its text and name in a JSON body, not as multipart', async () => {
		const report = { message: 'Imported 1 object', created: [{ type: 'source', slug: 'pets', id: 4, name: 'Pets' }], updated: [], unchanged: [], warnings: [] }
		const calls = mockFetch([{ status: 201, body: report }])
		const actions = useActionsStore()
		const text = '{"components": {"sources": {"pets": {"name": "Pets"}}}}'
		await actions.importConfiguration(jsonFile(text, 'bundle.json'))
		expect(calls).toHaveLength(1)
		expect(calls[0].url).toBe('http://localhost/api/import')
		expect(calls[0].options.method).toBe('POST')
		expect(calls[0].options.headers['Content-Type']).toBe('application/json')
		expect(JSON.parse(calls[0].options.body)).toEqual({ json: text, filename: 'bundle.json' })
		expect(actions.importFile.result).toEqual(report)
	})

	it('keeps the problems per place of a refused file', async () => {
		mockFetch([{ status: 400, body: { error: 'the configuration has problems', details: { 'components.sources.my-api.location': 'is required' } } }])
		const actions = useActionsStore()
		expect(await actions.importConfiguration(jsonFile('{}', 'x.json'))).toBeNull()
		expect(actions.importFile.error.status).toBe(400)
		expect(actions.importFile.error.details).toEqual({ 'components.sources.my-api.location': 'is required' })
	})
})

describe('export (one download helper)', () => {
	let clicked
	beforeEach(() => {
		setActivePinia(createPinia())
		standaloneContext()
		clicked = []
		URL.createObjectURL = vi.fn(() => 'blob:http://localhost/1')
		URL.revokeObjectURL = vi.fn()
		vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function () {
			clicked.push({ href: this.href, download: this.download, attached: document.body.contains(this) })
		})
	})
	afterEach(() => vi.restoreAllMocks())

	it('saves the whole configuration under the name the server gives', async () => {
		localStorage.setItem('openconnector.adminToken', 'secret')
		const calls = mockFetch([{ status: 200, body: { components: {} }, headers: { 'Content-Disposition': 'attachment; filename="openconnector-configuration.json"' } }])
		const actions = useActionsStore()
		expect(await actions.exportConfiguration()).toBe('openconnector-configuration.json')
		expect(calls[0].url).toBe('http://localhost/api/export')
		expect(calls[0].options.headers.Authorization).toBe('Bearer secret')
		expect(clicked).toEqual([{ href: 'blob:http://localhost/1', download: 'openconnector-configuration.json', attached: true }])
		expect(document.querySelectorAll('a[download]')).toHaveLength(0)
		localStorage.clear()
	})

	it('exports one object by type and id, and records a refusal', async () => {
		const calls = mockFetch([
			{ status: 200, body: { '@type': 'source' }, headers: { 'Content-Disposition': 'attachment; filename="Source-Pets-v1.0.0.json"' } },
			{ status: 404, body: { error: 'source 9 not found' } },
		])
		const actions = useActionsStore()
		expect(await actions.exportObject('source', 3)).toBe('Source-Pets-v1.0.0.json')
		expect(calls[0].url).toBe('http://localhost/api/export/source/3')
		expect(await actions.exportObject('source', 9)).toBeNull()
		expect(actions.exportFile.error.status).toBe(404)
		expect(clicked).toHaveLength(1)
	})

	it('reads the file name of a Content-Disposition header', () => {
		expect(filenameFromDisposition('attachment; filename="Source-My API-v1.json"')).toBe('Source-My API-v1.json')
		expect(filenameFromDisposition('attachment; filename=plain.json')).toBe('plain.json')
		expect(filenameFromDisposition('attachment; filename="x.json"; filename*=UTF-8\'\'Bron-%C3%A9%C3%A9n.json')).toBe('Bron-één.json')
		expect(filenameFromDisposition('attachment; filename="../../etc/passwd"')).toBe('passwd')
		expect(filenameFromDisposition(null)).toBe('')
		expect(filenameFromDisposition('inline')).toBe('')
	})
})

describe('import result summary', () => {
	const mountSummary = async (result) => {
		standaloneContext()
		setLanguage('en')
		const router = createRouter({ history: createMemoryHistory(), routes: buildRoutes() })
		await router.push('/import')
		return mount(ImportSummary, { props: { result }, global: { plugins: [createPinia(), router, l10nPlugin] } })
	}

	it('lists what was created, updated and unchanged, with links to the objects', async () => {
		const wrapper = await mountSummary({
			message: 'Imported 3 objects',
			created: [
				{ type: 'source', slug: 'imported-api', id: 5, name: 'Imported API' },
				{ type: 'mapping', slug: 'imported-mapping', id: 2, name: '' },
				{ type: 'synchronization', slug: 'imported-sync', id: 7, name: 'Imported sync' },
			],
			updated: [{ type: 'rule', slug: 'auth', id: 1, name: 'Auth' }],
			unchanged: [],
			warnings: ['endpoint "x": rule "y" does not exist'],
		})
		expect(wrapper.find('[data-test=import-message]').text()).toBe('Imported 3 objects')
		const created = wrapper.find('[data-test=import-created]')
		expect(created.find('h3').text()).toBe('Created (3)')
		const rows = created.findAll('li')
		expect(rows).toHaveLength(3)
		expect(rows[0].text()).toContain('Source')
		expect(rows[0].text()).toContain('Imported API')
		expect(rows[0].find('a').attributes('href')).toBe('/sources/5')
		expect(rows[1].find('a').text()).toBe('imported-mapping')
		expect(rows[2].find('a').attributes('href')).toBe('/synchronizations/7')
		expect(wrapper.find('[data-test=import-updated]').text()).toContain('Auth')
		expect(wrapper.find('[data-test=import-unchanged]').exists()).toBe(false)
		expect(wrapper.find('[data-test=import-warnings]').text()).toContain('rule "y" does not exist')
		expect(wrapper.find('pre').exists()).toBe(false)
	})

	it('shows an entry of an unknown type without a link', async () => {
		const wrapper = await mountSummary({ message: 'Nothing changed', created: [], updated: [], unchanged: [{ type: 'gadget', slug: 'g', id: 1 }] })
		const row = wrapper.find('[data-test=import-unchanged] li')
		expect(row.text()).toContain('gadget')
		expect(row.find('a').exists()).toBe(false)
		expect(wrapper.find('[data-test=import-warnings]').exists()).toBe(false)
	})

	it('lists the problems of a refused file by place', () => {
		const wrapper = mount(ImportProblems, { props: { details: { 'components.sources.my-api.location': 'is required', 'components.mappings': 'must be an object of objects by slug' } } })
		const rows = wrapper.findAll('li')
		expect(rows.map((row) => row.find('code').text())).toEqual(['components.sources.my-api.location', 'components.mappings'])
		expect(rows[0].text()).toContain('is required')
		expect(mount(ImportProblems, { props: { details: {} } }).find('ul').exists()).toBe(false)
	})

	it('knows the kinds behind the type names', () => {
		expect(['source', 'Source', 'sources', 'synchronization', 'job', 'consumer'].map(kindOfType)).toEqual(['sources', 'sources', 'sources', 'synchronizations', 'jobs', 'consumers'])
		expect(kindOfType('gadget')).toBeNull()
	})
})
