/**
 * The one mapping from what Temporal answers to HTTP problems, by the error's type (never its
 * message text):
 * - an Update refused by the workflow (`WorkflowUpdateFailedError` whose cause is an
 *   `ApplicationFailure`): the status its refusal type names (src/domain/refusals.ts), with the
 *   workflow's reason as detail;
 * - no such workflow any more (`WorkflowNotFoundError`: closed, or forgotten after retention): 409,
 *   or what the route makes of it from the record;
 * - a start whose workflow id is taken (`WorkflowExecutionAlreadyStartedError`): 409;
 * - no answer in time (`WorkflowUpdateRPCTimeoutOrCancelledError`, gRPC DEADLINE_EXCEEDED or
 *   UNAVAILABLE, a query the workflow does not know): 503 with Retry-After, repeating is safe;
 * - an argument the server refuses (gRPC INVALID_ARGUMENT, a schedule spec it cannot read): 400.
 * Anything else is a fault and stays a 500.
 */
import {
  QueryNotRegisteredError,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcServiceError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { REFUSAL, type RefusalType } from '../domain/refusals.js';
import { resultWithin } from './idempotency.js';
import { ApiError } from './problem.js';

/** The HTTP status of each refusal a workflow may give. */
export const STATUS_OF_REFUSAL: Record<RefusalType, ContentfulStatusCode> = {
  [REFUSAL.notFound]: 404,
  [REFUSAL.conflict]: 409,
  [REFUSAL.forbidden]: 403,
  [REFUSAL.invalidInput]: 400,
  [REFUSAL.expired]: 409,
  [REFUSAL.tooManyAttempts]: 429,
};

/** gRPC status codes the mapping reads (grpc-js `status`). */
const GRPC = { INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, ALREADY_EXISTS: 6, UNAVAILABLE: 14 } as const;

const RETRY = { 'Retry-After': '5' };

/** A refusal a workflow gave to an Update: its type and reason; undefined for any other error. */
export function refusalOf(err: unknown): { type: RefusalType; reason: string; status: ContentfulStatusCode } | undefined {
  if (!(err instanceof WorkflowUpdateFailedError) || !(err.cause instanceof ApplicationFailure)) return undefined;
  const type = err.cause.type as RefusalType | undefined;
  const status = type ? STATUS_OF_REFUSAL[type] : undefined;
  return type && status ? { type, reason: err.cause.message, status } : undefined;
}

/** Temporal knows no running workflow by that id (it closed, or was forgotten after retention). */
export function isWorkflowGone(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError;
}

function grpcCode(err: unknown): number | undefined {
  if (isGrpcServiceError(err)) return err.code;
  if (err instanceof ServiceError && isGrpcServiceError(err.cause)) return err.cause.code;
  return undefined;
}

/**
 * The server's refusal of an argument (gRPC INVALID_ARGUMENT), e.g. a cron expression or time zone
 * it cannot read; the schedule client hands that one over as a TypeError. Undefined for any other error.
 */
export function invalidArgumentOf(err: unknown): string | undefined {
  if (err instanceof TypeError || grpcCode(err) === GRPC.INVALID_ARGUMENT) return (err as Error).message;
  return undefined;
}

export interface TemporalProblemText {
  /** Detail of a refusal, from the workflow's reason (default: the reason itself). */
  refused?: (reason: string) => string;
  /** Detail when the workflow is gone (default: a generic 409). */
  gone?: string;
  /** Detail when the workflow id is taken. */
  alreadyStarted?: string;
  /** Added to the problem body of a refusal or a gone workflow. */
  extensions?: Record<string, unknown>;
}

/** The problem for a Temporal error, or undefined when it is none Temporal answers (a fault: 500). */
export function temporalProblem(err: unknown, text: TemporalProblemText = {}): ApiError | undefined {
  const refusal = refusalOf(err);
  if (refusal) return new ApiError(refusal.status, text.refused ? text.refused(refusal.reason) : refusal.reason, text.extensions);
  if (isWorkflowGone(err)) return new ApiError(409, text.gone ?? 'The process has ended; nothing can change it any more', text.extensions);
  if (err instanceof WorkflowExecutionAlreadyStartedError) return new ApiError(409, text.alreadyStarted ?? 'This process is already running', text.extensions);
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || err instanceof QueryNotRegisteredError) return notAnswered();
  const code = grpcCode(err);
  if (code === GRPC.DEADLINE_EXCEEDED || code === GRPC.UNAVAILABLE) return notAnswered();
  if (code === GRPC.ALREADY_EXISTS) return new ApiError(409, text.alreadyStarted ?? 'This already exists');
  if (code === GRPC.INVALID_ARGUMENT) return new ApiError(400, `Invalid request: ${invalidArgumentOf(err)}`);
  return undefined;
}

function notAnswered(waitMs?: number): ApiError {
  const within = waitMs === undefined ? '' : ` within ${waitMs / 1000} s`;
  return new ApiError(503, `The process did not answer${within}; try again (repeating is safe)`, {}, RETRY);
}

/** Maps a Temporal error to its problem, or rethrows it as the fault it is. */
export function throwTemporalProblem(err: unknown, text: TemporalProblemText = {}): never {
  throw temporalProblem(err, text) ?? err;
}

/**
 * Runs a call on a workflow (an Update, mostly) and maps what Temporal answers. A call needs a
 * running worker: when none answers within `waitMs` the caller gets a 503 instead of a hanging
 * request (an update id from the Idempotency-Key makes a repeat safe).
 */
export async function temporalCall<T>(call: () => Promise<T>, waitMs: number, text: TemporalProblemText = {}): Promise<T> {
  let answered: T | undefined;
  try {
    const pending = call();
    pending.catch(() => undefined); // awaited here; this only keeps a late failure after the wait from going unhandled
    answered = await resultWithin(pending, waitMs);
  } catch (err) {
    throwTemporalProblem(err, text);
  }
  if (answered === undefined) throw notAnswered(waitMs);
  return answered;
}
