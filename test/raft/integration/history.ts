/** The revision-history linearizability checker now lives in src/sim (the simulation lab uses it too). */
export { checkRevisionHistory } from '../../../src/sim/history.js'
export type { HistOp, HistoryVerdict } from '../../../src/sim/history.js'
