// The `dcis` host ABI (docs/wasm-abi.md). AssemblyScript imports a declared
// function from the module named after its file: this file is "dcis".

/** append [ptr, ptr+len) to the function's output */
export declare function write_output (ptr: usize, len: usize): void
/** append UTF-8 [ptr, ptr+len) to the function's log (captured stderr) */
export declare function log (ptr: usize, len: usize): void
