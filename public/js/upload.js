// Excel upload with a progress bar (no inline script: CSP). Progressive enhancement of
// <form data-upload>: without JavaScript the form posts normally.
(function () {
  'use strict';
  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  each(document.querySelectorAll('form[data-upload]'), function (form) {
    var bar = form.querySelector('[data-upload-progress]');
    var status = form.querySelector('[data-upload-status]');
    var errors = form.querySelector('[data-upload-errors]');
    var button = form.querySelector('button[type="submit"]');

    // The same table as views/partials/issue-table.hbs (lines of server/domain/issues.ts issueTable).
    var tbody = errors.querySelector('tbody');
    function cell(tr, text) {
      var td = document.createElement('td');
      td.textContent = text;
      tr.appendChild(td);
      return td;
    }
    function showErrors(list) {
      tbody.textContent = '';
      list.forEach(function (e) {
        var tr = document.createElement('tr');
        tr.className = 'issue issue-' + e.kind + (e.wholeRow ? ' whole-row' : '');
        var kind = cell(tr, '');
        var tag = document.createElement('span');
        tag.className = 'tag ' + (e.kind === 'error' ? 'bad' : 'warn');
        tag.textContent = e.kind === 'error' ? '✖ 错误' : '⚠ 提示';
        kind.appendChild(tag);
        cell(tr, e.sheet || '—');
        cell(tr, e.row ? String(e.row) : '—').className = 'num';
        cell(tr, e.column || '—');
        cell(tr, e.fieldLabel || '—');
        var msg = cell(tr, e.message);
        if (e.wholeRow) {
          var note = document.createElement('strong');
          note.className = 'whole-row-note';
          note.textContent = ' 整行不能导入' + (e.folded ? '（该行另有 ' + e.folded + ' 处问题不再逐一列出）' : '');
          msg.appendChild(note);
        }
        tbody.appendChild(tr);
      });
      errors.hidden = list.length === 0;
    }

    form.addEventListener('submit', function (ev) {
      var input = form.querySelector('input[type="file"]');
      if (!input || !input.files || !input.files.length || !window.FormData || !window.XMLHttpRequest) return;
      ev.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open('POST', form.action);
      xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
      xhr.setRequestHeader('Accept', 'application/json');
      var meta = document.querySelector('meta[name="csrf-token"]');
      if (meta) xhr.setRequestHeader('X-CSRF-Token', meta.getAttribute('content'));
      bar.hidden = false;
      bar.value = 0;
      button.disabled = true;
      showErrors([]);
      status.textContent = '正在上传…';
      xhr.upload.addEventListener('progress', function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round((e.loaded / e.total) * 100);
          status.textContent = '正在上传… ' + bar.value + '%';
        }
      });
      xhr.upload.addEventListener('load', function () {
        bar.value = 100;
        status.textContent = '上传完成，正在检查文件内容…';
      });
      xhr.addEventListener('load', function () {
        button.disabled = false;
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status === 200 && body && body.redirect) {
          status.textContent = '检查通过，正在打开预览…';
          window.location.assign(body.redirect);
          return;
        }
        bar.hidden = true;
        if (body && body.errors) {
          status.textContent = '文件有 ' + body.errors.length + ' 处错误，未保存任何数据：';
          showErrors(body.issues || []);
        } else if (body && body.error) {
          status.textContent = body.error.message;
        } else {
          status.textContent = '上传失败（' + xhr.status + '），请重试。';
        }
      });
      xhr.addEventListener('error', function () {
        button.disabled = false;
        bar.hidden = true;
        status.textContent = '网络错误，上传未完成，请重试。';
      });
      xhr.send(new FormData(form));
    });
  });
})();
