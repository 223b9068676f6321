// The client's address, as throttling counts it: the connection's peer, or — only when the peer is
// the reverse proxy named by TRUST_PROXY — the address that proxy put in X-Forwarded-For (Express's
// req.ip under the 'trust proxy' setting of server/app.ts). IPv4-mapped IPv6 (::ffff:10.0.0.1) is
// written as IPv4, so one client is one key whichever way the socket was opened.
import type { Request } from 'express';

export function clientAddress(req: Request): string {
  const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m ? m[1]! : ip.toLowerCase();
}
