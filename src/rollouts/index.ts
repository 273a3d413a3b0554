/**
 * Rollouts: canary by region with automatic promotion and revert, on the
 * federation catalogue (fn/<name>/rollout, fn/<name>/rm/<peer>).
 *
 *   spec.ts     rollout specs from manifests, flags, HTTP fields (Nomad `update`-like)
 *   figures.ts  latency histograms and error counts per version (sum exactly across peers)
 *   decide.ts   the state machine (pure): pending -> canary -> promoting -> promoted | reverted | failed
 *   service.ts  routing (cohort), figures, the one driving peer (rendezvous owner + lease)
 *   deploy.ts   deploy as a rollout (the version is added, not made current)
 *   routes.ts   GET /v1/rollouts, promote/abort, POST /dc/v1/deploy (the article's call)
 *
 * docs/rollouts.md describes it.
 */
export * from './errors.js'
export { parseRolloutSpec, parseDuration, ROLLOUT_DEFAULTS } from './spec.js'
export { decide, figuresOf, slaBreach, isActive } from './decide.js'
export type { Decision, DecideInput } from './decide.js'
export { emptyFigures, observe, add, quantileMs, summarise, aggregate } from './figures.js'
export { RolloutService, rolloutOwner, inCohort, shareScore } from './service.js'
export type { RolloutServiceComponents, RolloutServiceInit, RolloutView } from './service.js'
export { deployAsRollout } from './deploy.js'
export type { RolloutDeployResult } from './deploy.js'
export { rolloutRoutes, specFromFlat, nameFromFilename, InvalidMultipartError, ROLLOUT_VIEW_SCHEMA } from './routes.js'
