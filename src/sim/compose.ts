/** placeholder, replaced below */
import type { Scenario } from './scenario.js'
export function composeFor (scenario: Scenario, opts: { image: string }): string { return `# ${scenario.spec.name} ${opts.image}\n` }
