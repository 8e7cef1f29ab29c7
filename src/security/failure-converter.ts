import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Loaded by path (see `createDataConverter`) in workers, clients and the workflow sandbox, so it must stay free
 * of I/O and Node-only imports. Moving failure messages and stack traces into `encodedAttributes` makes them
 * payloads, which the encryption codec then seals; history shows only "Encoded failure".
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
