// The jobs page in words (issue 17): every cron expression the app schedules, said as people say it,
// with its next run in 北京时间; run counts named.
import { expect } from 'chai';
import { DEFAULT_SCHEDULES } from '../../jobs/scheduler.ts';
import { describeCounts, describeCron, describeSchedule, nextRunAt, zoneLabel } from '../../server/domain/jobs-text.ts';

const TZ = 'Asia/Shanghai';

describe('jobs in words: schedules, next runs, counts', () => {
  it('says every schedule the app uses in words, with the zone as 北京时间', () => {
    const said = Object.fromEntries(Object.entries(DEFAULT_SCHEDULES).map(([job, expr]) => [job, describeSchedule(expr, TZ)]));
    expect(said).to.deep.equal({
      score: '每天 02:00（北京时间）',
      accountability: '每天 02:30（北京时间）',
      remind: '每天 09:00（北京时间）',
      backup: '每天 03:00（北京时间）',
    });
    for (const s of Object.values(said)) expect(s).not.to.match(/[*]|Asia|Shanghai/);
  });

  it('other shapes: weekly, monthly, yearly, every n minutes, several times a day, seconds', () => {
    expect(describeCron('0 9 * * 1')).to.equal('每周一 09:00');
    expect(describeCron('0 9 * * 1-5')).to.equal('每周一、周二、周三、周四、周五 09:00');
    expect(describeCron('0 9 * * 0,7')).to.equal('每周日 09:00');
    expect(describeCron('30 3 1,15 * *')).to.equal('每月 1、15 日 03:30');
    expect(describeCron('0 0 1 1,4,7,10 *')).to.equal('每年 1、4、7、10 月 1 日 00:00');
    expect(describeCron('*/5 * * * *')).to.equal('每 5 分钟');
    expect(describeCron('15 * * * *')).to.equal('每小时第 15 分');
    expect(describeCron('0 9,14 * * *')).to.equal('每天 09:00、14:00');
    expect(describeCron('30 0 2 * * *')).to.equal('每天 02:00:30');
    expect(() => describeCron('0 25 * * *')).to.throw();
    expect(() => describeCron('@daily')).to.throw();
  });

  it('next run: the next firing after the given instant, in the zone (also across a day and a month)', () => {
    // 2026-12-02 12:19 UTC = 20:19 北京时间: the next 02:00 is tomorrow 02:00 北京时间 = 18:00 UTC today.
    expect(nextRunAt('0 2 * * *', new Date('2026-12-02T12:19:00Z'), TZ)!.toISOString()).to.equal('2026-12-02T18:00:00.000Z');
    // 01:00 北京时间: today's 02:00 is still ahead.
    expect(nextRunAt('0 2 * * *', new Date('2026-12-01T17:00:00Z'), TZ)!.toISOString()).to.equal('2026-12-01T18:00:00.000Z');
    // Exactly at the slot: the next one.
    expect(nextRunAt('0 2 * * *', new Date('2026-12-01T18:00:00Z'), TZ)!.toISOString()).to.equal('2026-12-02T18:00:00.000Z');
    expect(nextRunAt('30 2 * * *', new Date('2026-12-31T18:10:00Z'), TZ)!.toISOString()).to.equal('2026-12-31T18:30:00.000Z');
    // Monday 09:00 from Wednesday 2026-12-02.
    expect(nextRunAt('0 9 * * 1', new Date('2026-12-02T04:00:00Z'), TZ)!.toISOString()).to.equal('2026-12-07T01:00:00.000Z');
    // Both day fields restricted: either matches (cron's rule) — the 15th is before the next Sunday here.
    expect(nextRunAt('0 0 15 * 0', new Date('2026-12-13T16:01:00Z'), TZ)!.toISOString()).to.equal('2026-12-14T16:00:00.000Z');
    expect(nextRunAt('0 0 31 2 *', new Date('2026-12-02T00:00:00Z'), TZ)).to.equal(null);
    for (const expr of Object.values(DEFAULT_SCHEDULES)) {
      const from = new Date('2026-06-30T20:00:00Z');
      const next = nextRunAt(expr, from, TZ)!;
      expect(next.getTime()).to.be.greaterThan(from.getTime());
      expect(next.getTime() - from.getTime()).to.be.at.most(24 * 3600_000);
    }
  });

  it('zones by name', () => {
    expect(zoneLabel('Asia/Shanghai')).to.equal('北京时间');
    expect(zoneLabel('UTC')).to.equal('协调世界时（UTC）');
    expect(zoneLabel('Europe/Berlin')).to.equal('Europe/Berlin 时区');
  });

  it('names the counts of every job, leaving unknown keys to the technical details', () => {
    expect(describeCounts('remind', { periods: 0, units: 0, notices: 0 })).to.deep.equal({ text: '期次 0 个、单位 0 个、通知 0 条', other: [] });
    expect(describeCounts('score', { periods: 2, opened: 0, recomputed: 1, published: 1, frozen: 0, rows: 358 }).text).to.equal(
      '期次 2 个、新开放期次 0 个、重新计算 1 期、发布 1 期、已冻结未重算 0 期、结果行 358 条',
    );
    expect(describeCounts('accountability', { periods: 1, opened: 3, overdue: 0 }).text).to.equal('期次 1 个、新立案 3 件、标记逾期 0 件');
    expect(describeCounts('backup', { bytes: 8 * 1024 * 1024, collections: 20, documents: 1234, ms: 250, kept: 3, removed: 0, tempsRemoved: 0 }).text).to.equal(
      '备份大小 8.0 MB、集合 20 个、文档 1234 条、保留备份 3 份、清理旧备份 0 份、清理残留临时文件 0 个、用时 0.3 秒',
    );
    expect(describeCounts('backup', { skipped: 1 }).text).to.contain('已跳过');
    expect(describeCounts('remind', { periods: 1, extra: 2 })).to.deep.equal({ text: '期次 1 个', other: ['extra=2'] });
    for (const job of ['score', 'accountability', 'remind', 'backup']) expect(describeCounts(job, { periods: 1, units: 2, notices: 3, opened: 1, rows: 3, bytes: 10, ms: 5 }).text).not.to.match(/[a-z]=/);
  });
});
