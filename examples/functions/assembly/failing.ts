// failing: a deliberately broken version for rollout tests: every call
// writes a message to stderr and exits with status 1 (an error response).
// A canary of it breaks any error-rate SLA and is reverted automatically.
// Build: see ../build.mjs.
import { readStdin, exitWith } from './lib/io'

readStdin()
exitWith(1, 'failing: this version always fails')
