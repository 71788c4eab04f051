import { afterEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { nextTick } from 'vue'
import ActionDialog from '../../src/views/actions/ActionDialog.vue'
import SynchronizationRunDialog from '../../src/views/actions/SynchronizationRunDialog.vue'
import { l10nPlugin } from '../../src/l10n/index.js'
import { useActionsStore } from '../../src/stores/actions.js'
import { standaloneContext } from './setup.js'

const escape = (target) => target.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, cancelable: true }))

describe('action dialogs', () => {
	let wrapper
	afterEach(() => {
		wrapper?.unmount()
		document.body.innerHTML = ''
	})

	it('close on Escape even when an input inside has the focus, once', async () => {
		wrapper = mount(ActionDialog, {
			props: { name: 'Run' },
			slots: { default: '<input type="checkbox" data-test="switch">' },
			attachTo: document.body,
			global: { plugins: [l10nPlugin] },
		})
		await nextTick()
		const input = document.querySelector('[data-test=switch]')
		expect(input).not.toBeNull()
		escape(input)
		escape(document.body)
		expect(wrapper.emitted('close')).toHaveLength(1)
	})

	it('leave an Escape alone that something inside already handled', async () => {
		wrapper = mount(ActionDialog, { props: { name: 'Run' }, attachTo: document.body, global: { plugins: [l10nPlugin] } })
		const event = new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, cancelable: true })
		event.preventDefault()
		window.dispatchEvent(event)
		expect(wrapper.emitted('close')).toBeUndefined()
	})

	it('show a run of the synchronization still in flight when reopened, and not another one', () => {
		standaloneContext()
		const pinia = createPinia()
		setActivePinia(pinia)
		const actions = useActionsStore()
		actions.runSynchronization = { running: true, done: false, result: null, error: null, progress: { running: true, processed: 2, found: 10, percent: 20 }, subject: '4' }
		wrapper = mount(SynchronizationRunDialog, { props: { item: { id: 4, name: 'Four' } }, attachTo: document.body, global: { plugins: [pinia, l10nPlugin] } })
		expect(actions.runSynchronization.running).toBe(true)
		expect(wrapper.vm.state.progress.percent).toBe(20)
		wrapper.unmount()
		wrapper = mount(SynchronizationRunDialog, { props: { item: { id: 5, name: 'Five' } }, attachTo: document.body, global: { plugins: [pinia, l10nPlugin] } })
		expect(wrapper.vm.state.running).toBe(false)
		expect(wrapper.vm.state.progress).toBeNull()
	})
})
