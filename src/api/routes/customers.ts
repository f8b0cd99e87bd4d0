/**
 * Customer registration and customer records. POST starts `registerCustomer` with an
 * update-with-start and answers as soon as the customer is committed (the welcome delivery and
 * onboarding run on). Reads come from PostgreSQL: a customer, the list and search of customers, and how
 * a registration went (a registration still running before it has written anything is described
 * by its workflow, marked `live`).
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { ANY_POSTCODE, countryCodeSchema, emailSchema, normaliseEmail, phoneSchema } from '../../domain/contact-data.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import { CRM_PROCESS } from '../../domain/processes.js';
import {
  REGISTRATION_OUTCOME_UPDATE_ID,
  registrationOutcomeUpdate,
  registrationRequestSchema,
  registrationWorkflowId,
  type RegistrationRequest,
  type RegistrationResult,
  type RegistrationState,
} from '../../domain/customers.js';
import { CUSTOMER_STATUSES, readCustomer, searchCustomers } from '../../db/repositories/customers.js';
import { readRegistration } from '../../db/repositories/registrations.js';
import { LIVE_QUERY_TIMEOUT_MS } from '../live.js';
import { checkRanges, isoDateTimeSchema, listingOf, pageSizeSchema, pageTokenSchema, pageTokens } from '../listing.js';
import type { registerCustomer } from '../../../workflows/customers.js';
import { operational } from '../auth.js';
import { resultWaitMs, type ApiDeps, type ApiEnv, type Principal } from '../env.js';
import { idempotencyKeySchema, newKey, resultWithin, type IdempotencyClaim } from '../idempotency.js';
import { throwTemporalProblem } from '../temporal-errors.js';
import { ApiError } from '../problem.js';
import { problemSchema, jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { customerIdParam } from '../schemas.js';

export const customerSchema = z
  .object({
    id: z.uuid(),
    customerNumber: z.number().int().openapi({ description: 'The number people quote; assigned in order of registration' }),
    name: z.string(),
    email: z.string(),
    phone: z.string().nullable(),
    address: z.object({ street: z.string(), postalCode: z.string(), city: z.string(), country: z.string() }).nullable(),
    locale: z.string(),
    birthDate: z.string().nullable().openapi({ description: 'YYYY-MM-DD' }),
    bankAccount: z.string().nullable().openapi({ description: 'masked, e.g. DE89…3000: the full IBAN never leaves the customer row' }),
    status: z.string(),
    version: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Customer');

const registerRoute = createRoute({
  method: 'post',
  path: '/v1/customers',
  operationId: 'registerCustomer',
  tags: ['customers'],
  summary: 'Register a customer',
  description:
    'Starts the `registerCustomer` workflow, which dedupes by normalised e-mail, creates the customer and queues a welcome message, and answers as soon as ' +
    'the customer is committed (the welcome delivery and the onboarding follow a moment later). A repeat with the same Idempotency-Key returns the first result, ' +
    'read from the record once the workflow has closed.',
  middleware: [operational] as const,
  request: {
    headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
    body: jsonBody(registrationRequestSchema.openapi('RegistrationRequest'), {
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      phone: '+44 20 7946 0958',
      address: { street: '12 St James Square', postalCode: 'SW1Y 4JH', city: 'London', country: 'GB' },
      locale: 'en-GB',
    }),
  },
  responses: {
    201: jsonContent(customerSchema, 'The customer was registered'),
    202: jsonContent(z.object({ status: z.literal('pending'), workflowId: z.string(), statusUrl: z.string() }), 'Registration accepted, still running'),
    409: {
      content: { 'application/problem+json': { schema: problemSchema.extend({ existingCustomerId: z.uuid() }) } },
      description: 'A customer with this e-mail exists',
    },
    ...problemResponses(400, 401, 403, 413, 415, 422),
  },
});

const registrationStatusRoute = createRoute({
  method: 'get',
  path: '/v1/registrations/{key}',
  operationId: 'getRegistration',
  tags: ['customers'],
  summary: 'How a registration went: received, then registered or duplicate',
  description:
    'From the record in PostgreSQL, written with the customer. A registration still running that has not reached the database yet is described by its ' +
    'workflow (status `received`, `live` set); once it is recorded the answer needs neither Temporal nor a worker.',
  middleware: [operational] as const,
  request: { params: z.object({ key: idempotencyKeySchema }) },
  responses: {
    200: jsonContent(
      z.object({
        workflowId: z.string(),
        status: z.enum(['received', 'registered', 'duplicate']),
        customerId: z.string(),
        transitions: z.array(z.object({ status: z.string(), at: z.string(), actor: z.string(), reason: z.string().optional() })),
        live: z.object({ at: z.string() }).optional().openapi({ description: 'Present when the answer comes from the running workflow, not from the record' }),
      }),
      'Registration state',
    ),
    ...problemResponses(400, 401, 403, 404),
  },
});

const getCustomerRoute = createRoute({
  method: 'get',
  path: '/v1/customers/{id}',
  operationId: 'getCustomer',
  tags: ['customers'],
  summary: 'Read a customer',
  middleware: [operational] as const,
  request: { params: customerIdParam },
  responses: { 200: jsonContent(customerSchema, 'The customer'), ...problemResponses(400, 401, 403, 404) },
});

const listRoute = createRoute({
  method: 'get',
  path: '/v1/customers',
  operationId: 'listCustomers',
  tags: ['customers'],
  summary: 'List and search customers',
  description:
    '`q` finds customers whose name, e-mail, phone, postcode or customer number contains the text (any case; a phone number however it is spaced). ' +
    '`name` (contains), `email`, `phone`, `postcode` and `customerNumber` (exact) narrow by one field; `status`, `country` and the created range ' +
    '(from inclusive, to exclusive) filter. Sorted by creation (newest first by default) or by name; pages follow each other by `nextPageToken` ' +
    '(opaque, bound to the filters).',
  middleware: [operational] as const,
  request: {
    query: z
      .object({
        q: z.string().trim().min(1, 'must not be empty').max(200, 'has at most 200 characters').openapi({ pattern: '\\S' }).optional(),
        name: z.string().trim().min(1, 'must not be empty').max(200, 'has at most 200 characters').openapi({ pattern: '\\S' }).optional(),
        email: emailSchema.transform(normaliseEmail).optional(),
        phone: phoneSchema.optional(),
        postcode: z
          .string()
          .regex(ANY_POSTCODE, 'must be a postcode, e.g. 10115')
          .transform((v) => v.toUpperCase())
          .optional(),
        customerNumber: z.coerce
          .number({ message: 'must be a customer number' })
          .int('must be a customer number')
          .positive('must be a customer number')
          .max(Number.MAX_SAFE_INTEGER)
          .optional(),
        status: z.enum(CUSTOMER_STATUSES).optional(),
        country: countryCodeSchema.optional(),
        createdFrom: isoDateTimeSchema.optional(),
        createdTo: isoDateTimeSchema.optional(),
        sort: z.enum(['-created', 'created', 'name', '-name']).default('-created'),
        pageSize: pageSizeSchema,
        pageToken: pageTokenSchema.optional(),
      })
      .strict()
      .superRefine((v, ctx) => checkRanges(v, ctx, [['createdFrom', 'createdTo']])),
  },
  responses: {
    200: jsonContent(z.object({ items: z.array(customerSchema), nextPageToken: z.string().optional() }).openapi('CustomerPage'), 'A page of customers'),
    ...problemResponses(400, 401, 403),
  },
});

/** A registration that has not reached the database: what its running workflow shows. */
async function runningRegistration(deps: ApiDeps, workflowId: string): Promise<(RegistrationState & { live: { at: string } }) | undefined> {
  try {
    const description = await deps.temporal.withDeadline(Date.now() + LIVE_QUERY_TIMEOUT_MS, () => deps.temporal.workflow.getHandle(workflowId).describe());
    const customerId = description.typedSearchAttributes.get(CrmCustomerId);
    if (description.status.name !== 'RUNNING' || !customerId) return undefined;
    const actor = typeof description.memo?.requestedBy === 'string' ? description.memo.requestedBy : 'unknown';
    return {
      status: 'received',
      customerId,
      transitions: [{ status: 'received', at: description.startTime.toISOString(), actor }],
      live: { at: new Date().toISOString() },
    };
  } catch {
    return undefined;
  }
}

/** What the answer to a registration needs: the outcome and the customer (the welcome message is the workflow's business). */
type Outcome = Pick<RegistrationResult, 'outcome' | 'customerId'>;

/** How a registration ended, from its record in PostgreSQL (written with the customer); undefined before that. */
async function recordedOutcome(deps: ApiDeps, workflowId: string): Promise<Outcome | undefined> {
  const registration = await readRegistration(deps.pool, workflowId);
  if (!registration || registration.status === 'received') return undefined;
  return { outcome: registration.status === 'duplicate' ? 'duplicate' : 'created', customerId: registration.customerId };
}

/** The start of a registration for the API's update-with-start (the bench drives the same start without the API). */
export function registrationStart(
  workflowId: string,
  taskQueue: string,
  body: RegistrationRequest,
  principal: Pick<Principal, 'actor' | 'roles'>,
  claim: IdempotencyClaim | undefined,
) {
  const customerId = crypto.randomUUID();
  return new WithStartWorkflowOperation<typeof registerCustomer>('registerCustomer', {
    taskQueue,
    workflowId,
    args: [{ customerId, request: body, actor: principal.actor }],
    // A running registration with this id is this request's own (a repeat); a fresh claim owns the id even if a closed run of an expired key still carries it.
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: claim && !claim.fresh ? 'REJECT_DUPLICATE' : 'ALLOW_DUPLICATE',
    typedSearchAttributes: [
      { key: CrmCustomerId, value: customerId },
      { key: CrmProcess, value: CRM_PROCESS.registration },
      { key: CrmStatus, value: 'received' },
    ],
    staticSummary: `Register customer ${customerId}`,
    staticDetails: `Registration requested by user ${principal.actor} (${principal.roles.join(', ')})`,
    memo: { requestedBy: principal.actor },
  });
}

export function customerRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();
  const tokens = pageTokens(deps.pageTokenSecret);

  app.openapi(registerRoute, async (c) => {
    const body = c.req.valid('json');
    const key = c.req.valid('header')['idempotency-key'] ?? newKey();
    const workflowId = registrationWorkflowId(key);
    c.set('workflowId', workflowId);
    const claim = c.get('idempotency');
    const wait = resultWaitMs(deps);
    const pending = () => {
      const statusUrl = `/v1/registrations/${key}`;
      return c.json({ status: 'pending' as const, workflowId, statusUrl }, 202, { Location: statusUrl });
    };
    // A repeat of a registration whose customer is committed: the record answers, whether or not Temporal still knows the workflow.
    const recorded = claim && !claim.fresh ? await recordedOutcome(deps, workflowId) : undefined;
    let result: Outcome | undefined = recorded;
    if (!result) {
      const update = claim?.workflowId
        ? // The key's process started before (it may be forgotten by now): ask it, never start another.
          deps.temporal.workflow
            .getHandle<typeof registerCustomer>(workflowId)
            .executeUpdate(registrationOutcomeUpdate, { updateId: REGISTRATION_OUTCOME_UPDATE_ID })
        : deps.temporal.workflow.executeUpdateWithStart(registrationOutcomeUpdate, {
            updateId: REGISTRATION_OUTCOME_UPDATE_ID,
            startWorkflowOperation: registrationStart(workflowId, deps.taskQueue, body, c.get('principal'), claim),
          });
      update.catch(() => undefined); // awaited below; this only keeps a late failure after the wait from going unhandled
      try {
        result = await resultWithin(update, wait);
      } catch (err) {
        // The workflow closed before this repeat reached it (or its id is taken by a closed run): its record answers.
        result = await recordedOutcome(deps, workflowId);
        if (!result) throwTemporalProblem(err);
      }
      if (!result) return pending();
      if (!claim?.workflowId) await claim?.recordStart(workflowId);
    }
    if (result.outcome === 'duplicate') {
      throw new ApiError(409, 'A customer with this e-mail address already exists', { existingCustomerId: result.customerId });
    }
    const customer = await readCustomer(deps.pool, result.customerId);
    if (!customer) throw new Error(`registered customer ${result.customerId} is missing`);
    return c.json(customer, 201, { Location: `/v1/customers/${customer.id}` });
  });

  app.openapi(registrationStatusRoute, async (c) => {
    const { key } = c.req.valid('param');
    const workflowId = registrationWorkflowId(key);
    const registration = (await readRegistration(deps.pool, workflowId)) ?? (await runningRegistration(deps, workflowId));
    if (!registration) throw new ApiError(404, `No registration with key ${key}`);
    return c.json({ workflowId, ...registration }, 200);
  });

  app.openapi(listRoute, async (c) => {
    const { pageSize, pageToken, ...filter } = c.req.valid('query');
    const listing = listingOf('customers', filter);
    const page = await searchCustomers(deps.pool, filter, pageToken === undefined ? undefined : tokens.open(pageToken, listing), pageSize);
    return c.json({ items: page.items, ...(page.next ? { nextPageToken: tokens.seal(page.next, listing) } : {}) }, 200);
  });

  app.openapi(getCustomerRoute, async (c) => {
    const { id } = c.req.valid('param');
    const customer = await readCustomer(deps.pool, id);
    if (!customer) throw new ApiError(404, `No customer with id ${id}`);
    return c.json(customer, 200);
  });

  return app;
}
