/**
 * The two function ABIs and the host import modules a function may use.
 * Documented for authors in docs/wasm-abi.md.
 */
import type { ValType } from './binary.js'

export type Abi = 'wasi' | 'reactor'
export const ABIS: readonly Abi[] = ['wasi', 'reactor']

export const WASI_MODULE = 'wasi_snapshot_preview1'
/** Our own host ABI module. */
export const DCIS_MODULE = 'dcis'

/** Every function of WASI preview1; the ones the host does not implement return ENOSYS. */
export const WASI_PREVIEW1_FUNCTIONS: ReadonlySet<string> = new Set([
  'args_get', 'args_sizes_get', 'environ_get', 'environ_sizes_get', 'clock_res_get', 'clock_time_get',
  'fd_advise', 'fd_allocate', 'fd_close', 'fd_datasync', 'fd_fdstat_get', 'fd_fdstat_set_flags',
  'fd_fdstat_set_rights', 'fd_filestat_get', 'fd_filestat_set_size', 'fd_filestat_set_times', 'fd_pread',
  'fd_prestat_get', 'fd_prestat_dir_name', 'fd_pwrite', 'fd_read', 'fd_readdir', 'fd_renumber', 'fd_seek',
  'fd_sync', 'fd_tell', 'fd_write', 'path_create_directory', 'path_filestat_get', 'path_filestat_set_times',
  'path_link', 'path_open', 'path_readlink', 'path_remove_directory', 'path_rename', 'path_symlink',
  'path_unlink_file', 'poll_oneoff', 'proc_exit', 'proc_raise', 'sched_yield', 'random_get', 'sock_accept',
  'sock_recv', 'sock_send', 'sock_shutdown'
])

/** The `dcis` host functions and their exact signatures. */
export const DCIS_FUNCTIONS: ReadonlyMap<string, { params: ValType[], results: ValType[] }> = new Map([
  /** append bytes [ptr, ptr+len) to the function's output (bounded by maxOutputBytes) */
  ['write_output', { params: ['i32', 'i32'], results: [] }],
  /** append UTF-8 bytes [ptr, ptr+len) to the function's log (the captured stderr, bounded, truncated) */
  ['log', { params: ['i32', 'i32'], results: [] }],
  // the host interface (src/wasm/host-calls.ts): every call returns the result's length (>= 0, read it
  // with result_read) or a negative status (HOST_STATUS; the message is then read with result_read)
  /** (service, key) -> the value */
  ['kv_get', { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] }],
  /** (service, key, value) -> 0 */
  ['kv_put', { params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], results: ['i32'] }],
  /** (service, key, delta) -> the counter's new value as decimal text */
  ['counter_add', { params: ['i32', 'i32', 'i32', 'i32', 'i64'], results: ['i32'] }],
  /** (service, batch of `key<TAB>delta` lines) -> 0: many counters in one write */
  ['counters_add', { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] }],
  /** (service, key) -> the counter's value as decimal text */
  ['counter_get', { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] }],
  /** (service, log key, entry) -> the entry's cursor */
  ['log_append', { params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], results: ['i32'] }],
  /** (service, log key, batch of lines) -> the last entry's cursor: one entry per line, one write */
  ['log_append_many', { params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], results: ['i32'] }],
  /** (sink, record) -> 0 */
  ['sink_emit', { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] }],
  /** (cache, key) -> the cached value */
  ['cache_get', { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] }],
  /** (cache, batch of keys, one per line) -> per key `<byte length>:<bytes>` or `-1:` when absent */
  ['cache_get_many', { params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] }],
  /** (ptr, len) -> bytes of the last result (or error message) copied to [ptr, ptr+len) */
  ['result_read', { params: ['i32', 'i32'], results: ['i32'] }]
])

export interface RequiredExport { name: string, kind: 'func' | 'memory', params?: ValType[], results?: ValType[] }

export const REQUIRED_EXPORTS: Record<Abi, RequiredExport[]> = {
  wasi: [
    { name: '_start', kind: 'func', params: [], results: [] },
    { name: 'memory', kind: 'memory' }
  ],
  reactor: [
    { name: 'handle_event', kind: 'func', params: ['i32', 'i32'], results: ['i32'] },
    { name: 'alloc', kind: 'func', params: ['i32'], results: ['i32'] },
    { name: 'memory', kind: 'memory' }
  ]
}

/** Exports that are optional but, when present, must have this signature. */
export const OPTIONAL_EXPORTS: Record<Abi, RequiredExport[]> = {
  wasi: [],
  reactor: [
    { name: 'dealloc', kind: 'func', params: ['i32', 'i32'], results: [] },
    { name: '_initialize', kind: 'func', params: [], results: [] }
  ]
}

/** Which import modules each ABI may use. */
export const ALLOWED_IMPORT_MODULES: Record<Abi, readonly string[]> = {
  wasi: [WASI_MODULE, DCIS_MODULE],
  reactor: [DCIS_MODULE]
}
