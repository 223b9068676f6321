// The client's address, as throttling counts it: the connection's peer, or — only when the peer is
// the reverse proxy named by TRUST_PROXY — the address that proxy put in X-Forwarded-For (Express's
// req.ip under the 'trust proxy' setting of server/app.ts).
// IPv4-mapped IPv6 (::ffff:10.0.0.1) is written as IPv4, so one client is one key whichever way the
// socket was opened; other IPv6 addresses count by their /64 (one subscriber's network: a single
// host can pick any address in it, so counting single addresses would not slow it down).
import net from 'node:net';
import type { Request } from 'express';

export function clientAddress(req: Request): string {
  return throttleAddress(req.ip ?? req.socket.remoteAddress ?? 'unknown');
}

export function throttleAddress(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (net.isIPv6(ip)) return `${ipv6Groups(ip).slice(0, 4).join(':')}::/64`;
  return ip;
}

/** The eight 16-bit groups of an IPv6 address (without zone), as lower-case hex without leading zeros. */
function ipv6Groups(ip: string): string[] {
  let s = ip.toLowerCase().replace(/%.*$/, '');
  // A trailing dotted IPv4 part (::1.2.3.4) becomes two groups.
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array(8 - h.length - t.length).fill('0');
  return [...h, ...zeros, ...t].map((g) => parseInt(g, 16).toString(16));
}
