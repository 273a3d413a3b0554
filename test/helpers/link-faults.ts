import { rename, writeFile } from 'node:fs/promises'
import { linkFaultsDigest } from '../../src/latency/emulator/faults.js'
import { waitFor } from './wait.js'

/** one rule of a link-faults file (docs/link-faults.md) */
export interface LinkFaultRule {
  from: string[]
  to: string[]
  action: 'block' | 'delay'
  delayMs?: number
  resetAfterMs?: number
}

/** a peer whose /metrics reports the rules it applied */
export interface FaultsPeer { apiUrl: string }

/**
 * Writes a link-faults file atomically (temp file, then rename): the peers
 * poll it every 200 ms and must never read half a file. `[]` heals. With
 * `peers`, returns once every one of them reports the new rules in force
 * (`dcis_link_faults_rules{digest}` on /metrics), so a test never sleeps
 * "for the rules to apply".
 */
export async function writeLinkFaults (file: string, rules: LinkFaultRule[], peers: FaultsPeer[] = []): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify({ rules }))
  await rename(tmp, file)
  if (peers.length > 0) await waitLinkFaultsApplied(peers, rules)
}

/** Waits until every peer reports `rules` in force. */
export async function waitLinkFaultsApplied (peers: FaultsPeer[], rules: LinkFaultRule[], timeoutMs = 30_000): Promise<void> {
  const line = `dcis_link_faults_rules{digest="${linkFaultsDigest({ rules })}"}`
  await Promise.all(peers.map(async p => waitFor(`${p.apiUrl} applies ${rules.length} link fault rules`, async () => {
    try {
      const res = await fetch(`${p.apiUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
      return res.ok && (await res.text()).includes(line)
    } catch {
      return false
    }
  }, { timeoutMs, intervalMs: 100 })))
}

/** rules that cut every group of sites from every other group, both ways */
export function partitionRules (groups: string[][]): LinkFaultRule[] {
  const rules: LinkFaultRule[] = []
  for (const a of groups) {
    for (const b of groups) {
      if (a !== b) rules.push({ from: a, to: b, action: 'block' })
    }
  }
  return rules
}
