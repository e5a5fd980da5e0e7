/* The table of `isola` verbs; each verb group lives in its own file. */
#ifndef ISOLA_CLI_VERBS_H
#define ISOLA_CLI_VERBS_H

struct cli_verb {
        const char *name;
        /* argv[0] is the verb itself */
        int (*run)(int argc, char **argv);
};

extern const struct cli_verb cli_verbs[];

int cli_vm(int argc, char **argv);
int runtime_main(int argc, char **argv);
/* image verbs */
int cli_pull(int argc, char **argv);
int cli_push(int argc, char **argv);
int cli_login(int argc, char **argv);
int cli_logout(int argc, char **argv);
int cli_image(int argc, char **argv);
int cli_images(int argc, char **argv);
int cli_rmi(int argc, char **argv);
int cli_tag(int argc, char **argv);
int cli_history(int argc, char **argv);
int cli_save(int argc, char **argv);
int cli_load(int argc, char **argv);
int cli_import(int argc, char **argv);
/* container verbs */
int cli_create(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_start(int argc, char **argv);
int cli_stop(int argc, char **argv);
int cli_kill(int argc, char **argv);
int cli_rm(int argc, char **argv);
int cli_wait(int argc, char **argv);
int cli_pause(int argc, char **argv);
int cli_unpause(int argc, char **argv);
int cli_rename(int argc, char **argv);
int cli_port(int argc, char **argv);
int cli_ps(int argc, char **argv);
int cli_logs(int argc, char **argv);
int cli_top(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_exec(int argc, char **argv);
int cli_cp(int argc, char **argv);
int cli_commit(int argc, char **argv);
int cli_volume(int argc, char **argv);
int cli_system(int argc, char **argv);
int cli_inspect_container(int argc, char **argv);
int cli_inspect(int argc, char **argv);
int cli_container(int argc, char **argv);
int cli_internal_cleanup(int argc, char **argv);
int cli_internal_restart(int argc, char **argv);
/* health verbs (healthcheck.c) */
int cli_healthcheck(int argc, char **argv);
int cli_internal_health(int argc, char **argv);
/* build verbs */
int cli_build(int argc, char **argv);
int cli_builder(int argc, char **argv);
/* network verbs */
int cli_network(int argc, char **argv);
/* compose verbs */
int cli_compose(int argc, char **argv);
/* api verbs */
int cli_serve(int argc, char **argv);
int cli_events(int argc, char **argv);
/* fn verbs */
int cli_fn(int argc, char **argv);
/* disk verbs */
int cli_disk(int argc, char **argv);
/* kube verbs */
int cli_kube(int argc, char **argv);

#endif
