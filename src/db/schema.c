/* The database schema, one section per component. Each statement must be
 * idempotent (CREATE ... IF NOT EXISTS): db_open runs them all on every open.
 * A column added to an existing table goes in db_schema_upgrades below. */
#include "db/schema.h"

#include <stddef.h>

const char *const db_schema[] = {
        /* image: images by config digest, names (repo:tag) pointing at them,
         * their layers in order, and unpacked layers by diff id. */
        "CREATE TABLE IF NOT EXISTS images ("
        " id TEXT PRIMARY KEY,"              /* sha256:<config digest hex> */
        " manifest_digest TEXT NOT NULL,"    /* the manifest the image came from */
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
        " restart_count INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE IF NOT EXISTS volumes ("
        " name TEXT PRIMARY KEY,"
        " created INTEGER NOT NULL,"
        " labels TEXT NOT NULL DEFAULT '{}')",
        "CREATE TABLE IF NOT EXISTS container_volumes ("
        " container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,"
        " volume TEXT NOT NULL REFERENCES volumes(name),"
        " PRIMARY KEY (container_id, volume))",
        /* net: networks, per-container attachments and address leases */
        NULL,
};

/* Columns added after a table first shipped: ALTER TABLE statements whose
 * "duplicate column" failure is ignored. */
const char *const db_schema_upgrades[] = {
        NULL,
};
