// Training curves of an experiment, drawn with uPlot (bundled from npm).
// The panel nnU-Net users know from progress.png, live and for every fold:
// losses, pseudo Dice with its moving average, learning rate, epoch time.
'use strict';

const NephronCharts = (() => {
  const FOLD_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
  const CLASS_NAMES = ['kidney', 'tumour'];

  function color(fold) {
    return FOLD_COLORS[((fold % FOLD_COLORS.length) + FOLD_COLORS.length) % FOLD_COLORS.length];
  }

  // What each chart plots: one or more series per fold, from a metrics row.
  const PANELS = [
    {
      key: 'loss', title: 'Loss', yLabel: 'loss',
      series: [
        { name: 'train', value: (m) => m.train_loss, width: 2, dash: [] },
        { name: 'val', value: (m) => m.val_loss, width: 2, dash: [6, 4] },
      ],
    },
    {
      key: 'dice', title: 'Pseudo Dice', yLabel: 'Dice', range: [0, 1],
      series: [
        { name: 'EMA', value: (m) => m.ema_dice, width: 2.5, dash: [] },
        { name: CLASS_NAMES[0], value: (m) => (m.dice || [])[0], width: 1, dash: [2, 3] },
        { name: CLASS_NAMES[1], value: (m) => (m.dice || [])[1], width: 1, dash: [8, 3, 2, 3] },
      ],
    },
    {
      key: 'lr', title: 'Learning rate', yLabel: 'lr',
      series: [{ name: 'lr', value: (m) => m.lr, width: 1.5, dash: [] }],
    },
    {
      key: 'seconds', title: 'Epoch time', yLabel: 's',
      series: [{ name: 'epoch s', value: (m) => m.seconds, width: 1.5, dash: [] }],
    },
  ];

  function finite(v) {
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  }

  // rows: /api/experiments/{id}/metrics. Returns per panel {series, data}
  // in uPlot's aligned layout: x = epochs, then one array per series.
  function layout(rows) {
    const folds = [...new Set(rows.map((r) => r.fold))].sort((a, b) => a - b);
    const epochs = [...new Set(rows.map((r) => r.epoch))].sort((a, b) => a - b);
    const epochIndex = new Map(epochs.map((e, i) => [e, i]));
    return PANELS.map((panel) => {
      const series = [];
      const data = [epochs];
      for (const fold of folds) {
        for (const s of panel.series) {
          series.push({
            label: `fold ${fold} ${s.name}`,
            stroke: color(fold),
            width: s.width,
            dash: s.dash,
            spanGaps: true,
            points: { show: epochs.length < 40 },
          });
          data.push(new Array(epochs.length).fill(null));
        }
      }
      const perFold = panel.series.length;
      for (const r of rows) {
        const f = folds.indexOf(r.fold);
        const i = epochIndex.get(r.epoch);
        panel.series.forEach((s, k) => {
          data[1 + f * perFold + k][i] = finite(s.value(r));
        });
      }
      return { panel, series, data, signature: series.map((s) => s.label).join('|') };
    });
  }

  // Tick labels with the precision the range needs (learning rates go to 1e-5).
  function ticks(u, splits) {
    return splits.map((v) => {
      if (v === null || v === undefined) return '';
      if (v !== 0 && Math.abs(v) < 0.01) return v.toExponential(1);
      return String(+v.toPrecision(3));
    });
  }

  function countPoints(data) {
    let n = 0;
    for (let i = 1; i < data.length; i++) for (const v of data[i]) if (v !== null) n++;
    return n;
  }

  // A grid of charts inside `container`; update(rows) redraws them.
  class Panel {
    constructor(container) {
      this.container = container;
      this.charts = new Map(); // key -> {plot, signature, el}
      this.resizeObserver = new ResizeObserver(() => this.resize());
      this.resizeObserver.observe(container);
    }

    size(el) {
      const width = Math.max(240, el.clientWidth - 8);
      return { width, height: Math.round(Math.min(260, Math.max(180, width * 0.55))) };
    }

    update(rows) {
      const layouts = layout(rows);
      for (const l of layouts) {
        let c = this.charts.get(l.panel.key);
        if (!c) {
          const el = document.createElement('div');
          el.className = 'chart';
          el.dataset.chart = l.panel.key;
          this.container.appendChild(el);
          c = { el, plot: null, signature: null };
          this.charts.set(l.panel.key, c);
        }
        c.el.dataset.points = String(countPoints(l.data));
        if (c.plot && c.signature === l.signature) {
          c.plot.setData(l.data);
          continue;
        }
        // New folds or series: build the chart again.
        if (c.plot) c.plot.destroy();
        const { width, height } = this.size(c.el);
        const opts = {
          title: l.panel.title,
          width,
          height,
          scales: { x: { time: false }, y: l.panel.range ? { range: l.panel.range } : {} },
          axes: [
            { label: 'epoch', stroke: '#555', grid: { stroke: '#eee' } },
            { label: l.panel.yLabel, stroke: '#555', grid: { stroke: '#eee' }, size: 60, values: ticks },
          ],
          legend: { live: true },
          cursor: { drag: { x: true, y: false } },
          series: [{ label: 'epoch' }, ...l.series],
        };
        c.plot = new uPlot(opts, l.data, c.el);
        c.signature = l.signature;
      }
    }

    resize() {
      for (const c of this.charts.values()) if (c.plot) c.plot.setSize(this.size(c.el));
    }

    destroy() {
      this.resizeObserver.disconnect();
      for (const c of this.charts.values()) if (c.plot) c.plot.destroy();
      this.charts.clear();
      this.container.textContent = '';
    }
  }

  return { Panel, layout, color };
})();
