// echo-v2: a good new version of echo for rollout demos and tests: copies
// its request (stdin) to its response (stdout) after a "v2:" prefix.
// Build: see ../build.mjs.
import { readStdin, writeAll, writeString } from './lib/io'

const input = readStdin()
writeString(1, 'v2:')
writeAll(1, input.ptr, input.len)
