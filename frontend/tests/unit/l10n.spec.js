import { describe, expect, it } from 'vitest'
import en from '../../../l10n/en.json'
import nl from '../../../l10n/nl.json'
import { fieldLabel, setLanguage, t } from '../../src/l10n/index.js'
import { ENTITIES, LOGS } from '../../src/entities/index.js'
import { MAIN_MENU } from '../../src/navigation.js'

describe('l10n', () => {
	it('has a Dutch text for every English key', () => {
		expect(Object.keys(nl).sort()).toEqual(Object.keys(en).sort())
	})
	it('has texts for every menu entry, entity and log list', () => {
		const keys = [...MAIN_MENU.flatMap((entry) => [entry.key, ...(entry.children ?? []).map((child) => child.key)]),
			...Object.keys(ENTITIES).flatMap((kind) => ['plural', 'one', 'add', 'new', 'edit', 'emptyHint'].map((part) => `entity.${kind}.${part}`)),
			...Object.keys(LOGS).map((kind) => `logs.${kind}.title`)]
		for (const key of keys) expect(en[key], key).toBeTruthy()
	})
	it('switches language and fills placeholders', () => {
		setLanguage('nl')
		expect(t('nav.sources')).toBe('Bronnen')
		expect(t('paging.page', { page: 2, pages: 5 })).toBe('Pagina 2 van 5')
		expect(fieldLabel('location')).toBe('Locatie')
		setLanguage('en')
		expect(fieldLabel('someNewField')).toBe('Some New Field')
	})
})
