// Every router file of server/routes/{api,web} is mounted by the app (helpers start with _).
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { API_ROUTERS, ROOT, WEB_ROUTERS } from '../../server/app.ts';

describe('app: router table', () => {
  for (const [kind, table] of [['api', API_ROUTERS], ['web', WEB_ROUTERS]] as const) {
    it(`mounts every server/routes/${kind}/*.ts`, () => {
      const files = fs
        .readdirSync(path.join(ROOT, 'server', 'routes', kind))
        .filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
        .map((f) => f.slice(0, -3))
        .sort();
      const mounted = table.map((r) => r.name).sort();
      expect(mounted, `add the missing routers to ${kind.toUpperCase()}_ROUTERS in server/app.ts`).to.deep.equal(files);
      for (const r of table) expect(r.router, r.name).to.be.a('function');
    });
  }
});
