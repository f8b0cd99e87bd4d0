/**
 * Headless Chromium for browser tests, with nothing installed by hand: the npm package
 * @sparticuz/chromium ships a Chromium build inside the registry package and unpacks it on first
 * use (into the system temp folder); playwright-core drives it. CHROMIUM_PATH picks another
 * Chromium (Debian's /usr/bin/chromium works too).
 */
import type { Browser } from 'playwright-core';

/** Flags for a machine without a display or network: no GPU, no background traffic to Google's hosts. */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--headless=new',
];

export async function chromiumPath(): Promise<string> {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  const { default: packaged } = await import('@sparticuz/chromium');
  return packaged.executablePath();
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: await chromiumPath(), args: FLAGS });
}
