// isola dashboard: polls the service, draws the lists and charts, runs the
// start/stop buttons and the log view. Served by `isola serve` at / from
// the binary itself (web/build.py); it loads nothing from elsewhere.
import * as api from "./api";
import { Charts } from "./charts";
import * as views from "./views";

const $ = (id: string): HTMLElement => {
  const e = document.getElementById(id);
  if (!e) throw new Error("missing #" + id);
  return e;
};

const params = new URLSearchParams(location.search);
const interval = Math.max(250, Number(params.get("interval")) || 2000);
const charts = new Charts($("cpu-chart"), $("mem-chart"));
let prevSummary: api.Summary | null = null;
let prevCost: api.Cost | null = null;
// what the log panel shows: a container's log or a VM's console
let logOf: { kind: "container" | "vm"; ref: string } | null = null;
let busy = false;
let tick = 0;

// Images, networks and volumes change rarely: every fifth poll.
async function refreshObjects(): Promise<void> {
  try {
    const [img, net, vol] = await Promise.all([
      api.getJson<api.DockerImage[]>("/images/json"),
      api.getJson<api.DockerNetwork[]>("/networks"),
      api.getJson<{ Volumes: api.DockerVolume[] | null }>("/volumes"),
    ]);
    views.renderObjects($("images"), $("networks"), $("volumes"), img, net, vol.Volumes ?? []);
  } catch (e) {
    status("images/networks/volumes: " + (e as Error).message, true);
  }
}

function status(msg: string, bad = false): void {
  const s = $("status");
  s.textContent = msg;
  s.className = bad ? "bad" : "";
}

function cpuPct(s: api.Summary, prev: api.Summary | null): Map<string, number> {
  const m = new Map<string, number>();
  if (!prev || s.time <= prev.time) return m;
  const before = new Map(prev.workloads.map((w) => [w.kind + ":" + w.id, w.cpu_seconds]));
  for (const w of s.workloads) {
    const p = before.get(w.kind + ":" + w.id);
    if (p !== undefined) m.set(w.kind + ":" + w.id, Math.max(0, ((w.cpu_seconds - p) / (s.time - prev.time)) * 100));
  }
  return m;
}

async function act(label: string, fn: () => Promise<void>): Promise<void> {
  status(label + " ...");
  try {
    await fn();
    status(label + ": done");
  } catch (e) {
    status(label + ": " + (e as Error).message, true);
  }
  void refresh();
}

function openLog(kind: "container" | "vm", ref: string, title: string): void {
  logOf = { kind, ref };
  $("log-title").textContent = title;
  $("log-panel").hidden = false;
  void showLogs();
}

async function showLogs(): Promise<void> {
  if (!logOf) return;
  try {
    const text =
      logOf.kind === "container" ? await api.containerLogs(logOf.ref, 200) : await api.vmConsole(logOf.ref);
    const pre = $("log");
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    if (pre.textContent !== text) {
      pre.textContent = text;
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }
  } catch (e) {
    $("log").textContent = "(" + (e as Error).message + ")";
  }
}

async function refresh(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    const [info, cost, summary, ctrs, fns] = await Promise.all([
      api.getJson<api.SystemInfo>("/isola/v1/system"),
      api.getJson<api.Cost>("/isola/v1/system/cost"),
      api.getJson<api.Summary>("/isola/v1/metrics/summary"),
      api.getJson<api.Container[]>("/isola/v1/containers"),
      api.getJson<api.Fn[]>("/isola/v1/functions"),
    ]);
    let vms: api.Vm[] | string;
    try {
      vms = await api.getJson<api.Vm[]>("/isola/v1/vms");
    } catch (e) {
      vms = e instanceof api.ApiError && e.status === 501 ? "VMs: not in this build" : (e as Error).message;
    }
    const pct = cpuPct(summary, prevSummary);
    let hostPct: number | null = null;
    const byKind = new Map<string, number>();
    if (prevCost && cost.time > prevCost.time) {
      const dt = cost.time - prevCost.time;
      const busyS = cost.host.cpu_seconds - prevCost.host.cpu_seconds;
      const idleS = cost.host.idle_seconds - prevCost.host.idle_seconds;
      hostPct = busyS + idleS > 0 ? (busyS / (busyS + idleS)) * 100 : 0;
      for (const k of cost.kinds) {
        const p = prevCost.kinds.find((x) => x.kind === k.kind);
        if (p) byKind.set(k.kind, Math.max(0, ((k.cpu_seconds - p.cpu_seconds) / dt) * 100));
      }
    }
    prevSummary = summary;
    prevCost = cost;
    views.renderHost($("host"), info, cost, hostPct);
    views.renderContainers($("containers"), ctrs, pct, (c, what) => {
      const id = encodeURIComponent(c.id);
      if (what === "logs") openLog("container", c.id, "Logs: " + c.name);
      else if (what === "stop") void act("stop " + c.name, () => api.post(`/containers/${id}/stop?t=5`));
      else if (what === "start") void act("start " + c.name, () => api.post(`/containers/${id}/start`));
      else void act("remove " + c.name, () => api.del(`/containers/${id}?force=1`));
    });
    views.renderVms($("vms"), vms, (v, what) => {
      if (what === "console") openLog("vm", v.name, "Console: " + v.name);
      else void act(`${what} VM ${v.name}`, () => api.post(`/isola/v1/vms/${encodeURIComponent(v.name)}/${what}`));
    });
    views.renderFunctions($("functions"), fns, summary.workloads);
    views.renderCompare($("compare"), cost, byKind);
    if (tick++ % 5 === 0) await refreshObjects();
    charts.add(summary);
    await showLogs();
    document.body.dataset.ready = "1";
    if (!$("status").className) $("status").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    status((e as Error).message, true);
  } finally {
    busy = false;
  }
}

$("log-close").addEventListener("click", () => {
  logOf = null;
  $("log-panel").hidden = true;
});
void refresh();
setInterval(() => void refresh(), interval);
