// A workflow used only to prove the time-skipping harness: it sleeps for the given duration.
import { sleep } from '@temporalio/workflow';

export async function sleepFor(duration: string): Promise<string> {
  await sleep(duration);
  return 'woke';
}
