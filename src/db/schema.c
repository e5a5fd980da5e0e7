/* The database schema, one section per component. Each statement must be
 * idempotent (CREATE ... IF NOT EXISTS): db_open runs them all on every open.
 * A column added to an existing table goes in db_schema_upgrades below. */
#include "db/schema.h"

#include <stddef.h>

const char *const db_schema[] = {
    /* image: images by config digest, names (repo:tag) pointing at them,
     * their layers in order, and unpacked layers by diff id. */
    "CREATE TABLE IF NOT EXISTS images ("
    " id TEXT PRIMARY KEY,"           /* sha256:<config digest hex> */
    " manifest_digest TEXT NOT NULL," /* the manifest the image came from */
    " manifest_media_type TEXT NOT NULL,"
    " created INTEGER NOT NULL,"         /* unix seconds, from the config */
    " added INTEGER NOT NULL,"           /* unix seconds, when stored */
    " size INTEGER NOT NULL DEFAULT 0)", /* sum of unpacked layer sizes */
    "CREATE TABLE IF NOT EXISTS image_names ("
    " name TEXT PRIMARY KEY," /* normalised: registry/repo:tag */
    " image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE)",
    "CREATE TABLE IF NOT EXISTS image_layers ("
    " image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
    " idx INTEGER NOT NULL,"      /* 0 = bottom layer */
    " diff_id TEXT NOT NULL,"     /* sha256 of the uncompressed tar */
    " blob_digest TEXT NOT NULL," /* sha256 of the blob as stored */
    " media_type TEXT NOT NULL,"
    " blob_size INTEGER NOT NULL,"
    " PRIMARY KEY (image_id, idx))",
    "CREATE TABLE IF NOT EXISTS layers ("
    " diff_id TEXT PRIMARY KEY," /* directory layers/<hex> is complete */
    " size INTEGER NOT NULL,"    /* bytes unpacked */
    " added INTEGER NOT NULL)",
    /* engine: containers and volumes */
    "CREATE TABLE IF NOT EXISTS containers ("
    " id TEXT PRIMARY KEY," /* 64 hex */
    " name TEXT NOT NULL UNIQUE,"
    " image_id TEXT REFERENCES images(id)," /* NULL for rootfs containers */
    " image_name TEXT NOT NULL DEFAULT '',"
    " config TEXT NOT NULL," /* JSON: what create was asked for */
    " state TEXT NOT NULL,"  /* created|running|paused|exited|removing */
    " pid INTEGER NOT NULL DEFAULT 0,"
    " monitor_pid INTEGER NOT NULL DEFAULT 0,"
    " exit_code INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL,"
    " started INTEGER NOT NULL DEFAULT 0,"
    " finished INTEGER NOT NULL DEFAULT 0,"
    " restart_count INTEGER NOT NULL DEFAULT 0,"
    " monitor_start INTEGER NOT NULL DEFAULT 0)", /* /proc stat starttime: pid reuse */
    "CREATE TABLE IF NOT EXISTS volumes ("
    " name TEXT PRIMARY KEY,"
    " created INTEGER NOT NULL,"
    " labels TEXT NOT NULL DEFAULT '{}',"
    " anonymous INTEGER NOT NULL DEFAULT 0)", /* made for one container (-v DST) */
    "CREATE TABLE IF NOT EXISTS container_volumes ("
    " container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,"
    " volume TEXT NOT NULL REFERENCES volumes(name),"
    " PRIMARY KEY (container_id, volume))",
    /* net: networks, per-container attachments and address leases */
    "CREATE TABLE IF NOT EXISTS networks ("
    " name TEXT PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE," /* 64 hex */
    " driver TEXT NOT NULL DEFAULT 'bridge',"
    " bridge TEXT NOT NULL UNIQUE," /* isola0 is the default network's */
    " subnet TEXT NOT NULL,"        /* IPv4 CIDR */
    " gateway TEXT NOT NULL,"
    " subnet6 TEXT NOT NULL DEFAULT ''," /* IPv6 CIDR or '' */
    " gateway6 TEXT NOT NULL DEFAULT '',"
    " internal INTEGER NOT NULL DEFAULT 0,"
    " dns INTEGER NOT NULL DEFAULT 1,"
    " mtu INTEGER NOT NULL DEFAULT 1500,"
    " last_off INTEGER NOT NULL DEFAULT 0," /* IPAM cursor: offset last handed out */
    " last_off6 INTEGER NOT NULL DEFAULT 0,"
    " up INTEGER NOT NULL DEFAULT 0," /* bridge, rules and responder exist */
    " created INTEGER NOT NULL,"
    " labels TEXT NOT NULL DEFAULT '{}',"
    " anonymous INTEGER NOT NULL DEFAULT 0)", /* made for one container (-v DST) */
    "CREATE TABLE IF NOT EXISTS net_attachments ("
    " container_id TEXT NOT NULL,"
    " network TEXT NOT NULL REFERENCES networks(name),"
    " name TEXT NOT NULL,"               /* container name (DNS) */
    " ifname TEXT NOT NULL,"             /* eth0.. inside the container */
    " host_ifname TEXT NOT NULL UNIQUE," /* the veth end on the bridge */
    " mac TEXT NOT NULL,"
    " ip TEXT NOT NULL DEFAULT ''," /* address/prefix */
    " ip6 TEXT NOT NULL DEFAULT '',"
    " created INTEGER NOT NULL,"
    " PRIMARY KEY (container_id, network))",
    "CREATE TABLE IF NOT EXISTS net_leases ("
    " network TEXT NOT NULL REFERENCES networks(name),"
    " ip TEXT NOT NULL," /* bare address: one holder at a time */
    " container_id TEXT NOT NULL,"
    " PRIMARY KEY (network, ip))",
    "CREATE TABLE IF NOT EXISTS net_dns_names ("
    " network TEXT NOT NULL,"
    " name TEXT NOT NULL COLLATE NOCASE," /* container name or alias */
    " container_id TEXT NOT NULL,"
    " PRIMARY KEY (network, name, container_id))",
    "CREATE TABLE IF NOT EXISTS net_ports ("
    " container_id TEXT NOT NULL,"
    " network TEXT NOT NULL,"
    " proto TEXT NOT NULL,"              /* tcp|udp */
    " host_ip TEXT NOT NULL DEFAULT ''," /* '' = every host address */
    " host_port INTEGER NOT NULL,"
    " ctr_ip TEXT NOT NULL,"
    " ctr_port INTEGER NOT NULL,"
    " PRIMARY KEY (proto, host_ip, host_port))",
    /* build: the layer cache of `isola build`, one row per built step,
     * keyed by the step's cache key (parent step, instruction, visible
     * build args, copied content). diff_id/blob_digest ('' for steps
     * without a layer) keep their layer alive for img_prune until
     * `isola builder prune` deletes the rows. */
    "CREATE TABLE IF NOT EXISTS build_cache ("
    " key TEXT PRIMARY KEY," /* 64 hex */
    " parent TEXT NOT NULL," /* key of the step before, '' at FROM */
    " diff_id TEXT NOT NULL DEFAULT '',"
    " blob_digest TEXT NOT NULL DEFAULT '',"
    " media_type TEXT NOT NULL DEFAULT '',"
    " blob_size INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL," /* unix seconds the step was built */
    " last_used INTEGER NOT NULL)",
    /* compose: which containers a compose project made (the row goes
     * with the container), the service's config hash that makes `up`
     * idempotent, and the health its healthcheck last measured. */
    "CREATE TABLE IF NOT EXISTS compose_containers ("
    " container_id TEXT PRIMARY KEY REFERENCES containers(id) ON DELETE CASCADE,"
    " project TEXT NOT NULL,"
    " service TEXT NOT NULL,"
    " number INTEGER NOT NULL,"               /* replica, from 1 */
    " config_hash TEXT NOT NULL,"             /* sha256 hex of the service's canonical form */
    " health TEXT NOT NULL DEFAULT '',"       /* ''|starting|healthy|unhealthy */
    " failures INTEGER NOT NULL DEFAULT 0,"   /* consecutive failed checks */
    " last_check INTEGER NOT NULL DEFAULT 0," /* unix ms */
    " last_output TEXT NOT NULL DEFAULT '',"
    " UNIQUE (project, service, number))",
    "CREATE INDEX IF NOT EXISTS compose_containers_project ON compose_containers(project)",
    /* health: the engine's healthchecks (src/engine/health*.c). One row
     * per container with its status for the start it belongs to (a row of
     * an earlier start reads as 'starting'), and its last results. */
    "CREATE TABLE IF NOT EXISTS container_health ("
    " container_id TEXT PRIMARY KEY REFERENCES containers(id) ON DELETE CASCADE,"
    " started INTEGER NOT NULL," /* containers.started it was measured in */
    " status TEXT NOT NULL,"     /* starting|healthy|unhealthy */
    " failing_streak INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS container_health_log ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,"
    " start INTEGER NOT NULL," /* unix ns */
    " end INTEGER NOT NULL,"
    " exit_code INTEGER NOT NULL,"
    " output TEXT NOT NULL DEFAULT '')", /* at most 4 KiB */
    "CREATE INDEX IF NOT EXISTS container_health_log_ctr ON container_health_log(container_id, id)",
    /* fn: deployed functions (settings as JSON, see fn/fn.h) and one row
     * per metered invocation, kept until the function is removed. */
    "CREATE TABLE IF NOT EXISTS functions ("
    " name TEXT PRIMARY KEY,"
    " image TEXT NOT NULL,"
    " image_id TEXT NOT NULL,"
    " config TEXT NOT NULL," /* JSON: mode, port, limits, env, args */
    " created INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS fn_invocations ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " function TEXT NOT NULL,"
    " start_ms INTEGER NOT NULL," /* unix ms */
    " wall_us INTEGER NOT NULL,"
    " billed_ms INTEGER NOT NULL,"  /* ceil(wall, 1 ms) */
    " memory_mib INTEGER NOT NULL," /* configured */
    " cpu_us INTEGER NOT NULL,"     /* from the instance's cgroup */
    " peak_bytes INTEGER NOT NULL,"
    " status INTEGER NOT NULL,"
    " cold INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS fn_invocations_fn ON fn_invocations(function, start_ms)",
    /* vm: managed VMs (vmm/mgr.h). config is the machine JSON `vm run
     * --config` reads; a running VM has a monitor (pid + /proc start time
     * against pid reuse) and a VMM process. */
    "CREATE TABLE IF NOT EXISTS vms ("
    " id TEXT PRIMARY KEY," /* 64 hex */
    " name TEXT NOT NULL UNIQUE,"
    " config TEXT NOT NULL,"
    " state TEXT NOT NULL," /* created|running|stopped */
    " vmm_pid INTEGER NOT NULL DEFAULT 0,"
    " monitor_pid INTEGER NOT NULL DEFAULT 0,"
    " monitor_start INTEGER NOT NULL DEFAULT 0,"
    " exit_code INTEGER NOT NULL DEFAULT 0,"
    " exit_reason TEXT NOT NULL DEFAULT ''," /* poweroff|reset|...|stopped|killed */
    " created INTEGER NOT NULL,"             /* unix seconds */
    " started INTEGER NOT NULL DEFAULT 0,"
    " finished INTEGER NOT NULL DEFAULT 0)",
    /* api (events): what happened to containers, images, networks and
     * volumes, for `isola events` and Docker's /events. Ids only grow
     * (AUTOINCREMENT), so a live reader can ask for "id > last seen";
     * eng_event_emit keeps the newest ENG_EVENTS_KEEP rows. */
    "CREATE TABLE IF NOT EXISTS events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " time_ns INTEGER NOT NULL,"          /* unix ns */
    " type TEXT NOT NULL,"                /* container|image|network|volume */
    " action TEXT NOT NULL,"              /* create, start, die, pull, connect, ... */
    " actor TEXT NOT NULL,"               /* container/network id, image or volume name */
    " attrs TEXT NOT NULL DEFAULT '{}')", /* JSON object of strings */
    "CREATE INDEX IF NOT EXISTS events_time ON events(time_ns)",
    /* api: Docker labels of containers made through the API (compose
     * finds its containers by them); the row goes with the container. */
    "CREATE TABLE IF NOT EXISTS api_ctr_labels ("
    " container_id TEXT PRIMARY KEY REFERENCES containers(id) ON DELETE CASCADE,"
    " labels TEXT NOT NULL DEFAULT '{}')", /* JSON object of strings */
    /* api3: Docker labels of volumes and networks made through the API
     * (kind 'volume' | 'network', by name; replaced on create) */
    "CREATE TABLE IF NOT EXISTS api_obj_labels ("
    " kind TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " labels TEXT NOT NULL DEFAULT '{}',"
    " PRIMARY KEY (kind, name))",
    NULL,
};

/* Columns added after a table first shipped: ALTER TABLE statements whose
 * "duplicate column" failure is ignored. */
const char *const db_schema_upgrades[] = {
    /* engine: databases made before these columns */
    "ALTER TABLE containers ADD COLUMN monitor_start INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE volumes ADD COLUMN anonymous INTEGER NOT NULL DEFAULT 0",
    NULL,
};
