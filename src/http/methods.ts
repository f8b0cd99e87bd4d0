/**
 * 405 Method Not Allowed for both HTTP APIs: a request to a path that some route declares, with a
 * method that none declares, is answered with the declared methods in `Allow` instead of 404.
 * Read from the app's own router table, so a new route needs nothing here.
 */

interface RouteEntry {
  method: string;
  path: string;
}

/** `/v1/customers/:id` (Hono's syntax, with optional `{regex}` constraints) → an anchored RegExp. */
function pathPattern(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*';
      const param = /^:[A-Za-z0-9_]+(?:\{(.+)\})?(\?)?$/.exec(segment);
      if (param) return param[1] ? `(?:${param[1]})` : '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}/?$`);
}

/**
 * The methods declared for a path, from a live route table (`app.routes`): middleware (`ALL`)
 * and wildcard mounts do not count. HEAD is allowed wherever GET is, as Hono answers it.
 */
export function declaredMethods(routes: readonly RouteEntry[]): (path: string) => string[] {
  let compiled: Array<{ method: string; pattern: RegExp }> = [];
  let seen = -1;
  return (path) => {
    if (seen !== routes.length) {
      compiled = routes.filter((r) => r.method !== 'ALL' && !r.path.endsWith('*')).map((r) => ({ method: r.method, pattern: pathPattern(r.path) }));
      seen = routes.length;
    }
    const methods = new Set(compiled.filter((r) => r.pattern.test(path)).map((r) => r.method));
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}
