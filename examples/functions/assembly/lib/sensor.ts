// The case study's sensor-event filter, shared by the WASI command and the
// reactor. Input (UTF-8 JSON), any of:
//   [{"sensor":"t1","value":21.5}, ...]                      a batch
//   {"min":-10,"max":40,"events":[...]}                      a batch with thresholds
//   {"sensor":"t1","value":21.5}\n{"sensor":"t2",...}\n      NDJSON
// An event names its sensor with "sensor" (or "id") and its reading with
// "value"; other fields are ignored. Readings outside [min, max] (default
// [-40, 85]) are dropped; events without a sensor or a finite numeric value
// are counted as invalid. Output:
//   {"accepted":N,"dropped":N,"invalid":N,"sensors":[{"sensor":"t1",
//    "count":N,"dropped":N,"min":x,"max":x,"avg":x}, ...]}
// with sensors in first-seen order and min/max/avg null when count is 0.

let pos: usize = 0
let end: usize = 0
let base: usize = 0
let error: string | null = null
let depth: i32 = 0

let thresholdMin: f64 = -40
let thresholdMax: f64 = 85

let sensorIndex = new Map<string, i32>()
let sensorNames: string[] = []
let evSensor: i32[] = []
let evValue: f64[] = []
let invalid: i32 = 0

const MAX_DEPTH: i32 = 64

const K_SENSOR = String.UTF8.encode('sensor')
const K_ID = String.UTF8.encode('id')
const K_VALUE = String.UTF8.encode('value')
const K_MIN = String.UTF8.encode('min')
const K_MAX = String.UTF8.encode('max')
const K_EVENTS = String.UTF8.encode('events')

function reset (ptr: usize, len: usize): void {
  pos = ptr
  base = ptr
  end = ptr + len
  error = null
  depth = 0
  thresholdMin = -40
  thresholdMax = 85
  sensorIndex = new Map<string, i32>()
  sensorNames = []
  evSensor = []
  evValue = []
  invalid = 0
}

function fail (message: string): void {
  if (error === null) error = message + ' at byte ' + (pos - base).toString()
  pos = end
}

function peek (): i32 {
  return pos < end ? <i32>load<u8>(pos) : -1
}

function ws (): void {
  while (pos < end) {
    const c = load<u8>(pos)
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++
    else break
  }
}

function expect (c: i32, what: string): boolean {
  ws()
  if (peek() !== c) {
    fail('expected ' + what)
    return false
  }
  pos++
  return true
}

// --- strings -------------------------------------------------------------

let strStart: usize = 0
let strLen: usize = 0
let strEscaped = false

/** scan a string at pos (after ws); sets strStart/strLen (raw bytes) */
function scanString (): boolean {
  if (!expect(0x22, 'a string')) return false
  strStart = pos
  strEscaped = false
  while (pos < end) {
    const c = load<u8>(pos)
    if (c === 0x22) {
      strLen = pos - strStart
      pos++
      return true
    }
    if (c === 0x5c) {
      strEscaped = true
      pos += 2
      continue
    }
    if (c < 0x20) {
      fail('control character in string')
      return false
    }
    pos++
  }
  fail('unterminated string')
  return false
}

function hex (c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30)
  if (c >= 0x61 && c <= 0x66) return <i32>(c - 0x61 + 10)
  if (c >= 0x41 && c <= 0x46) return <i32>(c - 0x41 + 10)
  return -1
}

/** decode the last scanned string */
function decodeString (): string {
  if (!strEscaped) return String.UTF8.decodeUnsafe(strStart, strLen)
  const out = heap.alloc(strLen)
  let o: usize = 0
  let i: usize = 0
  while (i < strLen) {
    const c = load<u8>(strStart + i)
    if (c !== 0x5c) {
      store<u8>(out + o++, c)
      i++
      continue
    }
    const e = i + 1 < strLen ? load<u8>(strStart + i + 1) : 0
    i += 2
    if (e === 0x6e) store<u8>(out + o++, 0x0a)
    else if (e === 0x74) store<u8>(out + o++, 0x09)
    else if (e === 0x72) store<u8>(out + o++, 0x0d)
    else if (e === 0x62) store<u8>(out + o++, 0x08)
    else if (e === 0x66) store<u8>(out + o++, 0x0c)
    else if (e === 0x75) {
      let cp: i32 = 0
      for (let k: usize = 0; k < 4; k++) {
        const h = i + k < strLen ? hex(<u32>load<u8>(strStart + i + k)) : -1
        if (h < 0) {
          fail('bad \\u escape')
          return ''
        }
        cp = (cp << 4) | h
      }
      i += 4
      if (cp < 0x80) {
        store<u8>(out + o++, <u8>cp)
      } else if (cp < 0x800) {
        store<u8>(out + o++, <u8>(0xc0 | (cp >> 6)))
        store<u8>(out + o++, <u8>(0x80 | (cp & 0x3f)))
      } else {
        store<u8>(out + o++, <u8>(0xe0 | (cp >> 12)))
        store<u8>(out + o++, <u8>(0x80 | ((cp >> 6) & 0x3f)))
        store<u8>(out + o++, <u8>(0x80 | (cp & 0x3f)))
      }
    } else store<u8>(out + o++, e)
  }
  const s = String.UTF8.decodeUnsafe(out, o)
  heap.free(out)
  return s
}

function keyIs (k: ArrayBuffer): boolean {
  return !strEscaped && <usize>k.byteLength === strLen && memory.compare(strStart, changetype<usize>(k), strLen) === 0
}

// --- numbers and other values --------------------------------------------

function isDigit (c: i32): boolean {
  return c >= 0x30 && c <= 0x39
}

/** parse a JSON number at pos; NaN (and a failure) when there is none */
function parseNumber (): f64 {
  ws()
  const start = pos
  let neg = false
  if (peek() === 0x2d) {
    neg = true
    pos++
  }
  if (!isDigit(peek())) {
    pos = start
    return NaN
  }
  let mant: f64 = 0
  let exp: i32 = 0
  while (isDigit(peek())) {
    mant = mant * 10 + <f64>(load<u8>(pos) - 0x30)
    pos++
  }
  if (peek() === 0x2e) {
    pos++
    if (!isDigit(peek())) {
      fail('bad number')
      return NaN
    }
    while (isDigit(peek())) {
      mant = mant * 10 + <f64>(load<u8>(pos) - 0x30)
      exp--
      pos++
    }
  }
  const e = peek()
  if (e === 0x65 || e === 0x45) {
    pos++
    let eneg = false
    if (peek() === 0x2b || peek() === 0x2d) {
      eneg = peek() === 0x2d
      pos++
    }
    if (!isDigit(peek())) {
      fail('bad exponent')
      return NaN
    }
    let ev: i32 = 0
    while (isDigit(peek())) {
      if (ev < 10000) ev = ev * 10 + <i32>(load<u8>(pos) - 0x30)
      pos++
    }
    exp += eneg ? -ev : ev
  }
  let v = mant
  if (exp > 0) v = mant * Math.pow(10, <f64>exp)
  else if (exp < 0) v = exp < -300 ? (mant / Math.pow(10, 300)) / Math.pow(10, <f64>(-exp - 300)) : mant / Math.pow(10, <f64>(-exp))
  return neg ? -v : v
}

function literal (text: string): void {
  const b = String.UTF8.encode(text)
  const n = <usize>b.byteLength
  if (pos + n > end || memory.compare(pos, changetype<usize>(b), n) !== 0) {
    fail('bad literal')
    return
  }
  pos += n
}

function skipValue (): void {
  ws()
  const c = peek()
  if (c === 0x22) {
    scanString()
  } else if (c === 0x7b || c === 0x5b) {
    if (++depth > MAX_DEPTH) {
      fail('nesting too deep')
      return
    }
    const close = c === 0x7b ? 0x7d : 0x5d
    pos++
    ws()
    if (peek() === close) {
      pos++
      depth--
      return
    }
    while (error === null) {
      if (c === 0x7b) {
        if (!scanString() || !expect(0x3a, '":"')) return
      }
      skipValue()
      ws()
      const d = peek()
      pos++
      if (d === close) break
      if (d !== 0x2c) {
        fail('expected "," or a close bracket')
        return
      }
    }
    depth--
  } else if (c === 0x74) {
    literal('true')
  } else if (c === 0x66) {
    literal('false')
  } else if (c === 0x6e) {
    literal('null')
  } else {
    const v = parseNumber()
    if (isNaN(v) && error === null) fail('unexpected character')
  }
}

// --- events --------------------------------------------------------------

function internSensor (name: string): i32 {
  if (sensorIndex.has(name)) return sensorIndex.get(name)
  const i = sensorNames.length
  sensorNames.push(name)
  sensorIndex.set(name, i)
  return i
}

/** the events array at pos */
function parseEvents (): void {
  if (!expect(0x5b, '"[" (the events array)')) return
  ws()
  if (peek() === 0x5d) {
    pos++
    return
  }
  while (error === null) {
    ws()
    if (peek() !== 0x7b) {
      skipValue()
      invalid++
    } else {
      parseObject(false)
    }
    ws()
    const d = peek()
    pos++
    if (d === 0x5d) return
    if (d !== 0x2c) {
      fail('expected "," or "]" in the events array')
      return
    }
  }
}

/**
 * An object: an event, or (at top level only) an envelope with
 * thresholds and an events array.
 */
function parseObject (topLevel: boolean): void {
  expect(0x7b, '"{"')
  let sensor: string | null = null
  let value: f64 = NaN
  let isEnvelope = false
  ws()
  if (peek() === 0x7d) {
    pos++
    invalid++
    return
  }
  while (error === null) {
    if (!scanString()) return
    if (!expect(0x3a, '":"')) return
    ws()
    if (keyIs(K_SENSOR) || keyIs(K_ID)) {
      if (peek() === 0x22) {
        scanString()
        sensor = decodeString()
      } else skipValue()
    } else if (keyIs(K_VALUE)) {
      const c = peek()
      if (c === 0x2d || isDigit(c)) value = parseNumber()
      else skipValue()
    } else if (topLevel && keyIs(K_EVENTS)) {
      isEnvelope = true
      parseEvents()
    } else if (topLevel && keyIs(K_MIN)) {
      const v = parseNumber()
      if (isNaN(v)) fail('"min" must be a number')
      thresholdMin = v
    } else if (topLevel && keyIs(K_MAX)) {
      const v = parseNumber()
      if (isNaN(v)) fail('"max" must be a number')
      thresholdMax = v
    } else {
      skipValue()
    }
    ws()
    const d = peek()
    pos++
    if (d === 0x7d) break
    if (d !== 0x2c) {
      fail('expected "," or "}"')
      return
    }
    ws()
  }
  if (isEnvelope || error !== null) return
  if (sensor === null || !isFinite(value)) {
    invalid++
    return
  }
  evSensor.push(internSensor(sensor))
  evValue.push(value)
}

function jsonString (s: string): string {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x22) out += '\\"'
    else if (c === 0x5c) out += '\\\\'
    else if (c < 0x20) {
      const h = c.toString(16)
      out += '\\u00' + (h.length < 2 ? '0' + h : h)
    } else out += String.fromCharCode(c)
  }
  return out + '"'
}

function num (v: f64): string {
  // integral values print without ".0"; JSON has no NaN/Infinity
  if (!isFinite(v)) return 'null'
  if (v === Math.floor(v) && Math.abs(v) < 1e15) return (<i64>v).toString()
  return v.toString()
}

/** Filter and aggregate [ptr, ptr+len); returns the output JSON, or null with `lastError()` set. */
export function filterSensors (ptr: usize, len: usize): string | null {
  reset(ptr, len)
  ws()
  if (peek() === 0x5b) {
    parseEvents()
  } else {
    // one object, or NDJSON objects
    while (error === null) {
      ws()
      if (pos >= end) break
      if (peek() !== 0x7b) {
        fail('expected an array or an object')
        break
      }
      parseObject(true)
    }
  }
  ws()
  if (error === null && pos < end) fail('trailing data')
  if (error !== null) return null
  if (thresholdMin > thresholdMax) {
    error = '"min" is greater than "max"'
    return null
  }

  const n = sensorNames.length
  const count = new Array<i32>(n)
  const dropped = new Array<i32>(n)
  const mins = new Array<f64>(n)
  const maxs = new Array<f64>(n)
  const sums = new Array<f64>(n)
  for (let i = 0; i < n; i++) {
    mins[i] = Infinity
    maxs[i] = -Infinity
  }
  let accepted: i32 = 0
  let droppedTotal: i32 = 0
  for (let e = 0; e < evValue.length; e++) {
    const s = evSensor[e]
    const v = evValue[e]
    if (v < thresholdMin || v > thresholdMax) {
      dropped[s]++
      droppedTotal++
      continue
    }
    accepted++
    count[s]++
    sums[s] += v
    if (v < mins[s]) mins[s] = v
    if (v > maxs[s]) maxs[s] = v
  }
  const parts = new Array<string>()
  for (let i = 0; i < n; i++) {
    const c = count[i]
    parts.push('{"sensor":' + jsonString(sensorNames[i]) + ',"count":' + c.toString() + ',"dropped":' + dropped[i].toString() +
      ',"min":' + (c > 0 ? num(mins[i]) : 'null') + ',"max":' + (c > 0 ? num(maxs[i]) : 'null') +
      ',"avg":' + (c > 0 ? num(sums[i] / <f64>c) : 'null') + '}')
  }
  return '{"accepted":' + accepted.toString() + ',"dropped":' + droppedTotal.toString() + ',"invalid":' + invalid.toString() +
    ',"sensors":[' + parts.join(',') + ']}'
}

export function lastError (): string {
  const e = error
  return e !== null ? e : ''
}
