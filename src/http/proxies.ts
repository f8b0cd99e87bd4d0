/**
 * The entries of TRUSTED_PROXIES (addresses and CIDR ranges), checked where the configuration is
 * read (src/config.ts) and matched where the rate limits read the client address (./security.ts).
 * Only node:net here, so the config module can import it.
 */
import { isIP } from 'node:net';

/** An IPv4 address as Node reports it on a dual-stack socket (`::ffff:10.0.0.1`) is that IPv4 address. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/** Why an entry of TRUSTED_PROXIES is not an address or a CIDR range, or undefined when it is one. */
export function proxyEntryProblem(entry: string): string | undefined {
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return `'${entry}' is neither an IP address nor a CIDR range (e.g. 10.0.0.0/8)`;
  if (bits === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (!/^\d+$/.test(bits) || Number(bits) > max) return `'${entry}' has a prefix length outside 0-${max}`;
  return undefined;
}
