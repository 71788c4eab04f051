// jsdom has no layout; CodeMirror measures text ranges. Empty rectangles are enough for tests.
const emptyRects = () => Object.assign([], { item: () => null })
const emptyRect = () => ({ x: 0, y: 0, width: 0, height: 0, top: 0, left: 0, right: 0, bottom: 0 })
if (typeof Range !== 'undefined') {
	Range.prototype.getClientRects ??= emptyRects
	Range.prototype.getBoundingClientRect ??= emptyRect
}
