import { rename, writeFile } from 'node:fs/promises'

/** one rule of a link-faults file (docs/link-faults.md) */
export interface LinkFaultRule {
  from: string[]
  to: string[]
  action: 'block' | 'delay'
  ms?: number
}

/**
 * Writes a link-faults file atomically (temp file, then rename): the peers
 * poll it every 200 ms and must never read half a file. `[]` heals.
 */
export async function writeLinkFaults (file: string, rules: LinkFaultRule[]): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify({ rules }))
  await rename(tmp, file)
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
