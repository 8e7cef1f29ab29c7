import { importTs } from './paths.mjs';

/**
 * Validate `env` with the application's own schema (src/config.ts). Returns { ok: true, config, api }
 * or { ok: false, message } with every problem on ONE line, each naming its variable.
 */
export async function checkConfig(env) {
  const api = await importTs('src/config.ts');
  try {
    return { ok: true, config: api.loadConfig(env), api };
  } catch (error) {
    if (error?.name === 'ConfigError' && Array.isArray(error.issues)) {
      return { ok: false, message: `ticketflow: invalid configuration: ${error.issues.join('; ')}` };
    }
    throw error;
  }
}
