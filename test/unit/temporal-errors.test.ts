/**
 * The one Temporal-error → problem mapping (src/api/temporal-errors.ts): by the error's type and
 * a refusal's failure type, never by message text.
 */
import { describe, expect, it } from 'vitest';
import {
  QueryNotRegisteredError,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { REFUSAL, type RefusalType } from '../../src/domain/refusals.js';
import { ApiError } from '../../src/api/problem.js';
import { STATUS_OF_REFUSAL, invalidArgumentOf, refusalOf, temporalCall, temporalProblem } from '../../src/api/temporal-errors.js';

const refused = (type: string, message = 'why not') =>
  new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.create({ type, message, nonRetryable: true }));
/** What grpc-js rejects with: an Error with a code, details and metadata. */
const grpc = (code: number, details = 'grpc said no') => Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });

describe('refusals by type', () => {
  it.each([
    [REFUSAL.notFound, 404],
    [REFUSAL.conflict, 409],
    [REFUSAL.forbidden, 403],
    [REFUSAL.invalidInput, 400],
    [REFUSAL.expired, 409],
    [REFUSAL.tooManyAttempts, 429],
  ] as Array<[RefusalType, number]>)('%s is %i, with the workflow’s reason as detail', (type, status) => {
    const problem = temporalProblem(refused(type, `refused as ${type}`));
    expect(problem).toBeInstanceOf(ApiError);
    expect(problem).toMatchObject({ status, detail: `refused as ${type}` });
    expect(STATUS_OF_REFUSAL[type]).toBe(status);
  });

  it('reads the type, not the message: a refusal worded like another is still its own type', () => {
    expect(temporalProblem(refused(REFUSAL.forbidden, 'workflow execution already completed'))?.status).toBe(403);
    expect(refusalOf(refused(REFUSAL.notFound, 'conflict'))).toMatchObject({ type: 'NotFound', status: 404 });
  });

  it('an update failure of an unknown type is a fault (500), not a 409', () => {
    expect(refusalOf(refused('Error'))).toBeUndefined();
    expect(temporalProblem(refused('Error'))).toBeUndefined();
    expect(temporalProblem(new WorkflowUpdateFailedError('Workflow Update failed', new Error('boom')))).toBeUndefined();
  });

  it('words a refusal and adds extensions as the route asks', () => {
    const problem = temporalProblem(refused(REFUSAL.conflict, 'it is expired'), {
      refused: (r) => `The offer cannot be accepted: ${r}`,
      extensions: { stage: 'won' },
    });
    expect(problem).toMatchObject({ status: 409, detail: 'The offer cannot be accepted: it is expired', extensions: { stage: 'won' } });
  });
});

describe('what Temporal answers besides refusals', () => {
  it('a workflow gone is a 409 with the route’s words; a taken workflow id a 409', () => {
    expect(temporalProblem(new WorkflowNotFoundError('workflow execution already completed', 'wf', undefined), { gone: 'Change x is applied' })).toMatchObject({
      status: 409,
      detail: 'Change x is applied',
    });
    expect(
      temporalProblem(new WorkflowExecutionAlreadyStartedError('already started', 'wf', 'gdprErasure'), {
        alreadyStarted: 'An erasure is already in progress',
      }),
    ).toMatchObject({
      status: 409,
      detail: 'An erasure is already in progress',
    });
  });

  it('no answer in time is a 503 with Retry-After', () => {
    for (const err of [
      new WorkflowUpdateRPCTimeoutOrCancelledError('timeout'),
      new QueryNotRegisteredError('no such query', 3),
      new ServiceError('x', { cause: grpc(14) }),
      grpc(4),
    ]) {
      expect(temporalProblem(err)).toMatchObject({ status: 503, headers: { 'Retry-After': '5' } });
    }
  });

  it('an argument the server refuses is a 400; anything else is left to be a fault', () => {
    expect(temporalProblem(new ServiceError('x', { cause: grpc(3, 'bad cron') }))?.status).toBe(400);
    expect(invalidArgumentOf(new TypeError('Invalid cron'))).toBe('Invalid cron');
    expect(invalidArgumentOf(new Error('INVALID_ARGUMENT: looks like one'))).toBeUndefined();
    expect(temporalProblem(new Error('workflow execution already completed'))).toBeUndefined();
  });

  it('temporalCall answers 503 when the call does not answer within the wait, and maps a failure', async () => {
    await expect(temporalCall(() => new Promise(() => undefined), 10)).rejects.toMatchObject({
      status: 503,
      detail: 'The process did not answer within 0.01 s; try again (repeating is safe)',
    });
    await expect(temporalCall(() => Promise.reject(refused(REFUSAL.tooManyAttempts, 'resent 3 times')), 1_000)).rejects.toMatchObject({
      status: 429,
      detail: 'resent 3 times',
    });
    await expect(temporalCall(() => Promise.resolve('ok'), 1_000)).resolves.toBe('ok');
  });
});
