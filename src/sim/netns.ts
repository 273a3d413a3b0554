/**
 * The namespace lab (root only): one network namespace per peer on a Linux
 * bridge the run creates, addresses in a 10.X.0.0/16 picked per run.
 *
 *   host ns:   bridge dcisb<id> P.X.127.254/17 (the runner talks to APIs here)
 *   peer ns:   eth0 P.X.(1+k/250).(1+k%250)/17, no default route
 *   NAT site:  router ns with eth0 P.X.100.(1+j)/17 on the bridge and br0
 *              10.X.(128+j).1/24 inside; its peers at 10.X.(128+j).(2+i)
 *              route via the router, which masquerades them (nft; the
 *              site's natMapping: port-preserving or fully-random) and
 *              drops new inbound connections except from the runner
 *              (the host reaches their APIs through a route via the router)
 *
 * P is 10 (private) unless the scenario has a NAT'd site: then the "public"
 * side (the bridge, public peers, the routers' outside addresses) is
 * P = LAB_PUBLIC_OCTET, a range libp2p does not classify as private
 * (@libp2p/utils isPrivate: not RFC 1918, CGNAT, documentation or benchmark
 * space), so DCUtR and identify treat them as public addresses, as on the
 * internet. It never leaves the run's namespaces and bridge: the host
 * holds one route for P.X.0.0/17 to the bridge while the run lasts.
 *
 * Cuts are nft drop rules: in the sender's namespace (output) for a public
 * destination, in the destination's router (forward) for a NAT'd one.
 * Bandwidth limits are `tc tbf` on the peer's eth0 (egress).
 * Docker's FORWARD DROP policy: an iptables accept rule for the bridge.
 */
import { randomBytes } from 'node:crypto'
import { LabNetworkError } from './errors.js'
import { saveState } from './labstate.js'
import { sh, works } from './sh.js'
import type { LabState } from './labstate.js'
import type { Block, LabNetwork, PeerEndpoint } from './network.js'
import type { PeerPlan } from './scenario.js'

export const NS_PREFIX = 'dcis-'
export const BRIDGE_PREFIX = 'dcisb'
/**
 * First octet of the "public" side of a lab with NAT'd sites: 11.0.0.0/8 is
 * not in libp2p's private list (10/8 and the documentation ranges are), and
 * the lab's range inside it is only routed to the run's own bridge.
 */
export const LAB_PUBLIC_OCTET = 11

/** Whether this process can build the namespace lab, or why not. */
export async function netnsProblem (): Promise<string | null> {
  if (process.platform !== 'linux') return 'not Linux'
  if (process.getuid?.() !== 0) return 'not root'
  for (const tool of [['ip', '-V'], ['nft', '--version']]) {
    if (!(await works(tool))) return `${tool[0]} is not installed`
  }
  const probe = `${NS_PREFIX}probe-${process.pid}`
  if (!(await works(['ip', 'netns', 'add', probe]))) return 'cannot create network namespaces'
  await sh(['ip', 'netns', 'del', probe], { check: false })
  return null
}

interface NsPeer { ns: string, addr: string, natSite?: number }

export class NetnsNetwork implements LabNetwork {
  readonly kind = 'netns' as const
  readonly enforcesBlocks = true
  readonly limits: string[] = ['RTTs and latency changes come from the user-space link emulator (tc here has no netem)']
  readonly state: LabState
  private readonly id: string
  private octet = 0
  /** first octet of the public side: 10, or LAB_PUBLIC_OCTET with NAT'd sites */
  private pub = 10
  private readonly byPeer = new Map<string, NsPeer>()
  private readonly routers = new Map<number, { ns: string, addr: string, subnet: string }>()
  private readonly applied = new Map<string, string>()
  private readonly hostAddr = (): string => `${this.pub}.${this.octet}.127.254`

  constructor (runId = randomBytes(3).toString('hex')) {
    this.id = runId.slice(0, 6)
    this.state = { runId: this.id, runner: process.pid, namespaces: [], pids: [] }
  }

  get bridge (): string { return `${BRIDGE_PREFIX}${this.id}` }

  private async pickOctet (): Promise<number> {
    const routes = (await sh(['ip', '-4', 'route', 'show'])).stdout + (await sh(['ip', '-4', 'addr', 'show'])).stdout
    const start = parseInt(this.id.slice(0, 4), 16)
    for (let i = 0; i < 100; i++) {
      const o = 100 + ((start + i) % 100)
      if (!routes.includes(`10.${o}.`) && !routes.includes(`${LAB_PUBLIC_OCTET}.${o}.`)) return o
    }
    throw new LabNetworkError('no free 10.X.0.0/16 range for the lab bridge')
  }

  private async addNs (ns: string): Promise<void> {
    this.state.namespaces.push(ns)
    saveState(this.state)
    await sh(['ip', 'netns', 'add', ns])
    await sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
  }

  /** a veth pair: `hostEnd` stays where `hostNs` says (null = host), the other end becomes eth0 in `ns` */
  private async veth (name: string, ns: string, addr: string, hostNs: string | null, master: string): Promise<void> {
    const peerEnd = `${name}p`
    await sh(['ip', 'link', 'add', name, 'type', 'veth', 'peer', 'name', peerEnd])
    await sh(['ip', 'link', 'set', peerEnd, 'netns', ns])
    await sh(['ip', '-n', ns, 'link', 'set', peerEnd, 'name', 'eth0'])
    await sh(['ip', '-n', ns, 'addr', 'add', addr, 'dev', 'eth0'])
    await sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up'])
    if (hostNs != null) {
      await sh(['ip', 'link', 'set', name, 'netns', hostNs])
      await sh(['ip', '-n', hostNs, 'link', 'set', name, 'master', master])
      await sh(['ip', '-n', hostNs, 'link', 'set', name, 'up'])
    } else {
      await sh(['ip', 'link', 'set', name, 'master', master])
      await sh(['ip', 'link', 'set', name, 'up'])
    }
  }

  async setup (peers: PeerPlan[]): Promise<void> {
    this.octet = await this.pickOctet()
    const o = this.octet
    this.pub = peers.some(p => p.site.nat === true) ? LAB_PUBLIC_OCTET : 10
    const pub = this.pub
    this.state.bridge = this.bridge
    saveState(this.state)
    await sh(['ip', 'link', 'add', this.bridge, 'type', 'bridge'])
    await sh(['ip', 'addr', 'add', `${this.hostAddr()}/17`, 'dev', this.bridge])
    await sh(['ip', 'link', 'set', this.bridge, 'up'])
    if (await works(['iptables', '-L', 'FORWARD', '-n'])) {
      // dockerd sets FORWARD to DROP; bridged lab traffic passes FORWARD when br_netfilter is loaded
      this.state.forwardRule = ['FORWARD', '-i', this.bridge, '-o', this.bridge, '-j', 'ACCEPT']
      saveState(this.state)
      await sh(['iptables', '-I', ...this.state.forwardRule])
    }
    const sites = [...new Set(peers.map(p => p.site))]
    for (const [j, site] of sites.entries()) {
      if (site.nat === true) await this.addRouter(j, site.natMapping ?? 'preserving')
    }
    let k = 0
    for (const p of peers) {
      const ns = `${NS_PREFIX}${this.id}-${p.index}`
      await this.addNs(ns)
      const j = sites.indexOf(p.site)
      const vname = `d${this.id}v${p.index}`
      if (p.site.nat === true) {
        const r = this.routers.get(j)!
        const i = peers.filter(q => q.site === p.site).indexOf(p)
        const addr = `10.${o}.${128 + j}.${2 + i}`
        await this.veth(vname, ns, `${addr}/24`, r.ns, 'br0')
        await sh(['ip', '-n', ns, 'route', 'add', 'default', 'via', `10.${o}.${128 + j}.1`])
        this.byPeer.set(p.name, { ns, addr, natSite: j })
      } else {
        const addr = `${pub}.${o}.${1 + Math.floor(k / 250)}.${1 + (k % 250)}`
        k++
        await this.veth(vname, ns, `${addr}/17`, null, this.bridge)
        this.byPeer.set(p.name, { ns, addr })
      }
      await this.nft(ns, 'table inet dcis {\n  chain out { type filter hook output priority 0; policy accept; }\n}')
      if (p.site.bandwidth != null) {
        await sh(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', p.site.bandwidth, 'burst', '64kb', 'latency', '400ms'])
      }
    }
  }

  private async addRouter (j: number, mapping: 'preserving' | 'random'): Promise<void> {
    const o = this.octet
    const ns = `${NS_PREFIX}${this.id}-r${j}`
    await this.addNs(ns)
    const addr = `${this.pub}.${o}.100.${1 + j}`
    const subnet = `10.${o}.${128 + j}.0/24`
    await this.veth(`d${this.id}r${j}`, ns, `${addr}/17`, null, this.bridge)
    await sh(['ip', '-n', ns, 'link', 'add', 'br0', 'type', 'bridge'])
    await sh(['ip', '-n', ns, 'addr', 'add', `10.${o}.${128 + j}.1/24`, 'dev', 'br0'])
    await sh(['ip', '-n', ns, 'link', 'set', 'br0', 'up'])
    await sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    await this.nft(ns, [
      'table ip nat {',
      // preserving: Linux keeps the source port when it is free (endpoint-independent
      // mapping); random: a random port per connection (address- and port-dependent
      // mapping, a symmetric NAT). Filtering is endpoint-dependent either way.
      '  chain post { type nat hook postrouting priority 100; oifname "eth0" ip saddr ' + subnet + ` masquerade${mapping === 'random' ? ' fully-random' : ''}; }`,
      '}',
      'table inet dcis {',
      '  chain out { type filter hook output priority 0; policy accept; }',
      '  chain cuts { }',
      '  chain forward_filter { type filter hook forward priority 0; policy drop;',
      '    jump cuts',
      '    ct state established,related accept',
      '    iifname "br0" accept',
      `    ip saddr ${this.hostAddr()} accept`,
      '  }',
      '}'
    ].join('\n'))
    // the runner reaches the site's APIs through its router
    await sh(['ip', 'route', 'add', subnet, 'via', addr])
    this.routers.set(j, { ns, addr, subnet })
  }

  private async nft (ns: string, script: string): Promise<void> {
    await sh(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], { input: script + '\n' })
  }

  endpoint (peer: PeerPlan): PeerEndpoint {
    const p = this.byPeer.get(peer.name)
    if (p == null) throw new LabNetworkError(`no namespace for peer ${peer.name}`)
    return { bindHost: p.addr, libp2pPort: 4001, apiPort: 8080, apiUrl: `http://${p.addr}:8080`, dialAddr: p.natSite != null ? null : `/ip4/${p.addr}/tcp/4001` }
  }

  wrap (peer: PeerPlan): string[] {
    return ['ip', 'netns', 'exec', this.byPeer.get(peer.name)!.ns]
  }

  async setBlocks (blocks: Block[]): Promise<void> {
    const rules = new Map<string, string[]>()
    const add = (ns: string, chain: string, rule: string): void => {
      const key = `${ns}\u0000${chain}`
      rules.set(key, [...(rules.get(key) ?? []), rule])
    }
    for (const b of blocks) {
      const from = this.byPeer.get(b.from.name)!
      const to = this.byPeer.get(b.to.name)!
      if (to.natSite == null || from.natSite === to.natSite) {
        add(from.ns, 'out', `ip daddr ${to.addr} drop`)
      } else {
        add(this.routers.get(to.natSite)!.ns, 'cuts', `ip saddr ${from.addr} ip daddr ${to.addr} drop`)
      }
    }
    // every chain we may have filled before, plus the new ones
    const chains = new Set<string>([...this.applied.keys(), ...rules.keys()])
    for (const key of chains) {
      const [ns, chain] = key.split('\u0000')
      const body = (rules.get(key) ?? []).map(r => `add rule inet dcis ${chain} ${r}`).join('\n')
      if (this.applied.get(key) === body) continue
      await this.nft(ns, `flush chain inet dcis ${chain}\n${body}`)
      this.applied.set(key, body)
    }
  }

  async teardown (): Promise<void> {
    await teardownState(this.state)
  }
}

/** Removes everything a (possibly dead) run recorded: processes, namespaces, bridge, iptables rule. */
export async function teardownState (state: LabState): Promise<string[]> {
  const done: string[] = []
  for (const ns of state.namespaces) {
    const pids = (await sh(['ip', 'netns', 'pids', ns], { check: false })).stdout.split('\n').map(Number).filter(n => n > 0)
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); done.push(`killed pid ${pid} in ${ns}`) } catch { /* gone */ }
    }
  }
  for (const ns of [...state.namespaces].reverse()) {
    if ((await sh(['ip', 'netns', 'del', ns], { check: false })).code === 0) done.push(`namespace ${ns}`)
  }
  if (state.bridge != null && (await sh(['ip', 'link', 'del', state.bridge], { check: false })).code === 0) done.push(`bridge ${state.bridge}`)
  if (state.forwardRule != null && (await sh(['iptables', '-D', ...state.forwardRule], { check: false })).code === 0) done.push(`iptables ${state.forwardRule.join(' ')}`)
  return done
}
