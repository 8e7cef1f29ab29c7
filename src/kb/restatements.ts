import type { Db } from '../db/database';
import { citesTicket, type RestatementLookup } from './answer-key';

/**
 * Restatements from the registry: a candidate article whose text cites the ticket of a candidate resolution
 * (`[#<external id>]`, the citation format of knowledge-gap drafts). Two small queries, and only when a search
 * returned both articles and resolutions.
 */
export function restatementsFromRegistry(db: Db): RestatementLookup {
  return async ({ articles, resolutions }) => {
    const tickets = await db
      .selectFrom('kb_documents as d')
      .innerJoin('tickets as t', 't.workflow_id', 'd.ticket_id')
      .select(['d.id', 't.external_id'])
      .where('d.id', 'in', resolutions)
      .where('d.source', '=', 'resolution')
      .execute();
    if (tickets.length === 0) return [];
    const bodies = await db
      .selectFrom('kb_documents')
      .select(['id', 'body'])
      .where('id', 'in', articles)
      .where('source', '=', 'kb')
      .where('body', 'like', '%#%')
      .execute();
    const pairs: Array<[string, string]> = [];
    for (const article of bodies)
      for (const resolution of tickets)
        if (citesTicket(article.body, resolution.external_id)) pairs.push([article.id, resolution.id]);
    return pairs;
  };
}
