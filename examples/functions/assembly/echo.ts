// echo: a WASI preview1 command that copies its request (stdin) to its
// response (stdout). Build: see ../build.mjs.
import { readStdin, writeAll } from './lib/io'

const input = readStdin()
writeAll(1, input.ptr, input.len)
