/**
 * Node configuration: one typed `DcisConfig`, merged from defaults < YAML
 * file < environment (DCIS_*) < flags and validated at load. Any bad value
 * throws a `ConfigError` whose one-line message names the field, the reason
 * and the source. See docs/configuration.md.
 *
 * ```ts
 * const config = await loadConfig({ env: process.env, flags, cwd: process.cwd() })
 * const peers = await resolveBootstrap(config.bootstrap, { cwd: process.cwd() })
 * ```
 */
export type { DcisConfig, RttMatrix, MeasuredRttMatrix, ConfigLogLevel, TelemetryConfig, NatConfig } from './schema.js'
export { LOG_LEVELS, NAME_PATTERN } from './schema.js'
export type { LoadConfigOptions } from './load.js'
export { loadConfig } from './load.js'
export { defaultConfig, defaultZone } from './defaults.js'
export type { ConfigFlags, InputSpec, InputKind } from './inputs.js'
export { INPUTS, CONFIG_FILE_ENV } from './inputs.js'
export { loadRttMatrix, parseRttMatrix, loadMeasuredRttMatrix, parseMeasuredRttMatrix, MAX_RTT_MATRIX_SIZE, MAX_EMULATED_RTT_MS } from './rtt-matrix.js'
export type { RttMatrixContext, LoadRttMatrixOptions } from './rtt-matrix.js'
export { resolveBootstrap, readBootstrapFile } from './bootstrap.js'
export type { BootstrapFile, ResolveBootstrapOptions } from './bootstrap.js'
export { ConfigError } from './errors.js'
export type { ConfigErrorCode } from './errors.js'
