// BACKUP_DIR / BACKUP_KEEP (SPEC §8): defaults, validation with a one-line reason.
import { expect } from 'chai';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../server/config.ts';

describe('backup: configuration', () => {
  it('defaults to DATA_DIR/backups and 14 kept', () => {
    const c = loadConfig({ DATA_DIR: '/srv/dsa' });
    expect(c.backupDir).to.equal(path.resolve('/srv/dsa/backups'));
    expect(c.backupKeep).to.equal(14);
  });

  it('takes BACKUP_DIR (resolved) and BACKUP_KEEP', () => {
    const c = loadConfig({ DATA_DIR: '/srv/dsa', BACKUP_DIR: '/mnt/safe/../safe2', BACKUP_KEEP: '30' });
    expect(c.backupDir).to.equal('/mnt/safe2');
    expect(c.backupKeep).to.equal(30);
  });

  it('refuses a bad BACKUP_KEEP and BACKUP_DIR equal to DATA_DIR, in Chinese, naming the variable', () => {
    for (const v of ['0', '-1', 'abc', '1.5', '100000']) {
      expect(() => loadConfig({ BACKUP_KEEP: v })).to.throw(ConfigError, /BACKUP_KEEP 必须是 1–1000 之间的整数/);
    }
    expect(() => loadConfig({ DATA_DIR: '/srv/dsa', BACKUP_DIR: '/srv/dsa/' })).to.throw(ConfigError, /BACKUP_DIR 不能与 DATA_DIR 相同/);
  });
});
