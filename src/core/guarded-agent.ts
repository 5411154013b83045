/**
 * The connecting half of the SSRF guard: an undici Agent whose sockets resolve their host through
 * `guardedLookup` (address-guard.ts) and connect to exactly the addresses it checked. The pre-check in
 * media-fetch refuses early; this closes the gap after it, where a rebinding DNS server could answer a
 * public address to the check and a private one to the connection.
 *
 * TLS still verifies the certificate against the host name: undici's connector sets `servername` from
 * the URL's host, only the address comes from the lookup. Used with undici's own fetch (the global fetch
 * is a different undici copy and does not reliably accept this Agent).
 */
import { isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { BlockedAddressError, guardedLookup, isPrivateAddress, type LookupAll } from './address-guard.js';

export interface GuardedAgentOptions {
  /** The resolver both the pre-check and the sockets use. */
  lookup: LookupAll;
  /** True for an origin that may resolve to private addresses (IRIS_ALLOW_HOSTS). Port is never ''. */
  isExempt: (origin: { hostname: string; port: string }) => boolean;
}

export function createGuardedAgent(options: GuardedAgentOptions): Agent {
  const checked = buildConnector({ lookup: guardedLookup(options.lookup, { allowPrivate: false }) });
  const exempt = buildConnector({ lookup: guardedLookup(options.lookup, { allowPrivate: true }) });
  return new Agent({
    connect(target, callback) {
      const port = target.port || (target.protocol === 'https:' ? '443' : '80');
      if (options.isExempt({ hostname: target.hostname, port })) return exempt(target, callback);
      // An IP literal never reaches the lookup: check it here.
      if (isIP(target.hostname) && isPrivateAddress(target.hostname)) {
        return callback(new BlockedAddressError(target.hostname), null);
      }
      checked(target, callback);
    },
  });
}
