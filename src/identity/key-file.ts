/**
 * The node's private key on disk: `<dataDir>/identity.key`, the libp2p
 * protobuf encoding of an Ed25519 private key, mode 0600, written atomically
 * (temp file, fsync, link/rename into place, fsync of the directory).
 */
import { constants as fsConstants } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import {
  DataDirError,
  KeyFileCorruptError,
  KeyFileIoError,
  KeyFileMissingError,
  KeyFilePermissionsError
} from './errors.js'

export const KEY_FILE_NAME = 'identity.key'
const KEY_FILE_MODE = 0o600
const DATA_DIR_MODE = 0o700
/** A marshalled Ed25519 key is 68 bytes; anything much larger is not ours. */
const MAX_KEY_FILE_SIZE = 4096
const checkPermissions = process.platform !== 'win32'

export function keyFilePath (dataDir: string): string {
  return path.join(dataDir, KEY_FILE_NAME)
}

/** Creates the data dir (0700) if absent; fails if the path exists and is not a directory. */
export async function ensureDataDir (dataDir: string): Promise<void> {
  try {
    await fs.mkdir(dataDir, { recursive: true, mode: DATA_DIR_MODE })
  } catch (err) {
    throw new DataDirError(dataDir, 'cannot create it', err)
  }
  const st = await fs.stat(dataDir)
  if (!st.isDirectory()) {
    throw new DataDirError(dataDir, 'it exists and is not a directory')
  }
}

/**
 * Reads and checks the key file. Throws KeyFileMissingError (absent),
 * KeyFilePermissionsError (group/other bits set), KeyFileCorruptError
 * (undecodable, not Ed25519, or public half not matching the seed).
 */
export async function readKeyFile (file: string): Promise<Ed25519PrivateKey> {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(file, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new KeyFileMissingError(file)
    if (code === 'ENOTDIR') throw new DataDirError(path.dirname(file), 'it is not a directory', err)
    if (code === 'ELOOP') throw new KeyFileCorruptError(file, 'it is a symbolic link; the key file must be a regular file')
    throw new KeyFileIoError(file, 'open', err)
  }
  let bytes: Uint8Array
  try {
    // fstat the open descriptor: the mode checked is that of the file read
    const st = await handle.stat()
    if (!st.isFile()) {
      throw new KeyFileCorruptError(file, 'it is not a regular file')
    }
    if (checkPermissions && (st.mode & 0o077) !== 0) {
      throw new KeyFilePermissionsError(file, st.mode)
    }
    if (st.size > MAX_KEY_FILE_SIZE) {
      throw new KeyFileCorruptError(file, `${st.size} bytes, far larger than a key`)
    }
    bytes = await handle.readFile()
  } catch (err) {
    if (err instanceof KeyFileCorruptError || err instanceof KeyFilePermissionsError) throw err
    throw new KeyFileIoError(file, 'read', err)
  } finally {
    await handle.close()
  }
  return decodeKey(file, bytes)
}

async function decodeKey (file: string, bytes: Uint8Array): Promise<Ed25519PrivateKey> {
  if (bytes.length === 0) {
    throw new KeyFileCorruptError(file, 'the file is empty')
  }
  let key
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new KeyFileCorruptError(file, 'not a libp2p protobuf private key', { cause: err })
  }
  if (key.type !== 'Ed25519') {
    throw new KeyFileCorruptError(file, `holds a ${key.type} key, expected Ed25519`)
  }
  // the encoding is seed || public key; a flipped bit in either half shows here
  const seed = key.raw.subarray(0, 32)
  const rederived = await generateKeyPairFromSeed('Ed25519', seed)
  if (!uint8ArrayEquals(rederived.publicKey.raw, key.publicKey.raw)) {
    throw new KeyFileCorruptError(file, 'the public key does not match the private seed')
  }
  return key
}

/**
 * Writes `key` to `file` atomically with mode 0600 without replacing an
 * existing file. Returns false (and writes nothing) if `file` already exists,
 * so two processes starting at once on one data dir end with one identity.
 */
export async function writeKeyFileExclusive (file: string, key: Ed25519PrivateKey): Promise<boolean> {
  const dir = path.dirname(file)
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  const bytes = privateKeyToProtobuf(key)
  try {
    const handle = await fs.open(tmp, 'wx', KEY_FILE_MODE)
    try {
      await handle.chmod(KEY_FILE_MODE) // the umask may only remove bits; make the mode exact anyway
      await handle.writeFile(bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      // link() fails with EEXIST instead of replacing, unlike rename()
      await fs.link(tmp, file)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST') return false
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV') throw err
      // file system without hard links: fall back to rename after a check
      if (await exists(file)) return false
      await fs.rename(tmp, file)
    }
    // no second name of the key is left behind, even after a crash
    await fs.rm(tmp, { force: true }).catch(() => {})
    await syncDir(dir) // the new entry (and the temp name's removal) is durable before we report success
    return true
  } catch (err) {
    if (err instanceof KeyFileIoError) throw err
    throw new KeyFileIoError(file, 'write', err)
  } finally {
    await fs.rm(tmp, { force: true }).catch(() => {})
  }
}

async function exists (file: string): Promise<boolean> {
  try {
    await fs.lstat(file)
    return true
  } catch {
    return false
  }
}

async function syncDir (dir: string): Promise<void> {
  const handle = await fs.open(dir, fsConstants.O_RDONLY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
