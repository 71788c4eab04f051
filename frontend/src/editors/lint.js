/**
 * Syntax checks for the editors, as diagnostics {from, to, message} (character offsets), so that
 * CodeMirror can mark them inline and forms can refuse to save.
 */

/**
 * @param {string} text JSON text (empty is allowed: it means "no value")
 * @return {Array<{from: number, to: number, message: string}>} problems
 */
export function jsonProblems(text) {
	if (!text || !text.trim()) return []
	try {
		JSON.parse(text)
		return []
	} catch (error) {
		const position = errorPosition(error.message, text)
		return [{ from: position, to: Math.min(text.length, position + 1), message: error.message }]
	}
}

/**
 * @param {string} message a JSON.parse error message
 * @param {string} text the parsed text
 * @return {number} the offset the message points at
 */
function errorPosition(message, text) {
	const byPosition = /position (\d+)/i.exec(message)
	if (byPosition) return Math.min(text.length, Number(byPosition[1]))
	const byLine = /line (\d+) column (\d+)/i.exec(message)
	if (byLine) {
		const lines = text.split('\n')
		let offset = 0
		for (let i = 0; i < Number(byLine[1]) - 1 && i < lines.length; i++) offset += lines[i].length + 1
		return Math.min(text.length, offset + Number(byLine[2]) - 1)
	}
	return Math.max(0, text.length - 1)
}

const BLOCK_TAGS = { if: 'endif', for: 'endfor', block: 'endblock', macro: 'endmacro', filter: 'endfilter', with: 'endwith', set: 'endset', apply: 'endapply', autoescape: 'endautoescape', spaceless: 'endspaceless', verbatim: 'endverbatim' }
const MIDDLE_TAGS = { elseif: 'if', elif: 'if', else: ['if', 'for'] }

/**
 * Checks a Twig template: every {{ }}, {% %} and {# #} is closed, block tags are balanced
 * (if/endif, for/endfor, …), and brackets inside expressions match.
 *
 * @param {string} text template text
 * @return {Array<{from: number, to: number, message: string}>} problems
 */
export function templateProblems(text) {
	const problems = []
	if (!text) return problems
	const open = []
	const delimiters = { '{{': '}}', '{%': '%}', '{#': '#}' }
	let index = 0
	while (index < text.length) {
		const start = text.slice(index).search(/\{[{%#]/)
		if (start < 0) break
		const from = index + start
		const opener = text.slice(from, from + 2)
		const closer = delimiters[opener]
		const end = text.indexOf(closer, from + 2)
		if (end < 0) {
			problems.push({ from, to: text.length, message: `"${opener}" is not closed with "${closer}"` })
			break
		}
		const inner = text.slice(from + 2, end).replace(/^-|-$/g, '').trim()
		if (opener !== '{#') problems.push(...bracketProblems(inner, from + 2))
		if (opener === '{%') {
			const tag = inner.split(/\s+/)[0]
			if (BLOCK_TAGS[tag] && !(tag === 'set' && inner.includes('='))) {
				open.push({ tag, from, to: end + 2 })
			} else if (MIDDLE_TAGS[tag]) {
				const allowed = [].concat(MIDDLE_TAGS[tag])
				if (!open.length || !allowed.includes(open[open.length - 1].tag)) {
					problems.push({ from, to: end + 2, message: `"${tag}" outside of ${allowed.join('/')}` })
				}
			} else if (tag.startsWith('end')) {
				const last = open.pop()
				if (!last || BLOCK_TAGS[last.tag] !== tag) {
					problems.push({ from, to: end + 2, message: last ? `"${tag}" closes "${last.tag}"; expected "${BLOCK_TAGS[last.tag]}"` : `"${tag}" without an opening tag` })
				}
			}
		}
		index = end + 2
	}
	for (const block of open) {
		problems.push({ from: block.from, to: block.to, message: `"${block.tag}" is not closed with "${BLOCK_TAGS[block.tag]}"` })
	}
	return problems
}

/**
 * @param {string} expression the inside of a tag
 * @param {number} offset where it starts in the template
 * @return {Array} problems with (), [] and {} (strings skipped)
 */
function bracketProblems(expression, offset) {
	const pairs = { ')': '(', ']': '[', '}': '{' }
	const stack = []
	let quote = null
	for (let i = 0; i < expression.length; i++) {
		const c = expression[i]
		if (quote) {
			if (c === '\\') i++
			else if (c === quote) quote = null
			continue
		}
		if (c === '"' || c === "'") quote = c
		else if ('([{'.includes(c)) stack.push({ c, i })
		else if (pairs[c]) {
			const last = stack.pop()
			if (!last || last.c !== pairs[c]) return [{ from: offset + i, to: offset + i + 1, message: `Unexpected "${c}"` }]
		}
	}
	if (quote) return [{ from: offset, to: offset + expression.length, message: 'Unclosed string' }]
	if (stack.length) {
		const last = stack[stack.length - 1]
		return [{ from: offset + last.i, to: offset + last.i + 1, message: `"${last.c}" is not closed` }]
	}
	return []
}
