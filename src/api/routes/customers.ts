/**
 * Customer registration and customer records. POST starts `registerCustomer` and answers with
 * its outcome; GET reads the customer from PostgreSQL (an operational read).
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { maskIban } from '../../domain/contact-data.js';
import { CrmCustomerId, CrmProcess, CrmStatus } from '../../domain/search-attributes.js';
import { registrationRequestSchema, registrationStateQuery, registrationWorkflowId, type Customer } from '../../domain/customers.js';
import type { registerCustomer } from '../../../workflows/customers.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { idempotencyKeySchema, newKey, resultWithin, startOnce } from '../idempotency.js';
import { ApiError } from '../problem.js';
import { problemSchema, jsonBody, jsonContent, problemResponses } from '../openapi.js';

export const customerSchema = z
  .object({
    id: z.uuid(),
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

const customerIdParam = z.object({ id: z.uuid({ message: 'must be a customer id (UUID)' }).openapi({ param: { name: 'id', in: 'path' } }) });

const registerRoute = createRoute({
  method: 'post',
  path: '/v1/customers',
  operationId: 'registerCustomer',
  tags: ['customers'],
  summary: 'Register a customer',
  description:
    'Starts the `registerCustomer` workflow, which dedupes by normalised e-mail, creates the customer and queues a welcome message. ' +
    'A repeat with the same Idempotency-Key returns the first result.',
  middleware: [requireRole('agent', 'backoffice', 'admin')] as const,
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
    409: { content: { 'application/problem+json': { schema: problemSchema.extend({ existingCustomerId: z.uuid() }) } }, description: 'A customer with this e-mail exists' },
    ...problemResponses(400, 401, 403, 413, 415, 422),
  },
});

const registrationStatusRoute = createRoute({
  method: 'get',
  path: '/v1/registrations/{key}',
  operationId: 'getRegistration',
  tags: ['customers'],
  summary: 'State of a registration (the workflow state query)',
  middleware: [requireRole('agent', 'backoffice', 'admin')] as const,
  request: { params: z.object({ key: idempotencyKeySchema }) },
  responses: {
    200: jsonContent(z.object({ workflowId: z.string(), status: z.string(), customerId: z.string(), transitions: z.array(z.object({ status: z.string(), at: z.string(), actor: z.string(), reason: z.string().optional() })) }), 'Registration state'),
    ...problemResponses(400, 401, 403, 404),
  },
});

const getCustomerRoute = createRoute({
  method: 'get',
  path: '/v1/customers/{id}',
  operationId: 'getCustomer',
  tags: ['customers'],
  summary: 'Read a customer',
  middleware: [requireRole('agent', 'backoffice', 'admin')] as const,
  request: { params: customerIdParam },
  responses: { 200: jsonContent(customerSchema, 'The customer'), ...problemResponses(400, 401, 403, 404) },
});

interface CustomerRow {
  id: string;
  name: string;
  email: string;
  phone: string | null;
  address: Customer['address'];
  locale: string;
  birth_date: string | null;
  bank_account_iban: string | null;
  status: string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

async function readCustomer(deps: ApiDeps, id: string): Promise<Customer | undefined> {
  const { rows } = await deps.pool.query<CustomerRow>(
    'SELECT id, name, email, phone, address, locale, birth_date::text AS birth_date, bank_account_iban, status, version, created_at, updated_at FROM customers WHERE id = $1',
    [id],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: r.id,
    name: r.name,
    email: r.email,
    phone: r.phone,
    address: r.address,
    locale: r.locale,
    birthDate: r.birth_date,
    bankAccount: r.bank_account_iban ? maskIban(r.bank_account_iban) : null,
    status: r.status,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export function customerRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(registerRoute, async (c) => {
    const body = c.req.valid('json');
    const key = c.req.valid('header')['idempotency-key'] ?? newKey();
    const workflowId = registrationWorkflowId(key);
    c.set('workflowId', workflowId);
    const customerId = crypto.randomUUID();
    const { handle } = await startOnce<typeof registerCustomer>(
      deps.temporal,
      'registerCustomer',
      {
        taskQueue: deps.taskQueue,
        workflowId,
        args: [{ customerId, request: body, actor: c.get('principal').actor }],
        typedSearchAttributes: [
          { key: CrmCustomerId, value: customerId },
          { key: CrmProcess, value: 'registration' },
          { key: CrmStatus, value: 'received' },
        ],
        staticSummary: `Register customer ${body.name}`,
        staticDetails: `Registration requested by ${c.get('principal').actor} (${c.get('principal').role})`,
      },
      c.get('idempotency'),
    );
    const result = await resultWithin(handle.result(), deps.resultWaitMs ?? 10_000);
    if (!result) {
      const statusUrl = `/v1/registrations/${key}`;
      return c.json({ status: 'pending' as const, workflowId, statusUrl }, 202, { Location: statusUrl });
    }
    if (result.outcome === 'duplicate') {
      throw new ApiError(409, 'A customer with this e-mail address already exists', { existingCustomerId: result.customerId });
    }
    const customer = await readCustomer(deps, result.customerId);
    if (!customer) throw new Error(`registered customer ${result.customerId} is missing`);
    return c.json(customer, 201, { Location: `/v1/customers/${customer.id}` });
  });

  app.openapi(registrationStatusRoute, async (c) => {
    const { key } = c.req.valid('param');
    const workflowId = registrationWorkflowId(key);
    try {
      const state = await deps.temporal.workflow.getHandle(workflowId).query(registrationStateQuery);
      return c.json({ workflowId, ...state }, 200);
    } catch (err) {
      if ((err as Error).name === 'WorkflowNotFoundError') throw new ApiError(404, `No registration with key ${key}`);
      throw err;
    }
  });

  app.openapi(getCustomerRoute, async (c) => {
    const { id } = c.req.valid('param');
    const customer = await readCustomer(deps, id);
    if (!customer) throw new ApiError(404, `No customer with id ${id}`);
    return c.json(customer, 200);
  });

  return app;
}
