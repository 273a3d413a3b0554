// host-probe: exercises the host interface (tests, docs/wasm-abi.md). A
// reactor; the request is lines of space-separated commands:
//   kv_get S K | kv_put S K V | counter_add S K N | counter_get S K |
//   log_append S K V | sink_emit SINK V | cache_get C K |
//   cache_get_many C K1,K2,... (answers the values joined by '|', '-' for an absent one)
// and the response one line per command: "ok <result>" or "err <status> <message>".
import { write_output } from './lib/dcis'
import { cacheGet, cacheGetMany, counterAdd, counterGet, countersAdd, hostError, hostStatus, kvGet, kvPut, logAppend, sinkEmit } from './lib/host'

export function alloc (len: usize): usize {
  return heap.alloc(len > 0 ? len : 1)
}

export function dealloc (ptr: usize, _len: usize): void {
  heap.free(ptr)
}

function emit (s: string): void {
  const b = String.UTF8.encode(s + '\n')
  write_output(changetype<usize>(b), <usize>b.byteLength)
}

function answer (result: string): void {
  if (hostStatus() === 0) emit('ok ' + result)
  else emit('err ' + hostStatus().toString() + ' ' + hostError())
}

export function handle_event (ptr: usize, len: usize): i32 {
  const text = String.UTF8.decodeUnsafe(ptr, len)
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line.length === 0) continue
    const w = line.split(' ')
    const op = w[0]
    const a = w.length > 1 ? w[1] : ''
    const b = w.length > 2 ? w[2] : ''
    const c = w.length > 3 ? w[3] : ''
    if (op === 'kv_get') { const r = kvGet(a, b); answer(r === null ? '' : r) }
    else if (op === 'kv_put') { kvPut(a, b, c); answer('') }
    else if (op === 'counter_add') { const v = counterAdd(a, b, I64.parseInt(c)); answer(v.toString()) }
    else if (op === 'counters_add') { countersAdd(a, [b, c], [1, 2]); answer('') }
    else if (op === 'counter_get') { const v = counterGet(a, b); answer(v.toString()) }
    else if (op === 'log_append') { const r = logAppend(a, b, c); answer(r === null ? '' : r) }
    else if (op === 'sink_emit') { sinkEmit(a, b); answer('') }
    else if (op === 'cache_get') { const r = cacheGet(a, b); answer(r === null ? '' : r) }
    else if (op === 'cache_get_many') {
      const r = cacheGetMany(a, b.split(','))
      if (r === null) { answer(''); continue }
      const parts: string[] = []
      for (let j = 0; j < r.length; j++) { const v = r[j]; parts.push(v === null ? '-' : v) }
      answer(parts.join('|'))
    }
    else emit('err bad command ' + op)
  }
  return 0
}
