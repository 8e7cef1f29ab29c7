// The embedding model in a worker thread of its own (see TransformersEmbedder in embedder.ts): onnxruntime-node
// 1.14 runs inference synchronously on the calling thread, so in the main thread every embedding would stall
// everything else the process does (Temporal polling, local activities, HTTP requests) for its duration.
// Protocol: the parent sends { modelsDir, modelId } as workerData, then { id, texts } messages; each gets back
// { id, dims, data } (data transferred, not copied) or { id, error }.
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

const { modelsDir, modelId } = workerData;

async function loadExtractor() {
  const transformers = await import('@xenova/transformers');
  transformers.env.localModelPath = path.resolve(modelsDir) + path.sep;
  transformers.env.allowRemoteModels = false;
  transformers.env.allowLocalModels = true;
  return transformers.pipeline('feature-extraction', modelId, { quantized: true });
}

const extractor = loadExtractor();
// Requests run one at a time, in order: the parent batches concurrent callers into one request.
let chain = Promise.resolve();
parentPort.on('message', ({ id, texts }) => {
  chain = chain.then(async () => {
    try {
      const output = await (await extractor)(texts, { pooling: 'mean', normalize: true });
      const data = new Float32Array(output.data);
      parentPort.postMessage({ id, dims: output.dims, data }, [data.buffer]);
    } catch (error) {
      parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
    }
  });
});
