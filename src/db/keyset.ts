/**
 * Keyset pagination: a page continues after the last row of the previous one, found by its sort
 * value and id through the list's index, so page 500 costs what page 1 costs and rows written
 * between two pages neither repeat nor vanish. The position travels in a sealed page token
 * (src/api/page-token.ts).
 */

/** Where the previous page ended: the last row's sort value (as PostgreSQL prints it) and id. */
export interface Position {
  value: string;
  id: string;
}

export interface SortOrder {
  /** The sort expression, matching an index that ends in `id`. */
  expression: string;
  /** How the printed value is read back. */
  cast: 'timestamptz' | 'text';
  direction: 'asc' | 'desc';
}

/** The condition "after `position` in `order`"; pushes its two parameters. */
export function after(order: SortOrder, position: Position, params: unknown[]): string {
  params.push(position.value, position.id);
  const comparison = order.direction === 'desc' ? '<' : '>';
  return `(${order.expression}, id) ${comparison} ($${params.length - 1}::${order.cast}, $${params.length}::uuid)`;
}

export function orderBy(order: SortOrder): string {
  return `${order.expression} ${order.direction.toUpperCase()}, id ${order.direction.toUpperCase()}`;
}

/** `LIKE` pattern for "contains", with the pattern's own wildcards escaped. */
export function containing(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A page of `limit` rows out of `limit + 1` fetched, and the position after it when more follow. */
export function pageOf<R extends { id: string; sort_value: string }>(rows: R[], limit: number): { rows: R[]; next?: Position } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, ...(rows.length > limit && last ? { next: { value: last.sort_value, id: last.id } } : {}) };
}
