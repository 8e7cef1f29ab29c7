// The embedding model in a worker thread of its own (see TransformersEmbedder in embedder.ts): onnxruntime-node
// 1.14 runs inference synchronously on the calling thread, so in the main thread every embedding would stall
// everything else the process does (Temporal polling, local activities, HTTP requests) for its duration.
// Protocol: the parent sends { modelsDir, modelId, threads } as workerData, then { id, texts } messages; each gets
// back { id, dims, data } (data transferred, not copied) or { id, error }.
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

const { modelsDir, modelId, threads, pooling } = workerData;

/**
 * transformers.js 2.17 passes onnxruntime no thread settings, and onnxruntime-node 1.14 ignores session options
 * for a model given as bytes (which is how transformers.js gives it). So, to choose the thread count, the session
 * is created from the model's file instead. Its default (one thread per core, whose pool spins between runs)
 * doubled the CPU per embedding on a 2-core machine and slowed everything else down (bench/README.md).
 */
async function limitThreads() {
  const ort = (await import('onnxruntime-node')).default;
  const create = ort.InferenceSession.create.bind(ort.InferenceSession);
  // Only the quantized feature-extraction model is loaded in this thread (quantized: true below).
  const file = path.resolve(modelsDir, modelId, 'onnx', 'model_quantized.onnx');
  ort.InferenceSession.create = () =>
    create(file, { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1 });
}

async function loadExtractor() {
  if (threads > 0) await limitThreads();
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
      const output = await (await extractor)(texts, { pooling, normalize: true });
      const data = new Float32Array(output.data);
      parentPort.postMessage({ id, dims: output.dims, data }, [data.buffer]);
    } catch (error) {
      parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
    }
  });
});
