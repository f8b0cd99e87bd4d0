/**
 * Time-skipping environments for workflows whose timers span days: the Java test server from
 * Maven Central (resolved by the global setup) skips time whenever every workflow is waiting.
 */
import { inject } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DataConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { CRM_SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes.js';

export async function createTimeSkippingEnv(opts: { dataConverter?: DataConverter } = {}): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('testServerPath') } },
    ...(opts.dataConverter ? { client: { dataConverter: opts.dataConverter } } : {}),
  });
  // The test server, like a real one, refuses search attributes it does not know.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(CRM_SEARCH_ATTRIBUTES.map((k) => [k.name, proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
  return env;
}
