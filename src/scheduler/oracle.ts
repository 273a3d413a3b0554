/**
 * A LatencyOracle over the latency estimator (src/latency) and a ping
 * function: estimates from this peer come from the estimator's latency map,
 * estimates between two other peers from their published states.
 */
import type { LatencyOracle } from './index.js'
import type { LatencyView } from './placement.js'
import type { LatencyEstimate, LatencyEstimator, LatencyState } from '../latency/index.js'
import type { AbortOptions } from '@libp2p/interface'

export interface EstimatorOracleInit {
  estimator: Pick<LatencyEstimator, 'selfId' | 'estimate' | 'estimateBetween'>
  /** the latest validated state a peer published (dcis/latency/1), if any */
  stateOf?: (peerId: string) => LatencyState | undefined
  /** one direct RTT measurement (ms), e.g. libp2p ping */
  ping: (peerId: string, options?: AbortOptions) => Promise<number>
}

function view (e: LatencyEstimate | undefined): LatencyView | null {
  return e == null ? null : { ms: e.ms, errorMs: e.errorMs, source: e.source }
}

export function oracleFromEstimator (init: EstimatorOracleInit): LatencyOracle {
  const self = init.estimator.selfId
  return {
    estimate (from, to) {
      if (from === to) return { ms: 0, errorMs: 0, source: 'measured' }
      if (from === self) return view(init.estimator.estimate(to))
      // RTT is a round trip: this peer's view of `from` serves for from -> self
      if (to === self) return view(init.estimator.estimate(from))
      const a = init.stateOf?.(from)
      const b = init.stateOf?.(to)
      if (a == null || b == null) return null
      return view(init.estimator.estimateBetween(a, b, to))
    },
    async probe (peerId, options) {
      return init.ping(peerId, options)
    }
  }
}
