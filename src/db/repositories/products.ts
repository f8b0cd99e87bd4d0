/**
 * The product catalogue (`products`) and what each customer owns (`customer_products`), as the
 * catalogue routes, offers and campaigns read and write them.
 */
import type { Pool, PoolClient } from '../pool.js';
import type { Product, ProductCreate, ProductPatch } from '../../domain/offers.js';

type Db = Pool | PoolClient;

export interface ProductRow {
  id: string;
  name: string;
  category: string;
  tier: number;
  /** numeric: pg hands it back as a string */
  price: string;
  active: boolean;
}

export const PRODUCT_COLUMNS = 'id, name, category, tier, price, active';

export const toProduct = (r: ProductRow): Product => ({
  id: r.id,
  name: r.name,
  category: r.category,
  tier: r.tier,
  price: Number(r.price),
  active: r.active,
});

/** Products by category and tier; inactive ones only when asked for. */
export async function listProducts(db: Db, filter: { category?: string; includeInactive: boolean }): Promise<Product[]> {
  const { rows } = await db.query<ProductRow>(
    `SELECT ${PRODUCT_COLUMNS} FROM products WHERE ($1::text IS NULL OR category = $1) AND ($2 OR active) ORDER BY category, tier, id`,
    [filter.category ?? null, filter.includeInactive],
  );
  return rows.map(toProduct);
}

export async function readProduct(db: Db, id: string): Promise<Product | undefined> {
  const { rows } = await db.query<ProductRow>(`SELECT ${PRODUCT_COLUMNS} FROM products WHERE id = $1`, [id]);
  return rows[0] ? toProduct(rows[0]) : undefined;
}

/** Adds a product; undefined when one with that id exists already. */
export async function insertProduct(db: Db, p: ProductCreate): Promise<Product | undefined> {
  const { rows } = await db.query<ProductRow>(
    `INSERT INTO products (id, name, category, tier, price, active) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO NOTHING RETURNING ${PRODUCT_COLUMNS}`,
    [p.id, p.name, p.category, p.tier, p.price, p.active],
  );
  return rows[0] ? toProduct(rows[0]) : undefined;
}

/** Changes the given fields of a product; undefined when there is no such product. */
export async function updateProduct(db: Db, id: string, p: ProductPatch): Promise<Product | undefined> {
  const { rows } = await db.query<ProductRow>(
    `UPDATE products SET name = COALESCE($2, name), tier = COALESCE($3, tier), price = COALESCE($4, price), active = COALESCE($5, active), updated_at = now()
     WHERE id = $1 RETURNING ${PRODUCT_COLUMNS}`,
    [id, p.name ?? null, p.tier ?? null, p.price ?? null, p.active ?? null],
  );
  return rows[0] ? toProduct(rows[0]) : undefined;
}

/** The ids among `ids` that name no product. */
export async function unknownProductIds(db: Db, ids: string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('SELECT x.id FROM unnest($1::text[]) AS x(id) LEFT JOIN products p ON p.id = x.id WHERE p.id IS NULL', [ids]);
  return rows.map((r) => r.id);
}

export interface OwnedProduct {
  productId: string;
  name: string;
  category: string;
  tier: number;
  /** What the customer pays, not the list price. */
  price: number;
  source: string;
  sourceId: string | null;
  acquiredAt: string;
  endedAt: string | null;
  endedReason: string | null;
}

/** Every product the customer owns or owned, newest first. */
export async function customerProducts(db: Db, customerId: string): Promise<OwnedProduct[]> {
  const { rows } = await db.query<
    Omit<ProductRow, 'price' | 'active'> & {
      source: string;
      source_id: string | null;
      acquired_at: Date;
      ended_at: Date | null;
      ended_reason: string | null;
      paid: string;
    }
  >(
    `SELECT p.id, p.name, p.category, p.tier, cp.price AS paid, cp.source, cp.source_id, cp.acquired_at, cp.ended_at, cp.ended_reason
     FROM customer_products cp JOIN products p ON p.id = cp.product_id WHERE cp.customer_id = $1 ORDER BY cp.acquired_at DESC, cp.id DESC`,
    [customerId],
  );
  return rows.map((r) => ({
    productId: r.id,
    name: r.name,
    category: r.category,
    tier: r.tier,
    price: Number(r.paid),
    source: r.source,
    sourceId: r.source_id,
    acquiredAt: r.acquired_at.toISOString(),
    endedAt: r.ended_at?.toISOString() ?? null,
    endedReason: r.ended_reason,
  }));
}

/** Of `ids`, those a deal may not sell: no such product, or one no longer sold. */
/** Why a deal or an imported lead may not sell the product: the intake's 400 and the import's rejection say the same. */
export function unsellableReason(b: { id: string; problem: 'unknown' | 'inactive' }): string {
  return b.problem === 'unknown' ? `there is no product ${b.id}` : `${b.id} is no longer sold`;
}

export async function unsellableProducts(db: Db, ids: string[]): Promise<Array<{ id: string; problem: 'unknown' | 'inactive' }>> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ id: string; active: boolean | null }>(
    'SELECT x.id, p.active FROM unnest($1::text[]) WITH ORDINALITY AS x(id, n) LEFT JOIN products p ON p.id = x.id WHERE p.active IS NOT TRUE ORDER BY x.n',
    [ids],
  );
  return rows.map((r) => ({ id: r.id, problem: r.active === null ? 'unknown' : 'inactive' }));
}
