// The returns web form in Chromium (issue 14 item 4): two columns of fields beside the live indicators
// at 1366 px and on a 1024×768 projector (bounding boxes, no horizontal scrolling); the indicators
// follow what is typed (public/js/return-form.js); 按上期数据预填 marks every input until it is edited;
// no console error, page error or CSP violation on the way.
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { FIELD_GROUPS, FIELD_KEYS } from '../../server/domain/fields.ts';
import { closeBrowser, launchBrowser, login, watchedPage } from '../browser/helpers.ts';
import type { TestApp, TestUser } from '../helpers/app.ts';
import { createUnits, startWithAdmin, vals } from './helpers.ts';

const P = '2026Q4';
const PREV = '2026Q3';

type Box = { x: number; y: number; width: number; height: number };
async function box(page: Page, selector: string): Promise<Box> {
  const b = await page.locator(selector).first().boundingBox();
  if (!b) throw new Error(`${selector} is not visible`);
  return b;
}

const ratioText = (page: Page, id: string) => page.textContent(`tr[data-ratio="${id}"] [data-ratio-value]`);

/** The layout holds: fields two by two in every group, the side column to the right, no horizontal scroll. */
async function checkLayout(page: Page, label: string) {
  for (const g of FIELD_GROUPS) {
    const [a, b, c] = g.keys;
    const first = await box(page, `#f-${a}`);
    const second = await box(page, `#f-${b}`);
    expect(Math.abs(first.y - second.y), `${label}: ${a} and ${b} on one line`).to.be.lessThan(2);
    expect(second.x, `${label}: ${b} right of ${a}`).to.be.greaterThan(first.x + first.width);
    if (c) {
      const third = await box(page, `#f-${c}`);
      expect(third.y, `${label}: ${c} on the next line`).to.be.greaterThan(first.y + first.height);
      expect(Math.abs(third.x - first.x), `${label}: ${c} under ${a}`).to.be.lessThan(2);
    }
    // The 口径 text sits in its own column: not wider than the field.
    const def = await box(page, `#d-${b}`);
    expect(def.x, `${label}: ${b} 口径 in its column`).to.be.greaterThan(first.x + first.width);
  }
  const main = await box(page, '.form-main');
  const side = await box(page, '.live-ratios');
  expect(side.x, `${label}: indicators beside the form`).to.be.greaterThanOrEqual(main.x + main.width);
  expect(Math.abs(side.y - main.y), `${label}: indicators at the top`).to.be.lessThan(2);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, `${label}: no horizontal scrolling`).to.be.at.most(0);
}

describe('browser: the returns web form (layout, live indicators, prefill)', function () {
  this.timeout(90_000);
  let t: TestApp;
  let admin: string;
  let rep: TestUser;
  let browser: Browser;
  let userDataDir: string;

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    await createUnits(t, admin);
    rep = await t.userFor('reporter', 'D001');
    const r = await t.api(rep.token).put(`/api/v1/returns/${PREV}/D001`, { values: vals(5) });
    if (r.status !== 200) throw new Error(r.text);
    ({ browser, userDataDir } = await launchBrowser());
  });
  after(async () => {
    await closeBrowser(browser, userDataDir);
    await t?.stop();
  });

  it('1366 px: two columns; indicators follow the typing; prefill marks every input until edited', async () => {
    const wp = await watchedPage(browser, t.baseUrl, 'reporter-form', { viewport: { width: 1366, height: 860 } });
    await login(wp, rep.username, rep.password);
    const page = wp.page;
    await wp.visit(`/returns/${P}/D001`, { shot: 'empty', full: true });
    await checkLayout(page, '1366');

    // Live indicators, as typed (keystrokes, full-width digits and thousands separators included).
    expect(await ratioText(page, 'I1')).to.equal('待填写');
    await page.locator('#f-systems_total').pressSequentially('1,000');
    expect(await ratioText(page, 'I1')).to.equal('待填写');
    await page.locator('#f-systems_extranet').pressSequentially('２５');
    expect(await ratioText(page, 'I1')).to.equal('2.5%');
    await page.locator('#f-systems_extranet').pressSequentially('0');
    expect(await ratioText(page, 'I1')).to.equal('25%');
    await page.fill('#f-systems_cloud', '1200');
    expect(await ratioText(page, 'I5')).to.equal('120%（超过 100%，请核对）');
    expect(await page.getAttribute('tr[data-ratio="I5"]', 'class')).to.contain('over');
    await page.fill('#f-systems_total', '0');
    expect(await ratioText(page, 'I1')).to.equal('不适用');
    await page.fill('#f-networks_private', '0');
    await page.fill('#f-networks_standalone', '0');
    expect(await ratioText(page, 'I3')).to.equal('100%');
    await page.fill('#f-networks_private', '4');
    await page.fill('#f-networks_standalone', '1');
    expect(await ratioText(page, 'I3')).to.equal('75%');
    await page.fill('#f-networks_standalone', 'x');
    expect(await ratioText(page, 'I3')).to.equal('待填写');

    // 按上期数据预填: every input holds last quarter's value and is marked.
    await Promise.all([page.waitForURL(/prefill=previous$/), page.click('[data-prefill-link]')]);
    await wp.shot('prefilled', true);
    const v5 = vals(5);
    for (const k of FIELD_KEYS) expect(await page.inputValue(`#f-${k}`), k).to.equal(String(v5[k]));
    expect(await page.locator('.field.is-prefilled').count()).to.equal(FIELD_KEYS.length);
    expect(await page.locator('[data-prefill-mark]').count()).to.equal(FIELD_KEYS.length);
    expect(await page.isVisible('#m-catalogue_items')).to.equal(true);
    const i1 = `${Math.round((v5.systems_extranet / v5.systems_total) * 1000) / 10}%`;
    expect(await ratioText(page, 'I1')).to.equal(i1);

    // Editing one input clears its mark only (and its name leaves the hidden list); the indicators follow.
    await page.fill('#f-systems_total', String(v5.systems_total * 2));
    expect(await page.locator('#m-systems_total').count()).to.equal(0);
    expect(await page.getAttribute('#f-systems_total', 'aria-describedby')).to.equal('u-systems_total d-systems_total');
    expect(await page.locator('[data-field="systems_total"]').getAttribute('class')).to.not.contain('is-prefilled');
    expect(await page.locator('[data-prefill-mark]').count()).to.equal(FIELD_KEYS.length - 1);
    expect((await page.inputValue('[data-prefilled-list]')).split(',')).to.deep.equal(FIELD_KEYS.filter((k) => k !== 'systems_total'));
    expect(await ratioText(page, 'I1')).to.equal(`${Math.round((v5.systems_extranet / (v5.systems_total * 2)) * 1000) / 10}%`);
    await checkLayout(page, '1366 prefilled');

    // Submitted with a broken rule: the untouched inputs are still marked, the edited one is not.
    await page.fill('#f-systems_extranet', String(v5.systems_total * 3));
    await Promise.all([page.waitForLoadState('load'), page.click('form[data-return-form] button[type=submit]')]);
    await page.waitForSelector('#form-errors');
    await wp.shot('refused', true);
    expect(await page.getAttribute('#f-systems_extranet', 'aria-invalid')).to.equal('true');
    expect(await page.inputValue('#f-systems_extranet')).to.equal(String(v5.systems_total * 3));
    expect(await page.locator('[data-prefill-mark]').count()).to.equal(FIELD_KEYS.length - 2);
    expect(await page.textContent('#form-errors')).to.contain('「已接入电子政务外网的系统数」');

    const problems = wp.problems.filter((p) => !/status of 422/.test(p));
    expect(problems).to.deep.equal([]);
    await wp.close();
  });

  it('1024×768 projector: the layout still holds', async () => {
    const wp = await watchedPage(browser, t.baseUrl, 'reporter-form-projector', { viewport: { width: 1024, height: 768 } });
    await login(wp, rep.username, rep.password);
    await wp.visit(`/returns/${P}/D001?prefill=previous`, { shot: 'prefilled' });
    await checkLayout(wp.page, '1024');
    expect(wp.problems).to.deep.equal([]);
    await wp.close();
  });
});
