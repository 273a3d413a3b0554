/**
 * loadConfig: defaults < YAML file < env (DCIS_*) < flags, each layer
 * checked on its own (so errors name their source), then merged and the
 * result checked against the full schema.
 */
import path from 'node:path'
import { defaultConfig, defaultZone } from './defaults.js'
import { ConfigError } from './errors.js'
import { fileLayer } from './file-source.js'
import { CONFIG_FILE_ENV, envLayer, flagsLayer } from './inputs.js'
import type { ConfigFlags } from './inputs.js'
import { checkLayer, mergeLayers, provenanceSourceOf } from './layer.js'
import type { ConfigLayer } from './layer.js'
import type { DcisConfig } from './schema.js'
import { configCheckers } from './validate.js'

export interface LoadConfigOptions {
  /** YAML config file; else flags.config, else env DCIS_CONFIG; none = no file */
  file?: string
  /** environment; default process.env */
  env?: NodeJS.ProcessEnv
  flags?: ConfigFlags
  /** base for relative paths given in env and flags; default process.cwd() */
  cwd?: string
  signal?: AbortSignal
}

export async function loadConfig (options: LoadConfigOptions = {}): Promise<DcisConfig> {
  const cwd = path.resolve(options.cwd ?? process.cwd())
  const env = options.env ?? process.env
  const flags = options.flags ?? {}
  const { layer: layerSchema, full: fullSchema } = configCheckers

  const layers: ConfigLayer[] = []
  const flagLayer = flagsLayer(flags, cwd)
  const envValues = envLayer(env, cwd)

  const fileRef = pickConfigFile(options, flags, env)
  if (fileRef != null) {
    layers.push(await fileLayer(fileRef.file, cwd, fileRef.origin, options.signal))
  }
  layers.push(envValues, flagLayer)
  for (const layer of layers) {
    options.signal?.throwIfAborted()
    await checkLayer(layer, layerSchema)
  }

  const defaults = defaultConfig()
  defaults.dataDir = path.resolve(cwd, defaults.dataDir)
  const merged = mergeLayers(defaults as unknown as Record<string, unknown>, layers)
  if (!merged.provenance.has('zone')) {
    merged.values.zone = defaultZone(merged.values.region as string)
    const regionSource = merged.provenance.get('region')
    if (regionSource != null) merged.provenance.set('zone', `${regionSource} (zone derived from region)`)
  }
  fullSchema.check(merged.values, provenanceSourceOf(merged.provenance))
  return merged.values as unknown as DcisConfig
}

function pickConfigFile (options: LoadConfigOptions, flags: ConfigFlags, env: NodeJS.ProcessEnv): { file: string, origin: string } | undefined {
  const candidates: Array<[unknown, string]> = [
    [options.file, 'option file'],
    [flags.config, 'flag --config'],
    [env[CONFIG_FILE_ENV], `env ${CONFIG_FILE_ENV}`]
  ]
  for (const [value, origin] of candidates) {
    if (value === undefined || value === null) continue
    if (typeof value !== 'string') {
      throw new ConfigError('CONFIG_INVALID', 'config', 'must be a file path', origin)
    }
    if (value.trim() === '') continue
    return { file: value, origin }
  }
  return undefined
}
