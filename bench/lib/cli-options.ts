import { InvalidArgumentError } from 'commander';

/** Option parsers shared by `npm run bench` and `npm run eval`. */

export function integer(min: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min)
      throw new InvalidArgumentError(`expected an integer ≥ ${min}`);
    return parsed;
  };
}

export function vectorDbChoice(value: string): 'private' | 'env' {
  if (value !== 'private' && value !== 'env') throw new InvalidArgumentError('expected private or env');
  return value;
}

export function databaseChoice(value: string): 'postgres' | 'embedded' {
  if (value !== 'postgres' && value !== 'embedded')
    throw new InvalidArgumentError('expected postgres or embedded');
  return value;
}
