import fs from 'node:fs';
import path from 'node:path';

/**
 * The hostile-input corpus: hand-written requests (test/fixtures/hostile/requests.json), a catalogue of
 * nasty strings (strings.json) placed in every field of a ticket and of a Zendesk webhook, and a matrix of
 * wrong types / missing / empty values per field. Each case says what a correct API answers: a normal 2xx,
 * or a 4xx problem naming the field (and rule) at fault.
 *
 * Fixture conventions: `__ID__` becomes a fresh external id, `__ZID__` a fresh numeric Zendesk id (a JSON
 * number where it is a whole JSON value), `__ZIDS__` and `__NID__` the same as a string of digits; large values are written
 * as `{"$repeat": unit, "$times": n, "$prefix"?, "$then"?}`; `raw` may be a list of such parts.
 */

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'hostile');

export type Target = 'tickets' | 'zendesk' | 'raw';
export type AuthMode = 'admin' | 'intake' | 'none' | 'garbage' | 'revoked' | 'custom';
export type SignMode =
  | 'valid'
  | 'none'
  | 'no-timestamp'
  | 'wrong'
  | 'other-body'
  | 'stale'
  | 'future'
  | 'garbage-timestamp';

export interface Expectation {
  /** Acceptable statuses; a 5xx is never acceptable. */
  status: number | number[];
  /** For 4xx: a problem `errors[]` entry must name this field … */
  field?: string;
  /** … with this rule. */
  rule?: string;
}

export interface HostileCase {
  name: string;
  source: 'hand-written' | 'generated';
  target: Target;
  method: string;
  path: string;
  /** undefined = application/json; null = no content-type header. */
  contentType?: string | null;
  headers: Record<string, string>;
  auth: AuthMode;
  sign: SignMode;
  /** Exactly the bytes to send, placeholders still in (see `materialise`). */
  body: Buffer;
  chunked: boolean;
  /** Send twice; judge the second answer (webhook redelivery). */
  redeliver: boolean;
  expect: Expectation;
}

interface RepeatMarker {
  $repeat: string;
  $times: number;
  $prefix?: string;
  $then?: string;
}

function isRepeat(value: unknown): value is RepeatMarker {
  return typeof value === 'object' && value !== null && '$repeat' in value && '$times' in value;
}

/** Expand `$repeat` markers anywhere in a fixture value. */
export function expand(value: unknown): unknown {
  if (isRepeat(value))
    return `${value.$prefix ?? ''}${value.$repeat.repeat(value.$times)}${value.$then ?? ''}`;
  if (Array.isArray(value)) return value.map(expand);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, expand(inner)]));
  }
  return value;
}

export interface HostileString {
  name: string;
  value: string;
  /** Characters Postgres cannot store or no visible content: a precise 400 is as acceptable as a 2xx. */
  mayReject: boolean;
}

export function loadStrings(): HostileString[] {
  const raw = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'strings.json'), 'utf8')) as Array<{
    name: string;
    value: unknown;
    mayReject?: boolean;
  }>;
  return raw.map((s) => ({ name: s.name, value: String(expand(s.value)), mayReject: s.mayReject === true }));
}

interface RequestFixture {
  name: string;
  target: Target;
  method?: string;
  path?: string;
  contentType?: string | null;
  headers?: Record<string, unknown>;
  auth?: AuthMode;
  sign?: SignMode;
  json?: unknown;
  raw?: unknown;
  rawBase64?: string;
  chunked?: boolean;
  redeliver?: boolean;
  expect?: Partial<Expectation>;
}

const DEFAULT_PATHS: Record<Target, string> = {
  tickets: '/v1/tickets',
  zendesk: '/v1/webhooks/zendesk',
  raw: '/',
};

/** A JSON value's text, with a whole-value `"__ZID__"` turned into a bare number. */
function jsonText(value: unknown): string {
  return JSON.stringify(value).replace(/"__ZID__"/g, '__ZID__');
}

function fromFixture(fixture: RequestFixture): HostileCase {
  let body: Buffer;
  if (fixture.rawBase64 !== undefined) body = Buffer.from(fixture.rawBase64, 'base64');
  else if (fixture.raw !== undefined) {
    const parts = Array.isArray(fixture.raw) ? fixture.raw : [fixture.raw];
    body = Buffer.from(parts.map((p) => String(expand(p))).join(''), 'utf8');
  } else if (fixture.json !== undefined) body = Buffer.from(jsonText(expand(fixture.json)), 'utf8');
  else body = Buffer.alloc(0);
  const headers = Object.fromEntries(
    Object.entries(fixture.headers ?? {}).map(([k, v]) => [k, String(expand(v))]),
  );
  return {
    name: fixture.name,
    source: 'hand-written',
    target: fixture.target,
    method: fixture.method ?? 'POST',
    path: fixture.path ?? DEFAULT_PATHS[fixture.target],
    contentType: fixture.contentType,
    headers,
    auth: fixture.auth ?? 'admin',
    sign: fixture.sign ?? 'valid',
    body,
    chunked: fixture.chunked === true,
    redeliver: fixture.redeliver === true,
    expect: {
      status: fixture.expect?.status ?? [200, 202],
      field: fixture.expect?.field,
      rule: fixture.expect?.rule,
    },
  };
}

export function loadRequestFixtures(): HostileCase[] {
  const fixtures = JSON.parse(
    fs.readFileSync(path.join(FIXTURES, 'requests.json'), 'utf8'),
  ) as RequestFixture[];
  return fixtures.map(fromFixture);
}

function jsonCase(
  name: string,
  target: 'tickets' | 'zendesk',
  value: unknown,
  expect: Expectation,
  sign: SignMode = 'valid',
): HostileCase {
  return {
    name,
    source: 'generated',
    target,
    method: 'POST',
    path: DEFAULT_PATHS[target],
    headers: {},
    auth: 'admin',
    sign,
    body: Buffer.from(jsonText(value), 'utf8'),
    chunked: false,
    redeliver: false,
    expect,
  };
}

const TICKET_MAX_CHARS = 20000;

function baseTicket(): Record<string, unknown> {
  return {
    externalId: '__ID__',
    subject: 'Question',
    body: 'How do I request a refund for my annual plan?',
    customer: { email: 'customer@example.com', name: 'Casey Customer', id: 'c-1' },
    channel: 'api',
  };
}

/** Put `value` at a dotted path of a fresh ticket; `undefined` deletes the field. */
function ticketWith(field: string, value: unknown): Record<string, unknown> {
  const ticket = baseTicket();
  const [head, tail] = field.split('.') as [string, string | undefined];
  if (tail === undefined) {
    if (value === undefined) delete ticket[head];
    else ticket[head] = value;
  } else {
    const inner = { ...(ticket[head] as Record<string, unknown>) };
    if (value === undefined) delete inner[tail];
    else inner[tail] = value;
    ticket[head] = inner;
  }
  return ticket;
}

/** What the ticket schema makes of a string in each field (see src/domain/ticket.ts). */
function expectedForTicketString(field: string, s: HostileString): Expectation {
  const accept = (ok: boolean, rule?: string): Expectation =>
    ok
      ? { status: s.mayReject ? [202, 400] : 202, ...(s.mayReject ? { field } : {}) }
      : { status: 400, field, rule };
  const trimmed = s.value.trim();
  switch (field) {
    case 'body':
      if (trimmed.length === 0) return { status: 400, field, rule: 'minLength' };
      return accept(trimmed.length <= TICKET_MAX_CHARS, 'maxLength');
    case 'subject':
      return accept(trimmed.length <= 300, 'maxLength');
    case 'customer.name':
    case 'customer.id':
      return accept(s.value.length <= 200, 'maxLength');
    case 'externalId':
      return { status: 400, field };
    case 'customer.email':
      return { status: 400, field };
    case 'channel':
      return { status: 400, field, rule: 'enum' };
    default:
      throw new Error(`no expectation for ${field}`);
  }
}

const TICKET_STRING_FIELDS = [
  'body',
  'subject',
  'customer.name',
  'customer.id',
  'externalId',
  'customer.email',
  'channel',
];

/** Every nasty string in every ticket field. */
export function ticketStringCases(strings: HostileString[]): HostileCase[] {
  return TICKET_STRING_FIELDS.flatMap((field) =>
    strings.map((s) =>
      jsonCase(
        `ticket ${field} = ${s.name}`,
        'tickets',
        ticketWith(field, s.value),
        expectedForTicketString(field, s),
      ),
    ),
  );
}

type Mutation = { label: string; value: unknown };

const MUTATIONS: Mutation[] = [
  { label: 'missing', value: undefined },
  { label: 'null', value: null },
  { label: 'a number', value: 42 },
  { label: 'a boolean', value: true },
  { label: 'an array', value: ['api'] },
  { label: 'an object', value: { text: 'refund' } },
  { label: 'an empty string', value: '' },
  { label: 'a numeric string', value: '12345' },
];

/** Wrong types, missing and empty values per field, with what the schema says about each. */
function expectedForMutation(field: string, mutation: Mutation): Expectation {
  const { label, value } = mutation;
  const optional = [
    'subject',
    'customer',
    'channel',
    'customer.email',
    'customer.name',
    'customer.id',
  ].includes(field);
  if (label === 'missing') return optional ? { status: 202 } : { status: 400, field, rule: 'required' };
  if (field === 'customer') {
    if (label === 'an object') return { status: 202 }; // unknown keys are dropped: an empty customer
    return { status: 400, field, rule: 'type' };
  }
  if (field === 'channel') return { status: 400, field, rule: 'enum' }; // anything but one of the listed names
  if (typeof value !== 'string') return { status: 400, field, rule: 'type' };
  if (field === 'customer.email') return { status: 400, field };
  if (label === 'an empty string') {
    if (field === 'externalId' || field === 'body') return { status: 400, field, rule: 'minLength' };
    return { status: 202 };
  }
  return { status: 202 }; // '12345' is a fine external id, subject, body, name or id
}

const MUTATED_FIELDS = [
  'externalId',
  'subject',
  'body',
  'customer',
  'customer.email',
  'customer.name',
  'customer.id',
  'channel',
];

export function ticketTypeCases(): HostileCase[] {
  return MUTATED_FIELDS.flatMap((field) =>
    MUTATIONS.map((mutation) => {
      // A numeric external id must still be fresh each run: __NID__ becomes unique digits.
      const value =
        mutation.label === 'a numeric string' && field === 'externalId' ? '__NID__' : mutation.value;
      return jsonCase(
        `ticket ${field} is ${mutation.label}`,
        'tickets',
        ticketWith(field, value),
        expectedForMutation(field, mutation),
      );
    }),
  );
}

function zendeskTicket(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    ticket: {
      id: '__ZID__',
      subject: 'Help needed',
      description: 'How do I reset my password?',
      requester: { email: 'customer@example.com', name: 'Casey' },
      ...overrides,
    },
  };
}

/** Nasty strings in the Zendesk description and subject (signed), and the same unsigned (always 401 first). */
export function zendeskStringCases(strings: HostileString[]): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const s of strings) {
    const trimmed = s.value.trim();
    const description: Expectation =
      trimmed.length === 0
        ? { status: 400, field: 'ticket.description', rule: 'minLength' }
        : { status: s.mayReject ? [202, 400] : 202, ...(s.mayReject ? { field: 'ticket.description' } : {}) };
    cases.push(
      jsonCase(
        `zendesk description = ${s.name}`,
        'zendesk',
        zendeskTicket({ description: s.value }),
        description,
      ),
    );
    const subject: Expectation =
      s.value.length > 2000
        ? { status: 400, field: 'ticket.subject', rule: 'maxLength' }
        : { status: s.mayReject ? [202, 400] : 202, ...(s.mayReject ? { field: 'ticket.subject' } : {}) };
    cases.push(
      jsonCase(`zendesk subject = ${s.name}`, 'zendesk', zendeskTicket({ subject: s.value }), subject),
    );
    cases.push(
      jsonCase(
        `zendesk unsigned, description = ${s.name}`,
        'zendesk',
        zendeskTicket({ description: s.value }),
        { status: 401, field: 'x-zendesk-webhook-signature', rule: 'required' },
        'none',
      ),
    );
  }
  return cases;
}

/**
 * One ticket per nasty string with the string in every free-text field that can hold it (body, subject,
 * customer name and id): the cases the pipeline test pushes all the way through the worker.
 */
export function pipelineCases(strings: HostileString[]): HostileCase[] {
  return strings.map((s) => {
    const ticket = baseTicket();
    const trimmed = s.value.trim();
    if (trimmed.length > 0 && trimmed.length <= TICKET_MAX_CHARS) ticket.body = s.value;
    if (trimmed.length <= 300) ticket.subject = s.value;
    if (s.value.length <= 200)
      ticket.customer = { email: 'customer@example.com', name: s.value, id: s.value };
    return jsonCase(`pipeline ticket, ${s.name} in every text field`, 'tickets', ticket, {
      status: s.mayReject ? [202, 400] : 202,
    });
  });
}

/** Hand-written requests that may be accepted: they go through the worker too. */
export function acceptableFixtures(): HostileCase[] {
  return loadRequestFixtures().filter((c) => {
    const statuses = Array.isArray(c.expect.status) ? c.expect.status : [c.expect.status];
    return c.target !== 'raw' && statuses.some((status) => status === 200 || status === 202);
  });
}

/** Extra keys in bulk: built here rather than stored, it is 300 KB of text. */
export function bulkCases(): HostileCase[] {
  const manyKeys = Array.from({ length: 20000 }, (_, i) => `"k${i}":${i}`).join(',');
  const raw = `{"externalId":"__ID__","body":"How do I reset my password?",${manyKeys}}`;
  return [
    {
      name: '20k extra keys',
      source: 'generated',
      target: 'tickets',
      method: 'POST',
      path: '/v1/tickets',
      headers: {},
      auth: 'admin',
      sign: 'valid',
      body: Buffer.from(raw, 'utf8'),
      chunked: false,
      redeliver: false,
      expect: { status: [202, 413] },
    },
  ];
}

export function buildCorpus(): HostileCase[] {
  const strings = loadStrings();
  return [
    ...loadRequestFixtures(),
    ...bulkCases(),
    ...ticketTypeCases(),
    ...ticketStringCases(strings),
    ...zendeskStringCases(strings),
  ];
}

/** Replace the placeholders with fresh ids, in the raw bytes (so invalid UTF-8 around them survives). */
export function materialise(body: Buffer, externalId: string, zendeskId: string): Buffer {
  let out = replaceAll(body, '__ZIDS__', zendeskId);
  out = replaceAll(out, '__ZID__', zendeskId);
  out = replaceAll(out, '__NID__', zendeskId);
  return replaceAll(out, '__ID__', externalId);
}

function replaceAll(haystack: Buffer, needle: string, replacement: string): Buffer {
  const search = Buffer.from(needle, 'latin1');
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = haystack.indexOf(search, from); at !== -1; at = haystack.indexOf(search, from)) {
    parts.push(haystack.subarray(from, at), Buffer.from(replacement, 'latin1'));
    from = at + search.length;
  }
  if (parts.length === 0) return haystack;
  parts.push(haystack.subarray(from));
  return Buffer.concat(parts);
}
