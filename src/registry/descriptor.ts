import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { existsSync, readdirSync, readFileSync } from 'node:fs'

export type AcceleratorKind = 'gpu' | 'npu' | 'tpu' | 'fpga' | 'other'

export interface Accelerator {
  kind: AcceleratorKind
  model: string
  count: number
  source: 'detected' | 'config'
}

/** The Edge-Node Descriptor: protocols/end/end.schema.json, context.jsonld. */
export interface EdgeNodeDescriptor {
  /** the peer's did:key */
  id: string
  peerId: string
  multiaddrs: string[]
  region: string
  zone: string
  arch: string
  platform: string
  cpu: { cores: number, model: string }
  memory: { totalMb: number }
  accelerators: Accelerator[]
  runtimes: Array<'wasi' | 'reactor'>
  /**
   * available: detected on the host or declared by the operator; source says
   * which ('detected' = a TEE device node exists, named in `detectedFrom`;
   * 'declared' = the operator's word, config `resources.tee`; 'none'). No
   * attestation is done yet: `attested` is always false. Older peers send
   * source 'config' (= declared).
   */
  tee: { available: boolean, kind: string | null, source: 'detected' | 'declared' | 'none' | 'config' | 'attestation', attested?: boolean, detectedFrom?: string | null }
  trust: { level: number, source: 'self-asserted' }
  /** cpu: 1-minute load average per core; memory: used fraction */
  load: { cpu: number, memory: number }
  /** free capacity: cores and MiB */
  capacity: { cpu: number, memoryMb: number }
  latency: Record<string, unknown> | null
  /** federation credentials (VC-JWTs issued to this peer's DID) */
  credentials: string[]
  software: { name: string, version: string }
  issuedAt: string
  expiresAt: string
  /**
   * how others reach this peer (optional; docs/nat.md): 'public' = directly
   * dialable, 'relayed' = only through the circuit relays in `relays`,
   * 'unknown' = not determined. Absent in descriptors of older peers.
   */
  reachability?: EndReachability
}

export type ReachabilityStatus = 'public' | 'relayed' | 'unknown'

export interface EndReachability {
  status: ReachabilityStatus
  /** this peer's relayed addresses (`.../p2p/<relay>/p2p-circuit`), at most 8 */
  relays: string[]
  /** this peer serves as a circuit relay (config nat.relayServer) */
  relay?: boolean
}

export interface ResourceOverrides {
  cpu?: number
  memoryMb?: number
  arch?: string
  accelerators?: string[]
  tee?: boolean
}

export interface DetectedTee {
  kind: 'sgx' | 'sev-snp' | 'tdx' | 'nitro'
  /** the device node it was detected from */
  path: string
}

export interface DetectedResources {
  cpu: { cores: number, model: string }
  memoryMb: number
  /** OCI/GOARCH name (amd64, arm64, riscv64, ...) */
  arch: string
  platform: string
  accelerators: Accelerator[]
  load: { cpu: number, memory: number }
  freeMemoryMb: number
  /** a TEE device node found on the host (none: null) */
  tee?: DetectedTee | null
}

/** Node's process.arch -> the OCI/GOARCH name (what image platforms and Go use). */
const ARCH_NAMES: Readonly<Record<string, string>> = Object.freeze({
  x64: 'amd64',
  x86_64: 'amd64',
  amd64: 'amd64',
  ia32: '386',
  x86: '386',
  arm64: 'arm64',
  aarch64: 'arm64',
  arm: 'arm',
  riscv64: 'riscv64',
  ppc64: 'ppc64le',
  ppc64le: 'ppc64le',
  s390x: 's390x',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle'
})

/** Normalises an architecture name (Node's, uname's or GOARCH) to its OCI/GOARCH name; unknown names are lower-cased. */
export function normaliseArch (arch: string): string {
  const a = arch.trim().toLowerCase()
  return ARCH_NAMES[a] ?? a
}

/** TEE device nodes, in the order they are looked for: the first present wins. */
export const TEE_DEVICES: ReadonlyArray<DetectedTee> = Object.freeze([
  { kind: 'sgx', path: '/dev/sgx_enclave' },
  { kind: 'sgx', path: '/dev/sgx/enclave' },
  { kind: 'sev-snp', path: '/dev/sev-guest' },
  { kind: 'tdx', path: '/dev/tdx_guest' },
  { kind: 'tdx', path: '/dev/tdx-guest' },
  { kind: 'nitro', path: '/dev/nitro_enclaves' }
])

/** Looks for a TEE device node (`exists` is injectable for tests). */
export function detectTee (exists: (path: string) => boolean = existsSync): DetectedTee | null {
  for (const t of TEE_DEVICES) {
    try {
      if (exists(t.path)) return { ...t }
    } catch {
      // unreadable: not detected
    }
  }
  return null
}

const PCI_VENDORS: Readonly<Record<string, string>> = Object.freeze({ '0x10de': 'nvidia', '0x1002': 'amd', '0x8086': 'intel', '0x1af4': 'virtio', '0x15ad': 'vmware', '0x1234': 'qemu' })

export interface AcceleratorProbe {
  exists: (path: string) => boolean
  readdir: (path: string) => string[]
  readFile: (path: string) => string
}

const fsProbe: AcceleratorProbe = {
  exists: existsSync,
  readdir: (p) => readdirSync(p),
  readFile: (p) => readFileSync(p, 'utf8')
}

function tryList (probe: AcceleratorProbe, dir: string): string[] {
  try {
    return probe.exists(dir) ? probe.readdir(dir) : []
  } catch {
    return []
  }
}

/**
 * Accelerators the host exposes: NVIDIA GPUs (/proc/driver/nvidia/gpus),
 * DRM render nodes (/dev/dri/renderD*, vendor from sysfs; NVIDIA ones are
 * not counted twice), AMD ROCm compute (/dev/kfd) and compute accelerators
 * of the kernel's accel subsystem (/dev/accel/accel*: NPUs such as Intel
 * VPU, Habana).
 */
export function detectAccelerators (probe: AcceleratorProbe = fsProbe): Accelerator[] {
  const out: Accelerator[] = []
  const nvidia = tryList(probe, '/proc/driver/nvidia/gpus').length
  if (nvidia > 0) out.push({ kind: 'gpu', model: 'nvidia', count: nvidia, source: 'detected' })
  const byVendor = new Map<string, number>()
  for (const node of tryList(probe, '/dev/dri').filter(n => /^renderD[0-9]+$/.test(n))) {
    let vendor = 'unknown'
    try {
      vendor = PCI_VENDORS[probe.readFile(`/sys/class/drm/${node}/device/vendor`).trim().toLowerCase()] ?? 'unknown'
    } catch {
      // no sysfs entry (containers): vendor unknown
    }
    if (vendor === 'nvidia' && nvidia > 0) continue
    byVendor.set(vendor, (byVendor.get(vendor) ?? 0) + 1)
  }
  for (const [vendor, count] of [...byVendor].sort((a, b) => a[0].localeCompare(b[0]))) {
    out.push({ kind: 'gpu', model: `drm-render:${vendor}`, count, source: 'detected' })
  }
  try {
    if (probe.exists('/dev/kfd')) out.push({ kind: 'gpu', model: 'amd-rocm-kfd', count: 1, source: 'detected' })
  } catch {
    // not readable: not detected
  }
  const accel = tryList(probe, '/dev/accel').filter(n => /^accel[0-9]+$/.test(n)).length
  if (accel > 0) out.push({ kind: 'npu', model: 'linux-accel', count: accel, source: 'detected' })
  return out.slice(0, 16)
}

/**
 * What the OS tells about this machine: cores, memory, the architecture
 * (OCI/GOARCH name), accelerators (detectAccelerators) and a TEE device
 * node (detectTee). An operator may override or declare more in config.
 */
export function detectResources (): DetectedResources {
  const list = cpus()
  const cores = Math.max(1, list.length)
  const total = Math.max(1, Math.floor(totalmem() / 1048576))
  const free = Math.floor(freemem() / 1048576)
  const accelerators = detectAccelerators()
  return {
    cpu: { cores, model: (list[0]?.model ?? 'unknown').trim().slice(0, 128) },
    memoryMb: total,
    arch: normaliseArch(process.arch),
    platform: process.platform,
    accelerators,
    load: { cpu: Math.round((loadavg()[0] / cores) * 1000) / 1000, memory: Math.round((1 - free / total) * 1000) / 1000 },
    freeMemoryMb: free,
    tee: detectTee()
  }
}

export interface BuildDescriptorInit {
  did: string
  peerId: string
  multiaddrs: string[]
  region: string
  zone: string
  overrides?: ResourceOverrides
  credentials?: string[]
  latency?: Record<string, unknown> | null
  software: { name: string, version: string }
  /** seconds since the epoch */
  now: number
  ttlSeconds: number
  detected?: DetectedResources
}

function parseAccelerator (spec: string): Accelerator {
  // "gpu:nvidia-t4:2", "npu:hailo-8", "tpu"
  const [kind, model, count] = spec.split(':')
  const k = (['gpu', 'npu', 'tpu', 'fpga'] as const).find(x => x === kind) ?? 'other'
  const n = Number(count ?? 1)
  return { kind: k, model: (model ?? kind).slice(0, 128), count: Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : 1, source: 'config' }
}

/**
 * The END's tee field: a detected device wins (source 'detected', the
 * device path in `detectedFrom`); else the operator's `resources.tee: true`
 * (source 'declared'); else none. `resources.tee: false` hides a detected
 * TEE (the operator may withhold it). Nothing is attested yet.
 */
export function teeOf (detected: DetectedTee | null, declared: boolean | undefined): EdgeNodeDescriptor['tee'] {
  if (declared === false) return { available: false, kind: null, source: 'none', attested: false, detectedFrom: detected?.path ?? null }
  if (detected != null) return { available: true, kind: detected.kind, source: 'detected', attested: false, detectedFrom: detected.path }
  if (declared === true) return { available: true, kind: null, source: 'declared', attested: false, detectedFrom: null }
  return { available: false, kind: null, source: 'none', attested: false, detectedFrom: null }
}

/** Builds this peer's descriptor from detected resources and config overrides. */
export function buildDescriptor (init: BuildDescriptorInit): EdgeNodeDescriptor {
  const d = init.detected ?? detectResources()
  const o = init.overrides ?? {}
  const cores = o.cpu != null ? Math.max(1, Math.round(o.cpu)) : d.cpu.cores
  const totalMb = o.memoryMb ?? d.memoryMb
  const usedFraction = d.load.memory
  return {
    id: init.did,
    peerId: init.peerId,
    multiaddrs: init.multiaddrs.slice(0, 16),
    region: init.region,
    zone: init.zone,
    arch: normaliseArch(o.arch ?? d.arch),
    platform: d.platform,
    cpu: { cores, model: d.cpu.model },
    memory: { totalMb },
    accelerators: o.accelerators != null ? o.accelerators.slice(0, 16).map(parseAccelerator) : d.accelerators,
    runtimes: ['wasi', 'reactor'],
    tee: teeOf(d.tee ?? null, o.tee),
    trust: { level: 0, source: 'self-asserted' },
    load: { cpu: Math.min(1024, d.load.cpu), memory: usedFraction },
    capacity: {
      cpu: Math.round(Math.max(0, cores * (1 - Math.min(1, d.load.cpu))) * 100) / 100,
      memoryMb: Math.max(0, Math.min(totalMb, Math.round(totalMb * (1 - usedFraction))))
    },
    latency: init.latency ?? null,
    credentials: init.credentials ?? [],
    software: init.software,
    issuedAt: new Date(init.now * 1000).toISOString(),
    expiresAt: new Date((init.now + init.ttlSeconds) * 1000).toISOString()
  }
}

/**
 * True when two descriptors differ in something other peers act on
 * (addresses, location, capacity beyond a small jitter, credentials) —
 * the trigger for re-signing before the periodic refresh.
 */
export function materiallyChanged (a: EdgeNodeDescriptor, b: EdgeNodeDescriptor): boolean {
  if (a.region !== b.region || a.zone !== b.zone) return true
  if (a.multiaddrs.join(',') !== b.multiaddrs.join(',')) return true
  if (a.credentials.join(',') !== b.credentials.join(',')) return true
  if (a.reachability?.status !== b.reachability?.status || (a.reachability?.relays ?? []).join(',') !== (b.reachability?.relays ?? []).join(',')) return true
  if (a.tee.available !== b.tee.available || a.cpu.cores !== b.cpu.cores || a.memory.totalMb !== b.memory.totalMb) return true
  if (Math.abs(a.capacity.cpu - b.capacity.cpu) > Math.max(0.5, a.cpu.cores * 0.25)) return true
  if (Math.abs(a.capacity.memoryMb - b.capacity.memoryMb) > a.memory.totalMb * 0.1) return true
  // the first coordinate (null before any probe): the latency map and placement by coordinates need it;
  // later movement waits for the periodic re-signing (re-signing at every move would churn the mesh)
  if ((a.latency == null) !== (b.latency == null)) return true
  return false
}
