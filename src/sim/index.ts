/**
 * The simulation lab: scenarios (scenario.ts), lab networks (netns.ts,
 * loopback.ts), real peers (peers.ts), faults (faults.ts), workload
 * (workload.ts), the runner (runner.ts), reports (report.ts, html.ts),
 * docker compose (compose.ts) and cleanup (clean.ts).
 */
export { loadScenario, parseScenario, expandTargets } from './scenario.js'
export type { Scenario, ScenarioSpec, PeerPlan, SiteSpec, FaultSpec, WorkloadSpec } from './scenario.js'
export { SimError, ScenarioError, LabNetworkError, ReportError } from './errors.js'
export { runScenario } from './runner.js'
export type { RunOptions } from './runner.js'
export { buildReport, readReport, summaryTable } from './report.js'
export type { SimReport, Check } from './report.js'
export { renderHtml, svgPlot } from './html.js'
export { checkRevisionHistory } from './history.js'
export type { HistOp, HistoryVerdict } from './history.js'
export { cleanLab } from './clean.js'
