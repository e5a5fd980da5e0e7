/* Registry of `isola` verbs. Owners add their verbs in their section. */
#include <stddef.h>

#include "cli/verbs.h"

const struct cli_verb cli_verbs[] = {
    {"vm", cli_vm},
    {"runtime", runtime_main},
    /* image verbs */
    {"pull", cli_pull},
    {"push", cli_push},
    {"login", cli_login},
    {"logout", cli_logout},
    {"image", cli_image},
    {"images", cli_images},
    {"rmi", cli_rmi},
    {"tag", cli_tag},
    {"history", cli_history},
    {"save", cli_save},
    {"load", cli_load},
    {"import", cli_import},
    /* container verbs */
    {"create", cli_create},
    {"run", cli_run},
    {"start", cli_start},
    {"stop", cli_stop},
    {"kill", cli_kill},
    {"rm", cli_rm},
    {"wait", cli_wait},
    {"pause", cli_pause},
    {"unpause", cli_unpause},
    {"rename", cli_rename},
    {"port", cli_port},
    {"ps", cli_ps},
    {"logs", cli_logs},
    {"top", cli_top},
    {"stats", cli_stats},
    {"exec", cli_exec},
    {"cp", cli_cp},
    {"commit", cli_commit},
    {"volume", cli_volume},
    {"system", cli_system},
    {"inspect", cli_inspect},
    {"container", cli_container},
    {"container-inspect", cli_inspect_container},
    {"_cleanup", cli_internal_cleanup},
    {"_restart", cli_internal_restart},
    /* health verbs */
    {"healthcheck", cli_healthcheck},
    {"_health", cli_internal_health},
    /* build verbs */
    {"build", cli_build},
    {"builder", cli_builder},
    /* network verbs */
    {"network", cli_network},
    /* compose verbs */
    {"compose", cli_compose},
    /* api verbs */
    {"serve", cli_serve},
    {"events", cli_events},
    /* fn verbs */
    {"fn", cli_fn},
    /* disk verbs */
    {"disk", cli_disk},
    /* kube verbs */
    {"kube", cli_kube},
    {NULL, NULL},
};
