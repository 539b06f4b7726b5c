// Request bodies of the health API's mutating endpoints: read with a size
// limit, parsed as JSON, validated with zod into the handlers' arguments.
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { memberNameSchema } from '../dcs/keys.js';
import { InvalidRequestBodyError, RequestBodyTooLargeError } from './errors.js';

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * The whole body, at most `limit` bytes. Past the limit it rejects with
 * RequestBodyTooLargeError and keeps discarding what the client still sends,
 * so the client can read the answer.
 */
export function readBody(req: IncomingMessage, limit: number = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new RequestBodyTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      f();
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        settle(() => reject(new RequestBodyTooLargeError(limit)));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => settle(() => resolve(Buffer.concat(chunks))));
    req.on('error', (err) => settle(() => reject(new InvalidRequestBodyError(null, 'the client stopped sending it', { cause: err }))));
    req.on('close', () => settle(() => reject(new InvalidRequestBodyError(null, 'the client stopped sending it'))));
  });
}

/** The body as a JSON object. */
export function parseJsonObject(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text.trim() === '') throw new InvalidRequestBodyError(null, 'empty: send a JSON object, e.g. {"candidate":"node2"}');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InvalidRequestBodyError(null, `not valid JSON (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}

// Offsets as Patroni accepts them: Z, +02, +0200, +02:00.
const ISO_WITH_ZONE = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)[ ]?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/** Epoch ms of an ISO 8601 time with an explicit zone; null when the text is not one. */
export function parseZonedTime(text: string): number | null {
  const m = ISO_WITH_ZONE.exec(text.trim());
  if (m === null) return null;
  const time = m[2]!.length === 5 ? `${m[2]}:00` : m[2]!;
  const zone = m[3]!.toUpperCase() === 'Z' ? 'Z' : m[3]!.length === 3 ? `${m[3]}:00` : m[3]!.length === 5 ? `${m[3]!.slice(0, 3)}:${m[3]!.slice(3)}` : m[3]!;
  const ms = Date.parse(`${m[1]}T${time}${zone}`);
  return Number.isNaN(ms) ? null : ms;
}

const optionalMember = memberNameSchema.nullish().transform((v) => v ?? undefined);

export const switchoverBodySchema = z
  .object({
    leader: optionalMember,
    candidate: optionalMember,
    scheduled_at: z
      .string()
      .nullish()
      .transform((v, ctx) => {
        if (v === null || v === undefined) return undefined;
        const ms = parseZonedTime(v);
        if (ms === null) {
          ctx.addIssue({ code: 'custom', message: 'an ISO 8601 time with a zone, e.g. 2030-01-31T02:00:00Z' });
          return z.NEVER;
        }
        return ms;
      }),
  })
  .transform((b) => ({
    ...(b.leader === undefined ? {} : { leader: b.leader }),
    ...(b.candidate === undefined ? {} : { candidate: b.candidate }),
    ...(b.scheduled_at === undefined ? {} : { scheduledAt: b.scheduled_at }),
  }));
export type SwitchoverRequest = z.output<typeof switchoverBodySchema>;

/** Patroni's /failover: `candidate` required; with `leader` it is a switchover. */
export const failoverBodySchema = z.object({
  candidate: memberNameSchema,
  leader: optionalMember,
});
export type FailoverBody = z.output<typeof failoverBodySchema>;

/** failsafe_mode: the primary of `term`, cut off from the store, asks for a promise not to promote for `durationMs`. */
export const failsafeBodySchema = z.object({
  holder: memberNameSchema,
  term: z.number().int().min(1),
  durationMs: z.number().int().min(1).max(600_000),
});
export type FailsafeBody = z.output<typeof failsafeBodySchema>;

const zonedTime = z.string().transform((v, ctx) => {
  const ms = parseZonedTime(v);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: 'an ISO 8601 time with a zone, e.g. 2030-01-31T02:00:00Z' });
    return z.NEVER;
  }
  return ms;
});

/**
 * Patroni's POST /restart: all conditions optional. `role` and
 * `restart_pending` are checked when the restart would run; `schedule`
 * defers it. Patroni's `timeout` and `postgres_version` are refused: the
 * node's own start timeout applies, and one major version runs here.
 */
export const restartBodySchema = z
  .strictObject({
    role: z.enum(['primary', 'master', 'replica']).optional(),
    restart_pending: z.boolean().optional(),
    schedule: zonedTime.optional(),
  })
  .transform((b) => ({
    ...(b.role === undefined ? {} : { role: b.role === 'master' ? ('primary' as const) : b.role }),
    ...(b.restart_pending === true ? { pendingOnly: true } : {}),
    ...(b.schedule === undefined ? {} : { scheduledAt: b.schedule }),
  }));
export type RestartRequest = z.output<typeof restartBodySchema>;

/** Patroni's POST /reinitialize: `force` is accepted for compatibility; a reinit always stops PostgreSQL first. */
export const reinitBodySchema = z.strictObject({ force: z.boolean().optional() });

/** Parses `value` with `schema`; the first issue becomes an InvalidRequestBodyError naming its field. */
export function parseBody<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    throw new InvalidRequestBodyError(keys.join(', '), 'not a field this endpoint takes: leave it out');
  }
  if (issue === undefined || issue.path.length === 0) {
    throw new InvalidRequestBodyError(null, 'expected a JSON object, e.g. {"candidate":"node2"}');
  }
  const field = issue.path.map(String).join('.');
  throw new InvalidRequestBodyError(field, issue.message);
}
