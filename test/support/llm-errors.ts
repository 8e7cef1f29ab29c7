import { LlmError } from '../../src/llm/types';

/** The LlmError a call fails with; the test fails if the call succeeds or throws anything else. */
export async function llmErrorOf(promise: Promise<unknown>): Promise<LlmError> {
  const outcome = await promise.then(
    () => 'no error',
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(LlmError);
  return outcome as LlmError;
}
