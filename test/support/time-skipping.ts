/**
 * Time-skipping environments for workflows whose timers span days: the Java test server from
 * Maven Central (resolved by the global setup) skips time whenever every workflow is waiting.
 */
import { inject } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';

export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('testServerPath') } },
  });
  return env;
}
