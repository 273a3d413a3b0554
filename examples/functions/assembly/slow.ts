// slow: a deliberately slow version for rollout tests: it echoes its
// request like echo, after burning CPU for a few hundred milliseconds (a
// fixed amount of work, so its latency breaks a p95 SLA of tens of ms on
// any machine this project runs on). Build: see ../build.mjs.
import { readStdin, writeAll } from './lib/io'

const input = readStdin()
// xorshift over ~200 M iterations; the result is written to stderr-free
// memory so the optimiser cannot drop the loop
let x: u64 = 88172645
for (let i: i32 = 0; i < 200_000_000; i++) {
  x ^= x << 13
  x ^= x >> 7
  x ^= x << 17
}
store<u64>(input.ptr + input.len, x)
writeAll(1, input.ptr, input.len)
