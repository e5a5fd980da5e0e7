// The page's tables and panels, built with DOM calls only (names come from
// the API and are never parsed as HTML).
import type {
  Container,
  Cost,
  DockerImage,
  DockerNetwork,
  DockerVolume,
  Fn,
  SystemInfo,
  Vm,
  Workload,
} from "./api";

export function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1) + " MiB";
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  cls?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

export interface Action {
  label: string;
  run: () => void;
}

function row(cells: (string | HTMLElement)[], testid: string): HTMLTableRowElement {
  const tr = el("tr");
  tr.dataset.testid = testid;
  for (const c of cells) {
    const td = el("td");
    if (typeof c === "string") td.textContent = c;
    else td.append(c);
    tr.append(td);
  }
  return tr;
}

function buttons(actions: Action[]): HTMLElement {
  const span = el("span", undefined, "actions");
  for (const a of actions) {
    const b = el("button", a.label);
    b.dataset.action = a.label.toLowerCase();
    b.addEventListener("click", a.run);
    span.append(b);
  }
  return span;
}

function state(s: string): HTMLElement {
  const e = el("span", s, "state state-" + s);
  e.dataset.state = s;
  return e;
}

// Replaces a table body's rows; an empty list shows one "none" row.
function fill(body: HTMLElement, rows: HTMLTableRowElement[], cols: number, none: string): void {
  if (rows.length === 0) {
    const tr = el("tr");
    const td = el("td", none, "none");
    td.colSpan = cols;
    tr.append(td);
    rows = [tr];
  }
  body.replaceChildren(...rows);
}

export function renderContainers(
  body: HTMLElement,
  list: Container[],
  cpuPct: Map<string, number>,
  act: (c: Container, what: "start" | "stop" | "remove" | "logs") => void,
): void {
  const rows = list.map((c) => {
    const live = c.state === "running" || c.state === "paused";
    const actions: Action[] = live
      ? [{ label: "Stop", run: () => act(c, "stop") }]
      : [
          { label: "Start", run: () => act(c, "start") },
          { label: "Remove", run: () => act(c, "remove") },
        ];
    actions.push({ label: "Logs", run: () => act(c, "logs") });
    const pct = cpuPct.get("container:" + c.id);
    return row(
      [
        c.name,
        c.image,
        state(c.state),
        live && pct !== undefined ? pct.toFixed(1) + " %" : "-",
        live ? mib(c.memory_bytes) : "-",
        live ? String(c.pids) : "-",
        buttons(actions),
      ],
      "container-" + c.name,
    );
  });
  fill(body, rows, 7, "no containers");
}

export function renderVms(
  body: HTMLElement,
  list: Vm[] | string,
  act: (v: Vm, what: "start" | "stop" | "console") => void,
): void {
  if (typeof list === "string") {
    fill(body, [], 5, list);
    return;
  }
  const rows = list.map((v) =>
    row(
      [
        v.name,
        state(v.state),
        v.cpus !== undefined ? String(v.cpus) : "-",
        v.memory_mib !== undefined ? v.memory_mib + " MiB" : "-",
        buttons([
          v.state === "running" || v.state === "paused"
            ? { label: "Stop", run: () => act(v, "stop") }
            : { label: "Start", run: () => act(v, "start") },
          { label: "Console", run: () => act(v, "console") },
        ]),
      ],
      "vm-" + v.name,
    ),
  );
  fill(body, rows, 5, "no VMs");
}

export function renderFunctions(body: HTMLElement, list: Fn[], work: Workload[]): void {
  const live = new Map(work.filter((w) => w.kind === "function").map((w) => [w.name, w]));
  const rows = list.map((f) => {
    const w = live.get(f.name) as (Workload & { instances?: number }) | undefined;
    return row(
      [f.name, f.image, f.mode, f.memory_mib + " MiB", String(w?.instances ?? 0), String(f.max)],
      "function-" + f.name,
    );
  });
  fill(body, rows, 6, "no functions");
}

export function renderHost(box: HTMLElement, info: SystemInfo, cost: Cost, busyPct: number | null): void {
  const items: [string, string][] = [
    ["host", `${info.hostname} (${info.kernel})`],
    ["isola", info.version],
    ["CPU", (busyPct === null ? "-" : busyPct.toFixed(1) + " %") + ` of ${info.ncpu}`],
    ["memory", `${mib(cost.host.memory_used_bytes)} / ${mib(cost.host.memory_total_bytes)}`],
    ["containers", `${info.counts.containers_running} running / ${info.counts.containers}`],
    ["VMs", `${info.counts.vms_running} running / ${info.counts.vms}` + (info.kvm ? "" : " (no KVM)")],
    ["functions", String(info.counts.functions)],
  ];
  box.replaceChildren(
    ...items.map(([k, v]) => {
      const d = el("div", undefined, "tile");
      d.append(el("span", k, "k"), el("span", v, "v"));
      d.dataset.tile = k;
      return d;
    }),
  );
}

// Containers and VMs side by side: what each level of isolation costs here.
export function renderCompare(body: HTMLElement, cost: Cost, cpuPctByKind: Map<string, number>): void {
  const rows = cost.kinds.map((k) => {
    const per = k.running > 0 ? mib(k.memory_bytes / k.running) : "-";
    const pct = cpuPctByKind.get(k.kind);
    return row(
      [
        k.kind,
        `${k.running} / ${k.count}`,
        mib(k.memory_bytes),
        per,
        pct === undefined ? "-" : pct.toFixed(1) + " %",
        k.cpu_seconds.toFixed(1) + " s",
      ],
      "kind-" + k.kind,
    );
  });
  fill(body, rows, 6, "-");
}

export function renderObjects(
  images: HTMLElement,
  networks: HTMLElement,
  volumes: HTMLElement,
  img: DockerImage[],
  net: DockerNetwork[],
  vol: DockerVolume[],
): void {
  fill(
    images,
    img.map((i) =>
      row(
        [(i.RepoTags ?? []).join(", ") || "<none>", i.Id.replace(/^sha256:/, "").slice(0, 12), mib(i.Size ?? 0)],
        "image-" + i.Id,
      ),
    ),
    3,
    "no images",
  );
  fill(
    networks,
    net.map((n) =>
      row(
        [n.Name, n.Driver ?? "", (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? "").join(", ")],
        "network-" + n.Name,
      ),
    ),
    3,
    "no networks",
  );
  fill(volumes, vol.map((v) => row([v.Name, v.Driver ?? ""], "volume-" + v.Name)), 2, "no volumes");
}
