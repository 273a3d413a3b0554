// sensor-filter: the case study's edge filter as a WASI preview1 command.
// JSON events on stdin, the filtered aggregate on stdout (see lib/sensor.ts
// for the formats); bad input -> a message on stderr and exit code 1.
import { exitWith, readStdin, writeString } from './lib/io'
import { filterSensors, lastError } from './lib/sensor'

const input = readStdin()
const out = filterSensors(input.ptr, input.len)
if (out !== null) writeString(1, out!)
else exitWith(1, 'bad input: ' + lastError())
