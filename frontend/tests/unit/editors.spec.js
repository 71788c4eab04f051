import { describe, expect, it } from 'vitest'
import { jsonProblems, templateProblems } from '../../src/editors/lint.js'
import { objectToRows, rowsProblems, rowsToObject } from '../../src/components/keyValueRows.js'

describe('JSON syntax check', () => {
	it('accepts valid and empty JSON', () => {
		expect(jsonProblems('{"a": [1, 2]}')).toEqual([])
		expect(jsonProblems('   ')).toEqual([])
	})
	it('points at the error', () => {
		const [problem] = jsonProblems('{"a": 1,,}')
		expect(problem.from).toBeGreaterThan(0)
		expect(problem.message).toMatch(/JSON|Unexpected|token/i)
	})
})

describe('Twig template syntax check', () => {
	it('accepts balanced templates', () => {
		expect(templateProblems('{% if a %}{{ a | upper }}{% elseif b %}{{ b }}{% else %}-{% endif %}')).toEqual([])
		expect(templateProblems('{% for x in list %}{{ x.name ?? "none" }}{% endfor %}{# note #}')).toEqual([])
		expect(templateProblems('{% set total = 1 %}{{ total }}')).toEqual([])
	})
	it('finds unclosed tags, blocks and brackets', () => {
		expect(templateProblems('{{ name')[0].message).toMatch(/not closed/)
		expect(templateProblems('{% if a %}x')[0].message).toMatch(/"if" is not closed/)
		expect(templateProblems('{% for a in b %}{% endif %}')[0].message).toMatch(/closes "for"/)
		expect(templateProblems('{{ date(created }}')[0].message).toMatch(/not closed/)
		expect(templateProblems('{% else %}')[0].message).toMatch(/outside/)
	})
})

describe('key-value rows', () => {
	it('round-trips strings and JSON values', () => {
		const value = { 'headers.Accept': 'application/json', timeout: 30, auth: { type: 'basic' } }
		const rows = objectToRows(value)
		expect(rows.map((row) => row.isJson)).toEqual([false, true, true])
		expect(rowsToObject(rows)).toEqual(value)
	})
	it('reports empty and duplicate keys and invalid JSON values', () => {
		const rows = [
			{ key: 'a', value: '1', isJson: false },
			{ key: 'a', value: '2', isJson: false },
			{ key: '', value: '3', isJson: false },
			{ key: 'n', value: '{bad', isJson: true },
		]
		const problems = rowsProblems(rows)
		expect(problems).toHaveLength(3)
		expect(rows[1].problem).toMatch(/Duplicate/)
		expect(rows[2].problem).toMatch(/required/)
		expect(rows[3].valueProblem).not.toBe('')
	})
})
