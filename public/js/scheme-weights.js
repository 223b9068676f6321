// The scheme editor's weight total, kept up to date while the weights are typed (the server checks it
// again on preview and save: the total must be the target, 100).
(function () {
  var out = document.getElementById('weight-total');
  if (!out) return;
  var target = Number(out.getAttribute('data-target'));
  var inputs = Array.prototype.slice.call(document.querySelectorAll('input[name$="[weight]"]'));
  function update() {
    var sum = 0;
    var ok = true;
    inputs.forEach(function (i) {
      var v = Number(String(i.value).trim());
      if (String(i.value).trim() === '' || !isFinite(v)) ok = false;
      else sum += v;
    });
    sum = Math.round(sum * 10000) / 10000;
    out.textContent = ok ? String(sum) : '—';
    var good = ok && sum === target;
    out.className = good ? 'ok-text' : 'bad-text';
    var warn = document.querySelector('.weight-total-warning');
    if (warn) warn.hidden = good;
  }
  inputs.forEach(function (i) { i.addEventListener('input', update); });
})();
