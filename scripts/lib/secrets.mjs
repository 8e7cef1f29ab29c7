import fs from 'node:fs';
import path from 'node:path';

/**
 * A secret `npm start` generates once and keeps in the data directory (admin key, payload encryption key):
 * created with mode 600 on first use, read back afterwards. Returns the file's content, trimmed.
 */
export function ensureSecretFile(file, generate) {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // 'wx': two starts racing on a fresh directory must not overwrite each other's key.
    try {
      fs.writeFileSync(file, `${generate()}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
  }
  return fs.readFileSync(file, 'utf8').trim();
}
