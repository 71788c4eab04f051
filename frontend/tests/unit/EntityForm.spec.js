import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import EntityForm from '../../src/components/EntityForm.vue'
import { ENTITIES } from '../../src/entities/index.js'
import { l10nPlugin } from '../../src/l10n/index.js'
import { standaloneContext } from './setup.js'

const mountForm = (props) => {
	standaloneContext()
	return mount(EntityForm, { props: { entity: ENTITIES.mappings, ...props }, global: { plugins: [createPinia(), l10nPlugin] } })
}

describe('EntityForm', () => {
	it('shows every editable field of the kind', () => {
		const wrapper = mountForm()
		const names = wrapper.findAll('[data-field]').map((node) => node.attributes('data-field'))
		for (const field of ENTITIES.mappings.fields.filter((f) => !f.readOnly)) expect(names).toContain(field.name)
	})

	it('shows the API message at its field', () => {
		const wrapper = mountForm({ fieldErrors: { name: 'is required' }, saveError: Object.assign(new Error('the request has invalid fields'), { status: 400 }) })
		expect(wrapper.find('[data-field=name]').text()).toContain('is required')
		expect(wrapper.text()).toContain('Some fields need attention')
	})

	it('creates without blank optional fields and edits with them cleared', async () => {
		const created = mountForm()
		created.vm.draft.name = 'Pet to animal'
		created.vm.draft.mapping = { title: '{{ name }}' }
		created.vm.submit()
		expect(created.emitted('submit')[0][0]).toEqual({ name: 'Pet to animal', mapping: { title: '{{ name }}' }, cast: {}, unset: [], passThrough: false })

		const edited = mountForm({ initial: { id: 4, name: 'Old', description: 'text', mapping: {} } })
		edited.vm.draft.description = ''
		edited.vm.submit()
		expect(edited.emitted('submit')[0][0]).toMatchObject({ id: 4, name: 'Old', description: null })
	})
})
