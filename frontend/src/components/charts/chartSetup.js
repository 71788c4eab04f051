import { ArcElement, BarController, BarElement, CategoryScale, Chart, DoughnutController, Legend, LinearScale, Tooltip } from 'chart.js'

// Only the parts of chart.js the dashboard draws, so the bundle stays small.
Chart.register(BarController, BarElement, CategoryScale, LinearScale, DoughnutController, ArcElement, Tooltip, Legend)

/**
 * @param {string} name a CSS variable, e.g. "--color-success"
 * @param {string} fallback used when the variable is not set
 * @return {string} its value on the document
 */
export function cssColor(name, fallback) {
	const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim()
	return value || fallback
}

export { Chart }
