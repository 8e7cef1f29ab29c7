#!/usr/bin/env node
// Regenerates data/clinc150/clinc150-subset.json from the full CLINC150 release (data_full.json), keeping only
// the intents listed in mapping.json and the out-of-scope queries. Usage:
//   node data/clinc150/extract-subset.mjs ../shared/datasets/clinc150/data_full.json
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = process.argv[2] ?? path.join(here, '..', '..', '..', 'shared', 'datasets', 'clinc150', 'data_full.json');
const full = JSON.parse(fs.readFileSync(source, 'utf8'));
const mapping = JSON.parse(fs.readFileSync(path.join(here, 'mapping.json'), 'utf8'));
const wanted = Object.keys(mapping.intents);

const intents = Object.fromEntries(wanted.map((intent) => [intent, { train: [], val: [], test: [] }]));
for (const split of ['train', 'val', 'test']) {
  for (const [text, intent] of full[split]) {
    if (intents[intent]) intents[intent][split].push(text);
  }
}
for (const intent of wanted) {
  if (intents[intent].test.length === 0) throw new Error(`intent ${intent} not found in ${source}`);
}
const oos = { train: full.oos_train.map(([t]) => t), val: full.oos_val.map(([t]) => t), test: full.oos_test.map(([t]) => t) };

const subset = {
  source: 'CLINC150 data_full.json (Larson et al., 2019), CC BY 3.0; subset, see README.md',
  intents,
  oos,
};
fs.writeFileSync(path.join(here, 'clinc150-subset.json'), JSON.stringify(subset, null, 1) + '\n');
console.log(`wrote ${wanted.length} intents and ${oos.test.length + oos.train.length + oos.val.length} out-of-scope queries`);
