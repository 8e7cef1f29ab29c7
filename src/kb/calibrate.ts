import fs from 'node:fs';
import { z } from 'zod';
import { ticketText, type PassageRef } from '../domain/ticket';
import { passageRefOf } from './answer-key';
import { diverseTop, fitThresholds, type Calibration, type LabelledRetrieval } from './answerability';
import type { KbDeps } from './ingest';

/**
 * `ticketflow kb calibrate`: fit ANSWER_MIN_SCORE and ANSWER_MIN_MARGIN to this knowledge base. Labelled data:
 * - a file of questions with the document that answers each, or null when nothing in the KB does;
 * - the tickets humans resolved in Postgres: a human had to write the answer, so the curated articles did not
 *   answer them. They count as "not covered" by the articles (retrieval over `kb` passages only). Some were
 *   escalated for other reasons (a request for a person, critical urgency) although an article covers them; that
 *   errs on the strict side, and `--no-resolved` leaves them out.
 */

export const calibrationLabelsSchema = z.array(
  z.object({
    question: z.string().trim().min(1).max(20000),
    /** The document id that answers it (as in `kb list`), or null when the KB does not. */
    answeredBy: z.string().min(1).nullable(),
  }),
);

export interface CalibrationInput {
  labelsPath?: string;
  useResolvedTickets: boolean;
  topK: number;
  targetWrongRate: number;
}

export interface CalibrationReport {
  labelled: number;
  fromFile: number;
  fromResolvedTickets: number;
  fitted?: Calibration;
}

async function retrieveRefs(
  deps: KbDeps,
  text: string,
  topK: number,
  onlyArticles: boolean,
): Promise<PassageRef[]> {
  const [vector] = await deps.embedder.embed([text]);
  const hits = await deps.store.search(vector!, Math.min(topK * 4, 100), onlyArticles ? { source: 'kb' } : undefined);
  return diverseTop(hits.map(passageRefOf), topK);
}

export async function calibrateAnswerability(
  deps: KbDeps,
  input: CalibrationInput,
): Promise<CalibrationReport> {
  const sample: LabelledRetrieval[] = [];
  let fromFile = 0;
  if (input.labelsPath) {
    const labels = calibrationLabelsSchema.parse(JSON.parse(fs.readFileSync(input.labelsPath, 'utf8')));
    for (const label of labels) {
      sample.push({
        passages: await retrieveRefs(deps, label.question, input.topK, false),
        answeredBy: label.answeredBy,
      });
      fromFile += 1;
    }
  }
  let fromResolvedTickets = 0;
  if (input.useResolvedTickets) {
    const resolved = await deps.db
      .selectFrom('resolutions')
      .innerJoin('tickets', 'tickets.workflow_id', 'resolutions.workflow_id')
      .select(['tickets.subject', 'tickets.body'])
      .orderBy('resolutions.created_at', 'desc')
      .limit(2000)
      .execute();
    for (const ticket of resolved) {
      sample.push({
        passages: await retrieveRefs(deps, ticketText(ticket), input.topK, true),
        answeredBy: null,
      });
      fromResolvedTickets += 1;
    }
  }
  const fitted = sample.length > 0 ? fitThresholds(sample, input.targetWrongRate) : undefined;
  return { labelled: sample.length, fromFile, fromResolvedTickets, ...(fitted ? { fitted } : {}) };
}
