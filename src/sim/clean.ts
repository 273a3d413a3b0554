/**
 * `dcis sim clean`: removes what crashed or killed runs left behind: the
 * runs recorded in the state directory (unless their runner still lives),
 * then any namespace or bridge with the lab's prefixes, and peer processes
 * recorded by loopback runs.
 */
import { alive, dropState, listStates, processStart } from './labstate.js'
import { BRIDGE_PREFIX, NS_PREFIX, teardownState } from './netns.js'
import { sh } from './sh.js'

export async function cleanLab (options: { force?: boolean } = {}): Promise<{ removed: string[], kept: string[] }> {
  const done: string[] = []
  const kept: string[] = []
  const live = new Set<string>()
  for (const s of listStates()) {
    if (s.runner !== process.pid && alive(s.runner) && options.force !== true) { live.add(s.runId); kept.push(`run ${s.runId}: its runner (pid ${s.runner}) is still running (--force cleans it too)`); continue }
    for (const p of s.pids) {
      if (processStart(p.pid) === p.start && p.start !== '') {
        try { process.kill(p.pid, 'SIGKILL'); done.push(`killed peer pid ${p.pid}`) } catch { /* gone */ }
      }
    }
    done.push(...await teardownState(s))
    dropState(s.runId)
  }
  if (process.getuid?.() === 0) {
    const nsList = (await sh(['ip', 'netns', 'list'], { check: false })).stdout.split('\n').map(l => l.split(' ')[0]).filter(n => n.startsWith(NS_PREFIX))
    const orphans = nsList.filter(n => ![...live].some(id => n.startsWith(`${NS_PREFIX}${id}-`)))
    const bridges = (await sh(['ip', '-o', 'link', 'show', 'type', 'bridge'], { check: false })).stdout.split('\n').map(l => l.split(':')[1]?.trim() ?? '').filter(n => n.startsWith(BRIDGE_PREFIX) && ![...live].some(id => n === `${BRIDGE_PREFIX}${id}`))
    done.push(...await teardownState({ runId: 'orphans', runner: 0, namespaces: orphans, pids: [], ...(bridges[0] != null ? { bridge: bridges[0] } : {}) }))
    for (const b of bridges.slice(1)) if ((await sh(['ip', 'link', 'del', b], { check: false })).code === 0) done.push(`bridge ${b}`)
    // iptables accept rules of removed bridges
    const rules = (await sh(['iptables', '-S', 'FORWARD'], { check: false })).stdout.split('\n').filter(l => l.includes(BRIDGE_PREFIX))
    for (const rule of rules) {
      const bridge = /-i (\S+)/.exec(rule)?.[1]
      if (bridge == null || [...live].some(id => bridge === `${BRIDGE_PREFIX}${id}`)) continue
      if ((await sh(['iptables', '-D', 'FORWARD', '-i', bridge, '-o', bridge, '-j', 'ACCEPT'], { check: false })).code === 0) done.push(`iptables FORWARD rule for ${bridge}`)
    }
  }
  return { removed: done, kept }
}
