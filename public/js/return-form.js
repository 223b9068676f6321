// The returns web form (views/pages/returns/form.hbs), no inline script (CSP):
// - the scheme's indicators recomputed as numbers are typed (definitions from data-live-ratios, the
//   same arithmetic as server/domain/form-ratios.ts);
// - values prefilled from the previous quarter keep their 上期值 mark until edited; the hidden
//   `prefilled` field lists those still unedited, so a refused submission marks them again.
(function () {
  'use strict';
  var form = document.querySelector('form[data-return-form]');
  if (!form) return;

  var FULL = '０１２３４５６７８９';
  /** A whole number ≥ 0 as the server accepts it (digits, full-width digits, 1,234 grouping, trailing .0), else null. */
  function whole(text) {
    var s = '';
    for (var i = 0; i < text.length; i++) {
      var c = text.charAt(i);
      var f = FULL.indexOf(c);
      s += f >= 0 ? String(f) : c === '，' ? ',' : c === '　' ? ' ' : c;
    }
    s = s.trim().replace(/^\+/, '');
    var m = /^([0-9]{1,3}(?:(?: *, *| +)[0-9]{3})+|[0-9]+)(?:\.0*)?$/.exec(s);
    if (!m) return null;
    var n = Number(m[1].replace(/[ ,]/g, ''));
    return Number.isSafeInteger(n) ? n : null;
  }

  function valueOf(key) {
    var input = form.elements.namedItem(key);
    return input && typeof input.value === 'string' ? whole(input.value) : null;
  }

  function sum(expr) {
    var r = 0;
    var i;
    var x;
    for (i = 0; i < expr.add.length; i++) {
      x = valueOf(expr.add[i]);
      if (x === null) return null;
      r += x;
    }
    var sub = expr.subtract || [];
    for (i = 0; i < sub.length; i++) {
      x = valueOf(sub[i]);
      if (x === null) return null;
      r -= x;
    }
    return r;
  }

  var percent = new Intl.NumberFormat('zh-CN', { maximumFractionDigits: 1 });
  var panel = document.querySelector('[data-live-ratios]');
  var indicators = [];
  try {
    indicators = panel ? JSON.parse(panel.getAttribute('data-live-ratios') || '[]') : [];
  } catch (e) {
    indicators = [];
  }

  function evaluate(d) {
    var na = d.notApplicableWhen ? sum(d.notApplicableWhen.zero) : 1;
    var num = sum(d.numerator);
    var den = sum(d.denominator);
    if (na === 0) return { value: null, note: '不适用' };
    if (na === null || num === null || den === null) return { value: null, note: '待填写' };
    if (den === 0) return d.zeroDenominatorValue === null ? { value: null, note: '不适用' } : { value: d.zeroDenominatorValue, note: null };
    return { value: num / den, note: null };
  }

  function updateRatios() {
    indicators.forEach(function (d) {
      var row = panel.querySelector('tr[data-ratio="' + d.id + '"]');
      if (!row) return;
      var out = row.querySelector('[data-ratio-value]');
      var r = evaluate(d);
      var text = r.note !== null ? r.note : percent.format(r.value * 100) + '%';
      var over = r.note === null && r.value > 1;
      if (over) text += '（超过 100%，请核对）';
      if (out.textContent !== text) out.textContent = text;
      row.classList.toggle('over', over);
    });
  }

  var list = form.querySelector('[data-prefilled-list]');
  function clearMark(input) {
    var field = input.closest('.field');
    var mark = field && field.querySelector('[data-prefill-mark]');
    if (mark) {
      var ids = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter(function (id) { return id && id !== mark.id; });
      input.setAttribute('aria-describedby', ids.join(' '));
      mark.remove();
    }
    if (field) field.classList.remove('is-prefilled');
    input.removeAttribute('data-prefilled');
    if (list) {
      list.value = list.value.split(',').filter(function (k) { return k && k !== input.name; }).join(',');
    }
  }

  form.addEventListener('input', function (ev) {
    var input = ev.target;
    if (!input || input.tagName !== 'INPUT') return;
    if (input.hasAttribute('data-prefilled') && input.value !== input.getAttribute('data-prefilled')) clearMark(input);
    if (panel) updateRatios();
  });
  if (panel) updateRatios();
})();
