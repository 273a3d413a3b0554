// sensor-reactor: the same sensor filter under the reactor ABI
// (docs/wasm-abi.md): the host calls alloc(len), copies the request in,
// calls handle_event(ptr, len), then dealloc(ptr, len). The response goes
// out through dcis.write_output; a non-zero return is an error.
import { log, write_output } from './lib/dcis'
import { filterSensors, lastError } from './lib/sensor'

export function alloc (len: usize): usize {
  return heap.alloc(len > 0 ? len : 1)
}

export function dealloc (ptr: usize, _len: usize): void {
  heap.free(ptr)
}

export function handle_event (ptr: usize, len: usize): i32 {
  const out = filterSensors(ptr, len)
  if (out !== null) {
    const bytes = String.UTF8.encode(out)
    write_output(changetype<usize>(bytes), <usize>bytes.byteLength)
    return 0
  }
  const msg = String.UTF8.encode('bad input: ' + lastError())
  log(changetype<usize>(msg), <usize>msg.byteLength)
  return 1
}
