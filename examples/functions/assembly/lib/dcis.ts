// The `dcis` host ABI (docs/wasm-abi.md). AssemblyScript imports a declared
// function from the module named after its file: this file is "dcis".

/** append [ptr, ptr+len) to the function's output */
export declare function write_output (ptr: usize, len: usize): void
/** append UTF-8 [ptr, ptr+len) to the function's log (captured stderr) */
export declare function log (ptr: usize, len: usize): void

// The host interface (docs/wasm-abi.md, "State, logs, sinks and caches").
// Each call returns the result's length (>= 0; copy it out with
// result_read) or a negative status (HOST_* in host.ts; result_read then
// gives the error message). Names, keys and values are UTF-8.

/** (service, key) -> the value */
export declare function kv_get (sp: usize, sl: usize, kp: usize, kl: usize): i32
/** (service, key, value) -> 0 */
export declare function kv_put (sp: usize, sl: usize, kp: usize, kl: usize, vp: usize, vl: usize): i32
/** (service, key, delta) -> the new value as decimal text */
export declare function counter_add (sp: usize, sl: usize, kp: usize, kl: usize, delta: i64): i32
/** (service, batch of `key<TAB>delta` lines) -> 0: many counters in one write */
export declare function counters_add (sp: usize, sl: usize, bp: usize, bl: usize): i32
/** (service, key) -> the value as decimal text */
export declare function counter_get (sp: usize, sl: usize, kp: usize, kl: usize): i32
/** (service, log key, entry) -> the entry's cursor */
export declare function log_append (sp: usize, sl: usize, kp: usize, kl: usize, vp: usize, vl: usize): i32
/** (service, log key, batch of lines) -> the last entry's cursor: one entry per line, one write */
export declare function log_append_many (sp: usize, sl: usize, kp: usize, kl: usize, bp: usize, bl: usize): i32
/** (sink, record) -> 0 */
export declare function sink_emit (np: usize, nl: usize, rp: usize, rl: usize): i32
/** (cache, key) -> the value */
export declare function cache_get (np: usize, nl: usize, kp: usize, kl: usize): i32
/** (cache, keys one per line) -> per key `<byte length>:<bytes>`, or `-1:` when absent */
export declare function cache_get_many (np: usize, nl: usize, bp: usize, bl: usize): i32
/** copies the last result (or error message) to [ptr, ptr+len); returns the bytes copied */
export declare function result_read (ptr: usize, len: usize): i32
