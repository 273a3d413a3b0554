import type { DcisConfig } from './schema.js'

/** The built-in defaults (the lowest layer). A fresh object on every call. */
export function defaultConfig (): DcisConfig {
  return {
    dataDir: './.dcis',
    region: 'local',
    zone: 'local-a',
    listen: ['/ip4/0.0.0.0/tcp/4001'],
    announce: [],
    api: { host: '127.0.0.1', port: 8080, trustLoopback: false, openInfo: true, policy: [] },
    credentials: [],
    trustAnchors: '',
    bootstrap: [],
    federation: 'local',
    logLevel: 'info',
    dht: { clientMode: false, passthroughMapper: true },
    gossip: { endRepublishIntervalMs: 300_000 },
    latency: { probeIntervalMs: 5_000, gossipIntervalMs: 10_000 },
    simulation: {},
    resources: {},
    services: { repairGraceMs: 15_000 },
    scheduler: { minReserveTrust: 0 },
    telemetry: { tracing: false, logSampling: {} },
    storage: { encryption: { enabled: true, provider: 'identity' } },
    nat: {
      reachability: 'auto',
      reservations: 2,
      autonat: true,
      holePunching: true,
      upnp: false,
      relayServer: false,
      relayMaxReservations: 64,
      relayMaxCircuits: 256,
      relayCircuitDurationMs: 3_600_000,
      relayCircuitBytes: 256 * 1024 * 1024,
      relayBytesPerHour: 0
    }
  }
}

/** The zone used when none is configured: `<region>-a` (kept within 63 characters). */
export function defaultZone (region: string): string {
  return `${region.slice(0, 61)}-a`
}
