/**
 * The API contract as tests see it: an OpenAPI 3.1 document (from the app's /openapi.json)
 * compiled with ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1), so a response can be
 * checked against what the document declares for its operation and status, and a request body
 * against its schema.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its default export is the function under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type Json = Record<string, any>;

export interface Operation {
  method: string;
  path: string;
  operationId: string;
  definition: Json;
  pattern: RegExp;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** A JSON pointer segment: `/` and `~` escaped. */
const pointer = (...segments: string[]) => segments.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

export class Contract {
  readonly operations: Operation[];
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  /** Responses checked, per `operationId status`. */
  readonly checked = new Map<string, number>();

  constructor(readonly document: Json) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, multipleOfPrecision: 9 });
    addFormats(this.ajv, { mode: 'full' });
    this.ajv.addSchema(document, 'openapi');
    this.operations = Object.entries(document.paths as Json).flatMap(([path, item]) =>
      Object.entries(item as Json)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, definition]) => ({
          method: method.toUpperCase(),
          path,
          operationId: (definition as Json).operationId as string,
          definition: definition as Json,
          pattern: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
        })),
    );
  }

  static async load(app: { request(url: string): Response | Promise<Response> }): Promise<Contract> {
    const res = await app.request('/openapi.json');
    if (res.status !== 200) throw new Error(`/openapi.json answered ${res.status}`);
    return new Contract((await res.json()) as Json);
  }

  operation(method: string, url: string): Operation | undefined {
    const path = new URL(url, 'http://api').pathname;
    return this.operations.find((o) => o.method === method.toUpperCase() && o.pattern.test(path));
  }

  byId(operationId: string): Operation {
    const op = this.operations.find((o) => o.operationId === operationId);
    if (!op) throw new Error(`no operation ${operationId} in the document`);
    return op;
  }

  /** The validator of a schema inside the document, by JSON pointer segments. */
  private validator(...segments: string[]): ValidateFunction {
    const ref = `openapi#/${pointer(...segments)}`;
    let validate = this.compiled.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref });
      this.compiled.set(ref, validate);
    }
    return validate;
  }

  /** Checks a JSON request body against the operation's schema; returns ajv's errors or []. */
  requestBodyErrors(operationId: string, body: unknown): Array<{ instancePath: string; message?: string; keyword: string }> {
    const op = this.byId(operationId);
    const validate = this.validator('paths', op.path, op.method.toLowerCase(), 'requestBody', 'content', 'application/json', 'schema');
    return validate(body) ? [] : (validate.errors ?? []).map((e) => ({ instancePath: e.instancePath, message: e.message, keyword: e.keyword }));
  }

  /** Checks a path, query or header parameter's value against its schema; returns ajv's errors or []. */
  parameterErrors(operationId: string, name: string, value: unknown): Array<{ instancePath: string; message?: string; keyword: string }> {
    const op = this.byId(operationId);
    const index = ((op.definition.parameters ?? []) as Array<{ name: string }>).findIndex((p) => p.name === name);
    if (index < 0) throw new Error(`${operationId} has no parameter ${name}`);
    const validate = this.validator('paths', op.path, op.method.toLowerCase(), 'parameters', String(index), 'schema');
    return validate(value) ? [] : (validate.errors ?? []).map((e) => ({ instancePath: e.instancePath, message: e.message, keyword: e.keyword }));
  }

  /**
   * Checks one response against the document: its status is declared for the operation, its
   * content type is one the status declares, and its body is valid against that schema.
   * Throws with what differs. Requests to paths the document does not describe (health,
   * docs, codec) and 405/404 answers for undeclared methods or paths are not operations and
   * are left alone; returns whether the response was checked.
   */
  async check(method: string, url: string, res: Response): Promise<boolean> {
    const op = this.operation(method, url);
    if (!op) return false;
    const where = `${method.toUpperCase()} ${url} (${op.operationId}) answered ${res.status}`;
    const declared = (op.definition.responses ?? {}) as Json;
    const status = String(res.status);
    const response = declared[status] ?? declared[`${status[0]}XX`] ?? declared.default;
    if (!response) throw new Error(`${where}, a status the document does not declare (declared: ${Object.keys(declared).join(', ')})`);
    const content = (response.content ?? {}) as Json;
    const text = await res.clone().text();
    if (Object.keys(content).length === 0) {
      if (text.length > 0) throw new Error(`${where} with a body, but the document declares none`);
    } else {
      const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      const mediaType = Object.keys(content).find((t) => t.toLowerCase() === type);
      if (!mediaType) throw new Error(`${where} with Content-Type ${type || 'none'}; declared: ${Object.keys(content).join(', ')}`);
      if (/json/.test(mediaType) && content[mediaType].schema) {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new Error(`${where} with a body that is not JSON: ${text.slice(0, 200)}`);
        }
        const validate = this.validator(
          'paths',
          op.path,
          op.method.toLowerCase(),
          'responses',
          status in declared ? status : 'default',
          'content',
          mediaType,
          'schema',
        );
        if (!validate(body)) {
          const errors = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
          throw new Error(`${where} with a body that does not match the declared schema: ${errors.join('; ')}\nbody: ${text.slice(0, 500)}`);
        }
      }
    }
    const key = `${op.operationId} ${status}`;
    this.checked.set(key, (this.checked.get(key) ?? 0) + 1);
    return true;
  }

  get responsesChecked(): number {
    return [...this.checked.values()].reduce((a, b) => a + b, 0);
  }
}
