// Settled operations per minute over the last hour: a hand-drawn SVG bar chart.
import { svg } from './dom';

export function perMinuteChart(points: { minute: string; count: number }[]): SVGElement {
  const width = 720;
  const height = 180;
  const pad = { left: 36, right: 8, top: 12, bottom: 28 };
  const max = Math.max(1, ...points.map((p) => p.count));
  // a round top for the axis: 1, 2, 5, 10, 20, 50, ...
  const decade = 10 ** Math.floor(Math.log10(max));
  const top = [1, 2, 5, 10].map((m) => m * decade).find((t) => t >= max) ?? 10 * decade;
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const n = Math.max(points.length, 1);
  const bar = innerW / n;
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    class: 'chart',
    role: 'img',
    'aria-label': `settled operations per minute, last ${points.length} minutes, at most ${max} in a minute`,
    'data-testid': 'settled-chart',
  });
  // axis and grid
  for (const frac of top % 2 === 0 ? [0, 0.5, 1] : [0, 1]) {
    const y = pad.top + innerH * (1 - frac);
    root.append(svg('line', { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: 'grid' }));
    root.append(svg('text', { x: pad.left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' }, String(Math.round(top * frac))));
  }
  points.forEach((p, i) => {
    const hgt = (p.count / top) * innerH;
    const x = pad.left + i * bar + 1;
    const rect = svg('rect', {
      x,
      y: pad.top + innerH - hgt,
      width: Math.max(bar - 2, 1),
      height: hgt,
      class: 'bar',
      'data-count': p.count,
    });
    const t = new Date(p.minute);
    rect.append(svg('title', {}, `${t.toLocaleTimeString(undefined, { hour12: false, hour: '2-digit', minute: '2-digit' })}: ${p.count}`));
    root.append(rect);
    if (i % 10 === 0 || i === points.length - 1) {
      root.append(
        svg(
          'text',
          { x: x + bar / 2, y: height - 8, 'text-anchor': 'middle', class: 'axis' },
          t.toLocaleTimeString(undefined, { hour12: false, hour: '2-digit', minute: '2-digit' }),
        ),
      );
    }
  });
  return root;
}
