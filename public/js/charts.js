// Draws every <canvas data-chart="…"> with Chart.js (served from /vendor). The chart's data is also
// in the table next to it (details.chart-data), which stays the only view without JavaScript.
(function () {
  'use strict';
  if (typeof window.Chart !== 'function') return;
  var Chart = window.Chart;
  Chart.defaults.font.family = '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", system-ui, sans-serif';
  Chart.defaults.font.size = window.matchMedia('(min-width: 1600px)').matches ? 15 : 13;
  Chart.defaults.color = '#1c2430';
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  function pct(v) {
    return v === null || v === undefined ? '—' : (Math.round(v * 1000) / 10).toFixed(1) + '%';
  }

  function build(spec) {
    var datasets = spec.datasets.map(function (d) {
      var line = (d.type || spec.type) === 'line';
      return {
        type: d.type || spec.type,
        label: d.label,
        data: d.data,
        borderColor: d.color,
        backgroundColor: line ? d.color : d.color + (spec.stacked ? '' : 'cc'),
        borderWidth: line ? 3 : 0,
        pointRadius: line ? 4 : 0,
        pointHoverRadius: 6,
        tension: 0.2,
        spanGaps: true,
        yAxisID: d.axis === 'y2' ? 'y2' : spec.horizontal ? undefined : 'y',
        xAxisID: spec.horizontal ? 'x' : undefined,
        order: line ? 0 : 1
      };
    });
    var valueAxis = {
      stacked: !!spec.stacked,
      beginAtZero: true,
      min: spec.min,
      max: spec.max,
      title: spec.yTitle ? { display: true, text: spec.yTitle } : undefined,
      ticks: spec.percent ? { callback: function (v) { return Math.round(v * 100) + '%'; } } : { precision: 0 }
    };
    var catAxis = { stacked: !!spec.stacked, grid: { display: false } };
    var scales = spec.horizontal ? { x: valueAxis, y: catAxis } : { x: catAxis, y: valueAxis };
    if (spec.datasets.some(function (d) { return d.axis === 'y2'; })) {
      scales.y2 = { position: 'right', beginAtZero: false, suggestedMin: 50, suggestedMax: 100, grid: { drawOnChartArea: false }, title: spec.y2Title ? { display: true, text: spec.y2Title } : undefined };
    }
    return {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: spec.horizontal ? 'y' : 'x',
        responsive: true,
        interaction: { mode: 'index', intersect: false },
        scales: scales,
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 14 } },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var v = ctx.raw;
                return ctx.dataset.label + '：' + (spec.percent && ctx.dataset.yAxisID !== 'y2' ? pct(v) : v === null ? '—' : v);
              }
            }
          }
        }
      }
    };
  }

  var canvases = document.querySelectorAll('canvas[data-chart]');
  Array.prototype.forEach.call(canvases, function (canvas) {
    var spec;
    try {
      spec = JSON.parse(canvas.getAttribute('data-chart'));
    } catch (e) {
      return;
    }
    var box = canvas.closest('.chart-box');
    if (box) box.hidden = false;
    var panel = box && box.parentElement;
    var details = panel && panel.querySelector('details.chart-data');
    if (details) details.open = false;
    new Chart(canvas, build(spec));
  });

  // Printing: charts redraw at paper size.
  window.addEventListener('beforeprint', function () {
    Object.values(Chart.instances || {}).forEach(function (c) { c.resize(); });
  });
})();
