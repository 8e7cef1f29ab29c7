#!/usr/bin/env node
// Validates the environment (plus .env, which the real environment overrides) against src/config.ts.
// Exit 0 and a one-line summary when valid; exit 2 and ONE line naming each bad variable otherwise.
import path from 'node:path';
import { checkConfig } from './lib/config.mjs';
import { withDotEnv } from './lib/env.mjs';
import { repoRoot } from './lib/paths.mjs';

const useDotEnv = !process.argv.includes('--no-dotenv');
let env = process.env;
if (useDotEnv) {
  try {
    env = withDotEnv(path.resolve(repoRoot, process.env.TICKETFLOW_ENV_FILE || '.env')).env;
  } catch (error) {
    console.error(`ticketflow: invalid configuration: ${error.message}`);
    process.exit(2);
  }
}
const result = await checkConfig(env);
if (!result.ok) {
  console.error(result.message);
  process.exit(2);
}
const provider = result.api.resolveLlmProvider(result.config);
console.log(
  `configuration OK (NODE_ENV=${result.config.NODE_ENV}, LLM provider ${provider}, vector store ${result.config.VECTOR_STORE})`,
);
