/**
 * Runs the IoT case study against a running mesh (`npm start`, i.e.
 * `dcis up`: 5 peers, regions eu-west, us-east, ap-south round-robin, APIs on
 * 127.0.0.1:8080..8084 with --trust-loopback):
 *
 *   npx tsx examples/iot/run.ts [--api http://127.0.0.1:8080] [--seconds 30] [--rate 2000] [--core-dir /tmp/dcis-core]
 *
 * 1. starts the core receiver (127.0.0.1:9400, NDJSON files in --core-dir,
 *    deduplicated on the sink's idempotency keys) and the vehicle-metadata
 *    backend (127.0.0.1:9401/vehicles/<id>);
 * 2. deploys examples/functions/build/iot-filter.wasm and applies
 *    manifests.yaml (fleet, vehicles, core, iot-filter);
 * 3. generates sensor events for 100 vehicles, batched, POSTed to the peers'
 *    POST /v1/functions/iot-filter round-robin, and prints what came back;
 * 4. keeps the core running until interrupted (the sink ships every minute).
 */
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { CoreReceiver } from './core-receiver.js'
import { event, iotManifests, REGIONS } from './mesh.js'

const { values } = parseArgs({ options: { api: { type: 'string', default: 'http://127.0.0.1:8080' }, seconds: { type: 'string', default: '30' }, rate: { type: 'string', default: '2000' }, 'core-dir': { type: 'string', default: '/tmp/dcis-core' }, peers: { type: 'string', default: '5' } } })
const api = values.api.replace(/\/$/, '')
const base = new URL(api)
const apis = Array.from({ length: Number(values.peers) }, (_, i) => `${base.protocol}//${base.hostname}:${Number(base.port) + i}`)

const core = new CoreReceiver(values['core-dir'])
const coreUrl = await core.start(9400)
const meta = createServer((req, res) => {
  const id = decodeURIComponent((req.url ?? '/').split('/').pop() ?? '')
  const n = Number(id.replace(/^v-/, ''))
  if (!/^v-\d+$/.test(id) || n >= 100) { res.statusCode = 404; res.end(); return }
  res.setHeader('content-type', 'application/json')
  res.setHeader('x-data-region', REGIONS[n % REGIONS.length])
  res.end(JSON.stringify({ id, model: n % 10 === 0 ? 'hauler' : 'van', maxBrakeTemp: n % 10 === 0 ? 450 : 350 }))
})
await new Promise<void>(resolve => meta.listen(9401, '127.0.0.1', resolve))
console.log(`core receiver ${coreUrl} (files in ${values['core-dir']}), vehicle metadata http://127.0.0.1:9401/vehicles`)

const { build } = await import(new URL('../functions/build.mjs', import.meta.url).href) as { build: (o: { quiet: boolean }) => Promise<string[]> }
await build({ quiet: true })
const wasm = await readFile(new URL('../functions/build/iot-filter.wasm', import.meta.url))
const dep = await fetch(`${api}/v1/functions?name=iot-filter-bytes&abi=reactor`, { method: 'POST', body: wasm, headers: { 'content-type': 'application/wasm' } })
if (dep.status !== 200) throw new Error(`deploy: HTTP ${dep.status} ${await dep.text()}`)
const { id } = await dep.json() as { id: string }
const yaml = await iotManifests({ FUNCTION_CID: id, CORE_URL: coreUrl, METADATA_URL: 'http://127.0.0.1:9401/vehicles' })
const docs = yaml.split(/^---$/m)
for (const doc of docs) {
  // one at a time: the sink checks that the service exists
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${api}/v1/manifests`, { method: 'POST', body: doc, headers: { 'content-type': 'application/yaml' } })
    const text = await res.text()
    if (res.status === 200) { console.log(`applied ${text}`); break }
    if (attempt > 20) throw new Error(`apply: HTTP ${res.status} ${text}`)
    await new Promise(resolve => setTimeout(resolve, 500))
  }
}

const rate = Number(values.rate)
const end = Date.now() + Number(values.seconds) * 1000
let sent = 0
let accepted = 0
let dropped = 0
let alerts = 0
let i = 0
while (Date.now() < end) {
  const t = Date.now()
  const batch = Array.from({ length: Math.max(1, Math.round(rate / 10)) }, () => {
    const v = Math.floor(Math.random() * 100)
    const r = Math.random()
    return r < 0.005 ? event(v, 'brake_temp', 420 + Math.round(Math.random() * 80)) : r < 0.02 ? event(v, 'brake_temp', 9999) : event(v, r < 0.5 ? 'brake_temp' : 'speed', Math.round(Math.random() * 200))
  })
  const target = apis[i++ % apis.length]
  const res = await fetch(`${target}/v1/functions/iot-filter`, { method: 'POST', body: batch.join('\n') })
  const out = await res.text()
  if (res.status === 200) {
    const r = JSON.parse(out) as { accepted: number, dropped: number, alerts: number }
    accepted += r.accepted; dropped += r.dropped; alerts += r.alerts
  } else {
    console.error(`${target}: HTTP ${res.status} ${out}`)
  }
  sent += batch.length
  await new Promise(resolve => setTimeout(resolve, Math.max(0, 100 - (Date.now() - t))))
}
console.log(JSON.stringify({ sent, accepted, dropped, alerts }))
const counters = await (await fetch(`${apis[1]}/v1/services/fleet/counters/v-1`)).json()
console.log(`fleet counter v-1 on ${apis[1]}: ${JSON.stringify(counters)}`)
const log = await (await fetch(`${apis[2]}/v1/services/fleet/logs/alerts?limit=3`)).json() as { entries: unknown[], length: number }
console.log(`alerts log on ${apis[2]}: ${log.length} entries, first ${JSON.stringify(log.entries[0] ?? null)}`)
console.log('the core receives a snapshot every minute; Ctrl-C to stop')
process.on('SIGINT', () => { void core.stop().then(() => process.exit(0)) })
