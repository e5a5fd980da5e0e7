// The service's API as the dashboard uses it: isola's own /isola/v1 routes
// (docs/api/openapi.yaml) for lists and figures, Docker's routes for
// container actions and logs. On TCP the bearer token comes from the page's
// fragment (#token=...), which the browser never sends to the server.

export interface HostFigures {
  ncpu: number;
  cpu_seconds: number;
  idle_seconds: number;
  memory_total_bytes: number;
  memory_used_bytes: number;
}

export interface Workload {
  kind: "container" | "vm" | "function";
  id: string;
  name: string;
  state: string;
  cpu_seconds: number;
  memory_bytes: number;
}

export interface Summary {
  time: number;
  host: HostFigures;
  workloads: Workload[];
}

export interface KindCost {
  kind: string;
  count: number;
  running: number;
  cpu_seconds: number;
  memory_bytes: number;
  invocations?: number;
}

export interface Cost {
  time: number;
  host: HostFigures;
  kinds: KindCost[];
}

export interface SystemInfo {
  version: string;
  hostname: string;
  kernel: string;
  ncpu: number;
  memory_total_bytes: number;
  kvm: boolean;
  counts: Record<string, number>;
}

export interface Container {
  id: string;
  name: string;
  image: string;
  state: string;
  created: string;
  started?: string;
  cpu_seconds: number;
  memory_bytes: number;
  pids: number;
}

export interface Vm {
  id: string;
  name: string;
  state: string;
  cpus?: number;
  memory_mib?: number;
}

export interface Fn {
  name: string;
  image: string;
  mode: string;
  memory_mib: number;
  max: number;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

function token(): string | null {
  const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem("isola-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("isola-token");
}

async function call(method: string, path: string): Promise<Response> {
  const headers: Record<string, string> = {};
  const t = token();
  if (t) headers["Authorization"] = "Bearer " + t;
  const r = await fetch(path, { method, headers, cache: "no-store" });
  if (!r.ok && r.status !== 304) {
    let msg = r.statusText;
    try {
      msg = ((await r.json()) as { message?: string }).message ?? msg;
    } catch {
      /* not JSON */
    }
    throw new ApiError(r.status, msg);
  }
  return r;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await call("GET", path)).json()) as T;
}

export async function post(path: string): Promise<void> {
  await call("POST", path);
}

export async function del(path: string): Promise<void> {
  await call("DELETE", path);
}

// Docker's log stream: 8-byte frames (stream, 0, 0, 0, size BE32) unless
// the container has a terminal, then raw bytes.
export function demux(buf: Uint8Array): string {
  const dec = new TextDecoder();
  const framed = buf.length >= 8 && buf[0] <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
  if (!framed) return dec.decode(buf);
  let out = "";
  let i = 0;
  while (i + 8 <= buf.length) {
    const n = ((buf[i + 4] << 24) | (buf[i + 5] << 16) | (buf[i + 6] << 8) | buf[i + 7]) >>> 0;
    out += dec.decode(buf.subarray(i + 8, i + 8 + n), { stream: true });
    i += 8 + n;
  }
  return out + dec.decode();
}

export async function containerLogs(id: string, tail: number): Promise<string> {
  const r = await call(
    "GET",
    `/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1&tail=${tail}`,
  );
  return demux(new Uint8Array(await r.arrayBuffer()));
}

export async function vmConsole(name: string): Promise<string> {
  const r = await call("GET", `/isola/v1/vms/${encodeURIComponent(name)}/console`);
  return r.text();
}

// Docker-shaped lists (GET /images/json, /networks, /volumes)
export interface DockerImage {
  Id: string;
  RepoTags?: string[] | null;
  Size?: number;
}
export interface DockerNetwork {
  Name: string;
  Driver?: string;
  IPAM?: { Config?: { Subnet?: string }[] | null };
}
export interface DockerVolume {
  Name: string;
  Driver?: string;
}
