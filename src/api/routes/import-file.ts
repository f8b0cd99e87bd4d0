/**
 * An uploaded import file as records: CSV (csv-parse; a header row of the API's field names) or
 * JSON lines (one object per line; blank lines skipped). A file that cannot be read as its format
 * (unbalanced quotes, a row with another number of cells than the header, a line that is no JSON)
 * is a 400 naming the line: such a file is not what its sender thinks it is, so nothing of it is
 * imported. A record that reads but breaks the API's rules becomes a rejected row, later.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { IMPORT_COLUMNS, IMPORT_MAX_ROWS, unknownColumns, type ImportFormat, type ImportKind } from '../../domain/imports.js';
import type { RejectedRow } from '../../db/repositories/imports.js';
import { ApiError } from '../problem.js';

export interface ReadFile {
  records: unknown[];
  /** The CSV header (null for JSON lines). */
  columns: string[] | null;
}

const fileProblem = (message: string) => new ApiError(400, `Invalid request: body: ${message}`, { errors: [{ path: 'body', message, code: 'custom' }] });

function tooMany(count: number): never {
  throw new ApiError(413, `The file holds ${count} rows; an import takes at most ${IMPORT_MAX_ROWS}`);
}

function readCsv(kind: ImportKind, text: string): ReadFile {
  let columns: string[] = [];
  let records: Array<Record<string, string>>;
  try {
    records = parse(text, {
      bom: true,
      skip_empty_lines: true,
      columns: (header: string[]) => (columns = header.map((h) => h.trim())),
    }) as Array<Record<string, string>>;
  } catch (err) {
    throw fileProblem(`is not a CSV file this import can read: ${(err as Error).message}`);
  }
  if (columns.length === 0) throw fileProblem('has no header row');
  const unknown = unknownColumns(kind, columns);
  if (unknown.length > 0)
    throw fileProblem(`unknown column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; ${kind} take ${IMPORT_COLUMNS[kind].join(', ')}`);
  const repeated = columns.filter((c, i) => columns.indexOf(c) !== i);
  if (repeated.length > 0) throw fileProblem(`column ${repeated[0]} appears twice`);
  if (!columns.includes('email')) throw fileProblem('has no email column: every row needs an e-mail address');
  if (records.length === 0) throw fileProblem('has a header but no rows');
  if (records.length > IMPORT_MAX_ROWS) tooMany(records.length);
  return { records, columns };
}

function readNdjson(text: string): ReadFile {
  const records: unknown[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw fileProblem(`line ${i + 1} is not JSON`);
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw fileProblem(`line ${i + 1} is not a JSON object`);
    records.push(value);
    if (records.length > IMPORT_MAX_ROWS) tooMany(lines.filter((l) => l.trim() !== '').length);
  }
  if (records.length === 0) throw fileProblem('has no rows');
  return { records, columns: null };
}

export function readImportFile(kind: ImportKind, format: ImportFormat, text: string): ReadFile {
  if (text.trim() === '') throw fileProblem('is empty: send the file as the request body');
  return format === 'csv' ? readCsv(kind, text) : readNdjson(text);
}

/** The rejected rows as CSV: the row as uploaded (CSV: its cells; JSON lines: the line), its number and the reason. */
export function rejectedCsv(columns: string[] | null, rows: RejectedRow[]): string {
  const header = [...(columns ?? ['record']), 'row', 'reason'];
  const cells = rows.map((r) => [
    ...(columns ? columns.map((c) => String((r.data as Record<string, unknown>)[c] ?? '')) : [JSON.stringify(r.data)]),
    String(r.row),
    r.reason,
  ]);
  return stringify([header, ...cells]);
}
