/**
 * Latency estimation (pure, deterministic parts): Vivaldi coordinates (Serf
 * variant), decentralized log-RTT factors, the estimator every peer runs,
 * the state it gossips on `dcis/latency/1` and its validation, latency
 * matrices and the offline evaluation behind `dcis latency-eval`.
 *
 * Networking (libp2p ping probes, gossip, GET /v1/latency) wires these up
 * elsewhere: call observe() per ping result, hear() per gossip message,
 * publish publicState() periodically, answer with estimate().
 */
export { createLatencyEstimator } from './estimator.js'
export type { LatencyEstimator, LatencyEstimatorInit, LatencyEstimate, EstimateSource, EstimatorStats, Predictor, DigestOptions } from './estimator.js'
export { validateRemoteState, mergeDigest, compactState, LATENCY_STATE_VERSION } from './state.js'
export type { LatencyState, DigestSample, StateLimits, RemoteStateCheck, RemoteStateRejection } from './state.js'
export { VivaldiNode, distanceMs, rawDistanceMs, newCoordinate, DEFAULT_VIVALDI_CONFIG } from './vivaldi.js'
export type { Coordinate, VivaldiConfig } from './vivaldi.js'
export { FactorModel, DEFAULT_FACTOR_CONFIG } from './factors.js'
export type { FactorState, FactorConfig } from './factors.js'
export { LatencyFilter } from './filter.js'
export type { FilteredSample } from './filter.js'
export { createPrng } from './prng.js'
export type { Prng } from './prng.js'
export { loadLatencyMatrix, parseLatencyMatrix, MAX_MATRIX_NODES } from './matrix.js'
export type { LatencyMatrix } from './matrix.js'
export { evaluateEstimator, createSimulation, formatEvalReport } from './eval.js'
export type { EvalOptions, EvalResult, Simulation } from './eval.js'
export { generateWideAreaMatrix } from './synthetic.js'
export type { WideAreaOptions } from './synthetic.js'
export { LatencyMatrixError, InvalidRttError, LatencyConfigError } from './errors.js'
