// Jest runs CommonJS; @xenova/transformers ships ES modules and reads import.meta.url once (to find
// its own folder). Node itself loads it natively (require(esm)); only under jest do we transpile it.
const { createTransformer } = require('@swc/jest');

const swc = createTransformer({
  jsc: { target: 'es2022', parser: { syntax: 'ecmascript' } },
  module: { type: 'commonjs' },
});

module.exports = {
  process(source, filename, options) {
    const patched = source
      .replace(/import\.meta\.url/g, "require('url').pathToFileURL(__filename).href")
      .replace(/\bconst __dirname = /, 'const __moduleRoot = ')
      .replace(/path\.join\(__dirname, /g, 'path.join(__moduleRoot, ');
    return swc.process(patched, filename, options);
  },
  getCacheKey(source, filename, options) {
    return swc.getCacheKey(source + '#esm-transform-v2', filename, options);
  },
};
