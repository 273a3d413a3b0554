import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { existsSync, readdirSync } from 'node:fs'

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
  tee: { available: boolean, kind: string | null, source: 'config' | 'attestation' }
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
}

export interface ResourceOverrides {
  cpu?: number
  memoryMb?: number
  arch?: string
  accelerators?: string[]
  tee?: boolean
}

export interface DetectedResources {
  cpu: { cores: number, model: string }
  memoryMb: number
  arch: string
  platform: string
  accelerators: Accelerator[]
  load: { cpu: number, memory: number }
  freeMemoryMb: number
}

/**
 * What the OS tells about this machine. GPUs are detected from the NVIDIA
 * driver's /proc entries and DRM render nodes where present; anything else
 * an operator declares in config (`resources.accelerators`).
 */
export function detectResources (): DetectedResources {
  const list = cpus()
  const cores = Math.max(1, list.length)
  const total = Math.max(1, Math.floor(totalmem() / 1048576))
  const free = Math.floor(freemem() / 1048576)
  const accelerators: Accelerator[] = []
  try {
    const dir = '/proc/driver/nvidia/gpus'
    if (existsSync(dir)) {
      const n = readdirSync(dir).length
      if (n > 0) accelerators.push({ kind: 'gpu', model: 'nvidia', count: n, source: 'detected' })
    }
  } catch {
    // no NVIDIA driver: nothing detected
  }
  return {
    cpu: { cores, model: (list[0]?.model ?? 'unknown').trim().slice(0, 128) },
    memoryMb: total,
    arch: process.arch,
    platform: process.platform,
    accelerators,
    load: { cpu: Math.round((loadavg()[0] / cores) * 1000) / 1000, memory: Math.round((1 - free / total) * 1000) / 1000 },
    freeMemoryMb: free
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
    arch: (o.arch ?? d.arch).toLowerCase(),
    platform: d.platform,
    cpu: { cores, model: d.cpu.model },
    memory: { totalMb },
    accelerators: o.accelerators != null ? o.accelerators.slice(0, 16).map(parseAccelerator) : d.accelerators,
    runtimes: ['wasi', 'reactor'],
    tee: { available: o.tee ?? false, kind: null, source: 'config' },
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
  if (a.tee.available !== b.tee.available || a.cpu.cores !== b.cpu.cores || a.memory.totalMb !== b.memory.totalMb) return true
  if (Math.abs(a.capacity.cpu - b.capacity.cpu) > Math.max(0.5, a.cpu.cores * 0.25)) return true
  if (Math.abs(a.capacity.memoryMb - b.capacity.memoryMb) > a.memory.totalMb * 0.1) return true
  return false
}
