// Small enhancements of the read-side pages. Every page works without this script.
(function () {
  'use strict';

  // Filters apply on change (the submit button stays for keyboard users and no-JS).
  Array.prototype.forEach.call(document.querySelectorAll('form[data-autosubmit]'), function (form) {
    form.addEventListener('change', function (e) {
      if (e.target && e.target.tagName === 'SELECT') form.submit();
    });
  });

  // Print buttons.
  Array.prototype.forEach.call(document.querySelectorAll('[data-print]'), function (b) {
    b.hidden = false;
    b.addEventListener('click', function () { window.print(); });
  });

  // Workbook downloads: fetch with a visible progress line, then save. Without JS: a plain link.
  function status(link) {
    var s = link.nextElementSibling;
    if (!s || !s.classList.contains('download-status')) {
      s = document.createElement('span');
      s.className = 'download-status';
      s.setAttribute('role', 'status');
      s.setAttribute('aria-live', 'polite');
      link.insertAdjacentElement('afterend', s);
    }
    return s;
  }
  function filenameOf(res, fallback) {
    var cd = res.headers.get('Content-Disposition') || '';
    var m = /filename\*=UTF-8''([^;]+)/i.exec(cd);
    if (m) { try { return decodeURIComponent(m[1]); } catch (e) { /* fall through */ } }
    m = /filename="([^"]+)"/i.exec(cd);
    return m ? m[1] : fallback;
  }
  Array.prototype.forEach.call(document.querySelectorAll('a[data-download]'), function (link) {
    link.addEventListener('click', function (e) {
      if (!window.fetch || !window.ReadableStream || link.getAttribute('aria-busy') === 'true') return;
      e.preventDefault();
      var s = status(link);
      link.setAttribute('aria-busy', 'true');
      link.classList.add('busy');
      s.textContent = '正在生成考核表…';
      fetch(link.href, { credentials: 'same-origin' })
        .then(function (res) {
          if (!res.ok) {
            return res.json().then(function (b) { throw new Error((b && b.error && b.error.message) || ('下载失败（' + res.status + '）')); },
              function () { throw new Error('下载失败（' + res.status + '）'); });
          }
          var total = Number(res.headers.get('Content-Length')) || 0;
          var reader = res.body.getReader();
          var chunks = [];
          var got = 0;
          function pump() {
            return reader.read().then(function (r) {
              if (r.done) return;
              chunks.push(r.value);
              got += r.value.length;
              s.textContent = total
                ? '正在下载… ' + Math.round((got / total) * 100) + '%'
                : '正在下载… ' + (got / 1024).toFixed(0) + ' KB';
              return pump();
            });
          }
          return pump().then(function () {
            var blob = new Blob(chunks, { type: res.headers.get('Content-Type') || 'application/octet-stream' });
            var url = URL.createObjectURL(blob);
            var a = document.createElement('a');
            a.href = url;
            a.download = filenameOf(res, 'sheet.xlsx');
            document.body.appendChild(a);
            a.click();
            a.remove();
            setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
            s.textContent = '已下载（' + (got / 1024).toFixed(0) + ' KB）';
          });
        })
        .catch(function (err) {
          s.textContent = err.message || '下载失败';
          s.classList.add('bad-text');
        })
        .then(function () {
          link.removeAttribute('aria-busy');
          link.classList.remove('busy');
        });
    });
  });

  // Buttons of forms that take a while (status changes) show that they are working.
  Array.prototype.forEach.call(document.querySelectorAll('form[data-busy]'), function (form) {
    form.addEventListener('submit', function () {
      var b = form.querySelector('button[type=submit]');
      if (b) {
        b.disabled = true;
        b.textContent = form.getAttribute('data-busy') || '正在提交…';
      }
    });
  });
})();

// 排名: the compare form counts the ticked units (2–5); without JS the server checks the count.
(function () {
  'use strict';
  var form = document.querySelector('form[data-compare]');
  if (!form) return;
  var status = form.querySelector('[data-compare-status]');
  var button = form.querySelector('button[type=submit]');
  function boxes() { return document.querySelectorAll('input[type=checkbox][form="' + form.id + '"]'); }
  function update() {
    var n = Array.prototype.filter.call(boxes(), function (b) { return b.checked; }).length;
    var ok = n >= 2 && n <= 5;
    button.disabled = !ok;
    status.textContent = n === 0 ? '勾选表中 2–5 个单位后对比' : n < 2 ? '已选 ' + n + ' 个，至少再选 ' + (2 - n) + ' 个' : n > 5 ? '已选 ' + n + ' 个，最多 5 个' : '已选 ' + n + ' 个';
  }
  Array.prototype.forEach.call(boxes(), function (b) { b.addEventListener('change', update); });
  update();
})();
