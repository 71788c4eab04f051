/**
 * The rows a key-value editor shows for an object, and back. String values are edited as text;
 * other values (numbers, booleans, objects) as JSON so nothing is lost on a round trip.
 */

/**
 * @param {object|Array|null} value the object being edited
 * @return {Array<{rowId: number, key: string, value: string, isJson: boolean}>} rows
 */
export function objectToRows(value) {
	if (!value || typeof value !== 'object') return []
	return Object.entries(value).map(([key, entry], index) => ({
		rowId: index + Math.random(),
		key,
		value: typeof entry === 'string' ? entry : JSON.stringify(entry),
		isJson: typeof entry !== 'string',
	}))
}

/**
 * @param {Array} rows editor rows (sets row.problem / row.valueProblem)
 * @return {Array<string>} problems: empty or duplicate keys, invalid JSON values, template syntax
 */
export function rowsProblems(rows) {
	const problems = []
	const seen = new Set()
	for (const row of rows) {
		row.problem = ''
		row.valueProblem = ''
		if (!row.key.trim()) row.problem = 'A key is required'
		else if (seen.has(row.key)) row.problem = `Duplicate key "${row.key}"`
		seen.add(row.key)
		if (row.isJson) {
			try {
				JSON.parse(row.value)
			} catch (error) {
				row.valueProblem = error.message
			}
		}
		if (row.templateProblems?.length) row.problem ||= row.templateProblems[0].message
		if (row.problem) problems.push(row.problem)
		if (row.valueProblem) problems.push(row.valueProblem)
	}
	return problems
}

/**
 * @param {Array} rows editor rows
 * @return {object} the object (rows without a key are left out; invalid JSON stays text)
 */
export function rowsToObject(rows) {
	const result = {}
	for (const row of rows) {
		if (!row.key.trim()) continue
		let value = row.value
		if (row.isJson) {
			try {
				value = JSON.parse(row.value)
			} catch {
				// kept as text; the editor shows the problem and the form refuses to save
			}
		}
		result[row.key] = value
	}
	return result
}
