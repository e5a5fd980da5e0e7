// Live CPU and memory charts (uPlot), one series per workload, from the
// summaries the page polls. History is kept here, a few minutes of it.
import uPlot from "uplot";
import type { Summary } from "./api";

const HISTORY = 150; // samples (5 minutes at the default 2 s)
const COLORS = ["#2a7ae2", "#e2622a", "#2aa876", "#a62ae2", "#e2b42a", "#555", "#d22a6e", "#2ab5c8"];

interface Track {
  label: string;
  cpu: (number | null)[];
  mem: (number | null)[];
}

export class Charts {
  private times: number[] = [];
  private tracks = new Map<string, Track>();
  private last: Summary | null = null;
  private cpuPlot: uPlot | null = null;
  private memPlot: uPlot | null = null;
  private keys = "";

  constructor(
    private cpuEl: HTMLElement,
    private memEl: HTMLElement,
  ) {}

  // Adds one sample: CPU % from the difference to the previous one.
  add(s: Summary): void {
    const prev = this.last;
    this.last = s;
    if (!prev || s.time <= prev.time) return;
    const dt = s.time - prev.time;
    const before = new Map(prev.workloads.map((w) => [w.kind + ":" + w.id, w.cpu_seconds]));
    this.times.push(s.time);
    const seen = new Set<string>();
    for (const w of s.workloads) {
      const key = w.kind + ":" + w.id;
      seen.add(key);
      let t = this.tracks.get(key);
      if (!t) {
        t = { label: `${w.kind} ${w.name}`, cpu: this.times.slice(1).map(() => null), mem: [] };
        t.mem = t.cpu.slice();
        this.tracks.set(key, t);
      }
      const p = before.get(key);
      t.cpu.push(p === undefined ? null : Math.max(0, ((w.cpu_seconds - p) / dt) * 100));
      t.mem.push(w.memory_bytes / 1048576);
    }
    for (const [key, t] of this.tracks) {
      if (!seen.has(key)) {
        t.cpu.push(null);
        t.mem.push(null);
      }
    }
    if (this.times.length > HISTORY) {
      this.times.shift();
      for (const t of this.tracks.values()) {
        t.cpu.shift();
        t.mem.shift();
      }
    }
    // a workload gone for the whole window leaves the chart
    for (const [key, t] of this.tracks)
      if (t.cpu.every((v) => v === null) && !seen.has(key)) this.tracks.delete(key);
    this.draw();
  }

  get points(): number {
    return this.times.length;
  }

  private opts(title: string, unit: string, el: HTMLElement): uPlot.Options {
    const series: uPlot.Series[] = [{}];
    let i = 0;
    for (const t of this.tracks.values())
      series.push({
        label: t.label,
        stroke: COLORS[i++ % COLORS.length],
        width: 2,
        spanGaps: false,
        value: (_u, v) => (v == null ? "-" : v.toFixed(1) + " " + unit),
      });
    return {
      title,
      width: Math.max(300, el.clientWidth - 10),
      height: 220,
      series,
      axes: [{}, { label: unit, size: 60 }],
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    };
  }

  private draw(): void {
    const keys = [...this.tracks.keys()].join("|");
    const cpu: uPlot.AlignedData = [this.times, ...[...this.tracks.values()].map((t) => t.cpu)];
    const mem: uPlot.AlignedData = [this.times, ...[...this.tracks.values()].map((t) => t.mem)];
    if (keys !== this.keys || !this.cpuPlot || !this.memPlot) {
      // the set of series changed: uPlot takes its series at creation
      this.cpuPlot?.destroy();
      this.memPlot?.destroy();
      this.keys = keys;
      this.cpuPlot = new uPlot(this.opts("CPU per workload", "%", this.cpuEl), cpu, this.cpuEl);
      this.memPlot = new uPlot(this.opts("Memory per workload", "MiB", this.memEl), mem, this.memEl);
    } else {
      this.cpuPlot.setData(cpu);
      this.memPlot.setData(mem);
    }
    this.cpuEl.dataset.points = String(this.times.length);
    this.memEl.dataset.points = String(this.times.length);
    this.cpuEl.dataset.series = String(this.tracks.size);
  }
}
