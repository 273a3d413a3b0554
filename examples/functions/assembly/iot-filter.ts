// iot-filter: the article's IoT case study at the edge (examples/iot). A
// reactor using the host interface (docs/wasm-abi.md). The request is a
// batch of sensor events, NDJSON, one per line:
//   {"vehicle":"v-17","sensor":"brake_temp","value":412.5,"ts":1733550000000}
// Per batch it
//   - drops noise: no vehicle, a value that is not a number, or outside the
//     sensor's plausible range (brake_temp -50..1200 C, speed 0..400 km/h,
//     anything else -1e6..1e6);
//   - adds each vehicle's accepted events to the counter `<vehicle>` of the
//     service `fleet` (one counters_add per batch: one replicated delta);
//   - flags alerts: brake_temp above the vehicle's `maxBrakeTemp` from its
//     metadata, read through the edge cache `vehicles` (one cache_get_many
//     per batch for the vehicles with brake readings; default 350 when the
//     cache has none), appended to the log `alerts` of `fleet` (one
//     log_append_many per batch, before the counters) and emitted to the
//     sink `core` at once as one record {"alerts":[...]} (critical alerts
//     do not wait for a snapshot);
// and answers {"accepted":N,"dropped":N,"alerts":N,"errors":N}. A host
// call that fails (e.g. not granted) is counted in "errors" and logged.
import { log, write_output } from './lib/dcis'
import { cacheGetMany, countersAdd, hostError, hostStatus, logAppendMany, sinkEmit } from './lib/host'

export function alloc (len: usize): usize {
  return heap.alloc(len > 0 ? len : 1)
}

export function dealloc (ptr: usize, _len: usize): void {
  heap.free(ptr)
}

const SERVICE = 'fleet'

let errors: i32 = 0

function note (what: string): void {
  errors++
  const b = String.UTF8.encode(what + ': ' + hostStatus().toString() + ' ' + hostError() + '\n')
  log(changetype<usize>(b), <usize>b.byteLength)
}

/** the string value of "name":"..." in a flat JSON object, or null */
function strField (line: string, name: string): string | null {
  const tag = '"' + name + '":"'
  const i = line.indexOf(tag)
  if (i < 0) return null
  const start = i + tag.length
  const end = line.indexOf('"', start)
  if (end < 0) return null
  return line.substring(start, end)
}

/** the numeric value of "name":123.4 in a flat JSON object, or NaN */
function numField (line: string, name: string): f64 {
  const tag = '"' + name + '":'
  const i = line.indexOf(tag)
  if (i < 0) return NaN
  let start = i + tag.length
  while (start < line.length && line.charCodeAt(start) === 32) start++
  let end = start
  while (end < line.length) {
    const c = line.charCodeAt(end)
    if ((c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46 || c === 101 || c === 69) end++
    else break
  }
  if (end === start) return NaN
  return parseFloat(line.substring(start, end))
}

function plausible (sensor: string, v: f64): bool {
  if (!isFinite(v)) return false
  if (sensor === 'brake_temp') return v >= -50 && v <= 1200
  if (sensor === 'speed') return v >= 0 && v <= 400
  return v >= -1e6 && v <= 1e6
}

const thresholds = new Map<string, f64>()

/**
 * every listed vehicle's maxBrakeTemp from its metadata, read through the
 * edge cache in one host call per batch (default 350 when the cache has none)
 */
function loadThresholds (vehicles: string[]): void {
  if (vehicles.length === 0) return
  const metas = cacheGetMany('vehicles', vehicles)
  if (metas === null) note('cache_get_many')
  for (let i = 0; i < vehicles.length; i++) {
    let t: f64 = 350
    if (metas !== null && i < metas.length) {
      const meta = metas[i]
      if (meta !== null) {
        const m = numField(meta, 'maxBrakeTemp')
        if (isFinite(m)) t = m
      }
    }
    thresholds.set(vehicles[i], t)
  }
}

export function handle_event (ptr: usize, len: usize): i32 {
  errors = 0
  thresholds.clear()
  const text = String.UTF8.decodeUnsafe(ptr, len)
  const lines = text.split('\n')
  const counts = new Map<string, i64>()
  const order: string[] = []
  let accepted: i32 = 0
  let dropped: i32 = 0
  let alerts: i32 = 0
  const alertLines: string[] = []
  // brake readings wait for their vehicle's threshold: one cache call for the batch
  const brakeLines: string[] = []
  const brakeVehicles: string[] = []
  const brakeValues: f64[] = []
  const wanted: string[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line.length === 0) continue
    const vehicle = strField(line, 'vehicle')
    const sensor = strField(line, 'sensor')
    const value = numField(line, 'value')
    if (vehicle === null || vehicle.length === 0 || sensor === null || !plausible(sensor, value)) {
      dropped++
      continue
    }
    accepted++
    if (!counts.has(vehicle)) { counts.set(vehicle, 0); order.push(vehicle) }
    counts.set(vehicle, counts.get(vehicle) + 1)
    if (sensor === 'brake_temp') {
      if (!thresholds.has(vehicle)) { thresholds.set(vehicle, 350); wanted.push(vehicle) }
      brakeLines.push(line)
      brakeVehicles.push(vehicle)
      brakeValues.push(value)
    }
  }
  loadThresholds(wanted)
  for (let i = 0; i < brakeLines.length; i++) {
    const value = brakeValues[i]
    if (value > thresholds.get(brakeVehicles[i])) {
      alerts++
      alertLines.push('{"vehicle":"' + brakeVehicles[i] + '","sensor":"brake_temp","value":' + value.toString() + ',"event":' + brakeLines[i] + '}')
    }
  }
  if (alertLines.length > 0) {
    // the alerts first: the log replicates them to the other regions at once, the core gets them in one record
    if (logAppendMany(SERVICE, 'alerts', alertLines) === null) note('log_append_many')
    if (!sinkEmit('core', '{"alerts":[' + alertLines.join(',') + ']}')) note('sink_emit')
  }
  if (order.length > 0) {
    const deltas: i64[] = []
    for (let i = 0; i < order.length; i++) deltas.push(counts.get(order[i]))
    if (!countersAdd(SERVICE, order, deltas)) note('counters_add')
  }
  const out = String.UTF8.encode('{"accepted":' + accepted.toString() + ',"dropped":' + dropped.toString() + ',"alerts":' + alerts.toString() + ',"errors":' + errors.toString() + '}')
  write_output(changetype<usize>(out), <usize>out.byteLength)
  return 0
}
