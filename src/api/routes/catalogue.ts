/**
 * The product catalogue: operational reads for everyone, writes for admins; and the products a
 * customer owns now or owned before, with why they ended. Read and written through the products
 * repository.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { productCreateSchema, productIdSchema, productPatchSchema } from '../../domain/offers.js';
import { OPERATIONAL_ROLES, requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../env.js';
import { ApiError } from '../problem.js';
import { customerExists } from '../../db/repositories/customers.js';
import {
  customerProducts as ownedProducts,
  insertProduct,
  listProducts as listProductRows,
  readProduct,
  updateProduct,
} from '../../db/repositories/products.js';
import { jsonBody, jsonContent, problemResponses } from '../openapi.js';
import { customerIdParam } from '../schemas.js';

export const productSchema = z
  .object({ id: z.string(), name: z.string(), category: z.string(), tier: z.number().int(), price: z.number(), active: z.boolean() })
  .openapi('Product');

const ownedProductSchema = z
  .object({
    productId: z.string(),
    name: z.string(),
    category: z.string(),
    tier: z.number().int(),
    price: z.number(),
    source: z.string(),
    sourceId: z.string().nullable(),
    acquiredAt: z.string(),
    endedAt: z.string().nullable(),
    endedReason: z.string().nullable(),
  })
  .openapi('OwnedProduct');

const productParam = z.object({ id: productIdSchema.openapi({ param: { name: 'id', in: 'path' } }) });

const listProducts = createRoute({
  method: 'get',
  path: '/v1/products',
  operationId: 'listProducts',
  tags: ['offers'],
  summary: 'The product catalogue',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: {
    query: z.object({
      category: productIdSchema.optional(),
      includeInactive: z.enum(['true', 'false']).optional(),
    }),
  },
  responses: {
    200: jsonContent(z.object({ products: z.array(productSchema) }), 'Products by category and tier'),
    ...problemResponses(400, 401, 403),
  },
});

const getProduct = createRoute({
  method: 'get',
  path: '/v1/products/{id}',
  operationId: 'getProduct',
  tags: ['offers'],
  summary: 'One product',
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: productParam },
  responses: { 200: jsonContent(productSchema, 'The product'), ...problemResponses(400, 401, 403, 404) },
});

const createProduct = createRoute({
  method: 'post',
  path: '/v1/products',
  operationId: 'createProduct',
  tags: ['offers'],
  summary: 'Add a product to the catalogue (admin)',
  middleware: [requireRole('admin')] as const,
  request: {
    body: jsonBody(productCreateSchema.openapi('ProductCreate'), {
      id: 'crm-pro',
      name: 'CRM Pro',
      category: 'crm',
      tier: 2,
      price: 49.9,
      active: true,
    }),
  },
  responses: { 201: jsonContent(productSchema, 'Created'), ...problemResponses(400, 401, 403, 409, 413, 415) },
});

const patchProduct = createRoute({
  method: 'patch',
  path: '/v1/products/{id}',
  operationId: 'updateProduct',
  tags: ['offers'],
  summary: 'Change a product: name, tier, price, or take it off sale (admin)',
  middleware: [requireRole('admin')] as const,
  request: { params: productParam, body: jsonBody(productPatchSchema.openapi('ProductPatch'), { price: 59.9 }) },
  responses: { 200: jsonContent(productSchema, 'Changed'), ...problemResponses(400, 401, 403, 404, 413, 415) },
});

const customerProducts = createRoute({
  method: 'get',
  path: '/v1/customers/{id}/products',
  operationId: 'listCustomerProducts',
  tags: ['offers'],
  summary: "The customer's products: owned now, and ended ones with the reason",
  middleware: [requireRole(...OPERATIONAL_ROLES)] as const,
  request: { params: customerIdParam },
  responses: {
    200: jsonContent(z.object({ owned: z.array(ownedProductSchema), ended: z.array(ownedProductSchema) }), 'Products'),
    ...problemResponses(400, 401, 403, 404),
  },
});

export function catalogueRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<ApiEnv>();

  app.openapi(listProducts, async (c) => {
    const { category, includeInactive } = c.req.valid('query');
    return c.json({ products: await listProductRows(deps.pool, { category, includeInactive: includeInactive === 'true' }) }, 200);
  });

  app.openapi(getProduct, async (c) => {
    const { id } = c.req.valid('param');
    const product = await readProduct(deps.pool, id);
    if (!product) throw new ApiError(404, `No product ${id}`);
    return c.json(product, 200);
  });

  app.openapi(createProduct, async (c) => {
    const p = c.req.valid('json');
    const product = await insertProduct(deps.pool, p);
    if (!product) throw new ApiError(409, `A product ${p.id} already exists`);
    return c.json(product, 201, { Location: `/v1/products/${p.id}` });
  });

  app.openapi(patchProduct, async (c) => {
    const { id } = c.req.valid('param');
    const product = await updateProduct(deps.pool, id, c.req.valid('json'));
    if (!product) throw new ApiError(404, `No product ${id}`);
    return c.json(product, 200);
  });

  app.openapi(customerProducts, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await customerExists(deps.pool, id))) throw new ApiError(404, `No customer with id ${id}`);
    const all = await ownedProducts(deps.pool, id);
    return c.json({ owned: all.filter((p) => !p.endedAt), ended: all.filter((p) => p.endedAt) }, 200);
  });

  return app;
}
