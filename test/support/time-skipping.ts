/**
 * Time-skipping environments for workflows whose timers span days: the Java test server from
 * Maven Central (resolved by the global setup) skips time whenever every workflow is waiting.
 */
import { inject } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DataConverter, SearchAttributeType } from '@temporalio/common';
import proto from '@temporalio/proto';
import { CRM_SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes.js';

/**
 * The SDK waits five seconds for the test server's JVM to answer, a constant of its core; on a
 * busy two-core machine a JVM can take longer, so a start that timed out is tried again.
 */
async function startTestServer(opts: { dataConverter?: DataConverter }, attempts = 3): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: inject('testServerPath') } },
        ...(opts.dataConverter ? { client: { dataConverter: opts.dataConverter } } : {}),
      });
    } catch (err) {
      if (attempt >= attempts || !/did not start within/.test(String(err))) throw err;
    }
  }
}

const IVT = proto.temporal.api.enums.v1.IndexedValueType;
const INDEXED_VALUE_TYPE: Record<SearchAttributeType, number> = {
  TEXT: IVT.INDEXED_VALUE_TYPE_TEXT,
  KEYWORD: IVT.INDEXED_VALUE_TYPE_KEYWORD,
  INT: IVT.INDEXED_VALUE_TYPE_INT,
  DOUBLE: IVT.INDEXED_VALUE_TYPE_DOUBLE,
  BOOL: IVT.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: IVT.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: IVT.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

export async function createTimeSkippingEnv(opts: { dataConverter?: DataConverter } = {}): Promise<TestWorkflowEnvironment> {
  const env = await startTestServer(opts);
  // The test server, like a real one, refuses search attributes it does not know.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(CRM_SEARCH_ATTRIBUTES.map((k) => [k.name, INDEXED_VALUE_TYPE[k.type]])),
  });
  return env;
}
