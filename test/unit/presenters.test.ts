// Page presenters without HTTP or a database: a snapshot (server/results/snapshot.ts buildSnapshot) and
// a viewer in, a view model out.
import { expect } from 'chai';
import mongoose from 'mongoose';
import { AppError } from '../../server/domain/errors.ts';
import { cloneScheme, DEFAULT_SCHEME } from '../../server/domain/scoring/scheme.ts';
import { boards, gradeDistribution } from '../../server/pages/overview.ts';
import { presentRanking } from '../../server/pages/ranking.ts';
import { buildSnapshot } from '../../server/results/snapshot.ts';
import type { ResultRowView } from '../../server/results/store.ts';

const ind = (score: number) => ({ value: score / 25, score, applicable: true });
function row(unit: string, category: 'department' | 'city', total: number | null, rank: number | null, grade: ResultRowView['grade'] = null): ResultRowView {
  return { unit, name: `单位${unit}`, category, indicators: { I1: ind(total ? 25 : 0) }, base: total, deductions: 0, total, grade, rank, rankChange: null, flags: total === null ? ['pending'] : [], revision: 1 };
}
const pointer = (status: 'provisional' | 'final', schemeVersion = 1) => ({
  period: '2026Q3',
  computeId: new mongoose.Types.ObjectId(),
  status,
  schemeVersion,
  computedAt: new Date('2026-10-20T00:00:00Z'),
  publishedAt: status === 'final' ? new Date('2026-10-23T00:00:00Z') : null,
  deadline: new Date('2026-10-15T15:59:59Z'),
});
const ROWS = [row('D002', 'department', 90, 1, '优秀'), row('D010', 'department', 80, 2, '良好'), row('D001', 'department', 80, 2, '良好'), row('D003', 'department', null, null), row('C01', 'city', 70, 1, '合格')];

describe('presenters', () => {
  it('ranking: one category, sorted, ties by unit code (the domain order), columns of the snapshot\'s own scheme version', () => {
    const v2 = cloneScheme(DEFAULT_SCHEME);
    v2.indicators[0]!.name = '外网接入率（第 2 版）';
    v2.deductions.late = 3;
    const set = pointer('final', 2);
    const snap = buildSnapshot(set, ROWS, v2);
    const r = presentRanking({ username: 'o', role: 'office' }, set, snap, { category: 'department', sort: 'total' });
    expect(r.rows().map((x) => x.unit)).to.deep.equal(['D002', 'D001', 'D010', 'D003']);
    expect(r.indicators).to.deep.equal([{ id: 'I1', name: '外网接入率（第 2 版）', weight: 25 }]);
    expect(r.lateDeduction).to.equal(3);
    expect(r.counts).to.deep.equal({ department: 4, city: 1, county: 0 });
    expect(r.rows().every((x) => x.visible)).to.equal(true);
    const asc = presentRanking({ username: 'o', role: 'office' }, set, snap, { category: 'department', sort: 'total', dir: 'asc' });
    expect(asc.rows().map((x) => x.unit)).to.deep.equal(['D001', 'D010', 'D002', 'D003']); // no total stays last
  });

  it('ranking: a reporter sees a published ranking with only its own unit linkable, and nothing before publication', () => {
    const rep = { username: 'r', role: 'reporter' as const, unit: 'D010' };
    const fin = pointer('final');
    const r = presentRanking(rep, fin, buildSnapshot(fin, ROWS, DEFAULT_SCHEME), { category: 'department' });
    expect(r.rows().filter((x) => x.visible).map((x) => x.unit)).to.deep.equal(['D010']);
    const prov = pointer('provisional');
    expect(() => presentRanking(rep, prov, buildSnapshot(prov, ROWS, DEFAULT_SCHEME), { category: 'department' })).to.throw(AppError, /尚未发布/);
  });

  it('snapshots are immutable: a presenter cannot change what the next request sees', () => {
    const set = pointer('final');
    const snap = buildSnapshot(set, ROWS.map((r) => ({ ...r })), DEFAULT_SCHEME);
    expect(Object.isFrozen(snap)).to.equal(true);
    const first = snap.row(0);
    first.total = 1;
    first.flags.push('late');
    first.indicators.I1!.score = 0;
    expect(snap.row(0)).to.deep.equal(ROWS[0]);
  });

  it('overview: grade distribution and red/black boards per category', () => {
    const g = gradeDistribution(ROWS);
    expect(g.find((x) => x.category === 'department')).to.deep.include({ counts: { 优秀: 1, 良好: 2, 合格: 0, 不合格: 0 }, unrated: 1, ranked: 3 });
    const b = boards(ROWS, () => 1);
    expect(b.map((x) => [x.category, x.top.map((e) => e.unit), x.bottom.map((e) => e.unit)])).to.deep.equal([['department', ['D002'], ['D010']]]);
  });
});
