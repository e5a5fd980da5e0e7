/* Config-only instructions: each edits the image config of the stage
 * (Docker's field names: Env, Labels, ExposedPorts, Volumes, User,
 * WorkingDir, Cmd, Entrypoint, Shell, StopSignal, Healthcheck, OnBuild)
 * and returns its text after expansion, which the cache key and the
 * history entry use. Arguments are expanded where Docker expands them;
 * CMD/ENTRYPOINT/SHELL text is left to the shell. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build_internal.h"
#include "build/strbuf.h"
#include "util/cleanup.h"

static json_object *strv_json(char *const *v, size_t n)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < n; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static json_object *member(struct bld_state *st, const char *key, json_type type)
{
        json_object *c = bld_cfg_config(st), *v = NULL;
        if (!json_object_object_get_ex(c, key, &v) || !json_object_is_type(v, type)) {
                v = type == json_type_array ? json_object_new_array() : json_object_new_object();
                json_object_object_add(c, key, v);
        }
        return v;
}

static int set_env(struct bld_state *st, const char *k, const char *v, struct isola_err *err)
{
        json_object *env = member(st, "Env", json_type_array);
        _cleanup_free_ char *kv = NULL;
        if (asprintf(&kv, "%s=%s", k, v) < 0)
                return err_set(err, ENOMEM, "out of memory");
        size_t klen = strlen(k);
        for (size_t i = 0; i < json_object_array_length(env); i++) {
                const char *e = json_object_get_string(json_object_array_get_idx(env, i));
                if (e && !strncmp(e, k, klen) && e[klen] == '=') {
                        json_object_array_put_idx(env, i, json_object_new_string(kv));
                        return 0;
                }
        }
        json_object_array_add(env, json_object_new_string(kv));
        return 0;
}

/* Go's time.ParseDuration for HEALTHCHECK flags, in nanoseconds. */
static int parse_duration(const char *s, int64_t *out)
{
        static const struct {
                const char *unit;
                double ns;
        } units[] = {{"ns", 1},  {"us", 1e3}, {"µs", 1e3},  {"ms", 1e6},
                     {"s", 1e9}, {"m", 6e10}, {"h", 3.6e12}};
        double total = 0;
        if (!*s)
                return -1;
        while (*s) {
                char *end;
                double v = strtod(s, &end);
                if (end == s || v < 0)
                        return -1;
                s = end;
                size_t best = 0, blen = 0;
                for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
                        size_t l = strlen(units[i].unit);
                        if (!strncmp(s, units[i].unit, l) && l > blen) {
                                best = i;
                                blen = l;
                        }
                }
                if (!blen)
                        return -1;
                total += v * units[best].ns;
                s += blen;
        }
        if (total > 9.2e18)
                return -1;
        *out = (int64_t)total;
        return 0;
}

static int healthcheck(struct bld_state *st, const struct bld_instr *in, struct isola_err *err)
{
        json_object *hc = json_object_new_object();
        json_object *test = json_object_new_array();
        if (in->healthcheck_none) {
                json_object_array_add(test, json_object_new_string("NONE"));
        } else if (in->exec_form) {
                json_object_array_add(test, json_object_new_string("CMD"));
                for (size_t i = 0; i < in->argc; i++)
                        json_object_array_add(test, json_object_new_string(in->argv[i]));
        } else {
                json_object_array_add(test, json_object_new_string("CMD-SHELL"));
                json_object_array_add(test, json_object_new_string(in->rest));
        }
        json_object_object_add(hc, "Test", test);
        static const char *const durations[][2] = {{"interval", "Interval"},
                                                   {"timeout", "Timeout"},
                                                   {"start-period", "StartPeriod"},
                                                   {"start-interval", "StartInterval"}};
        for (size_t i = 0; i < ARRAY_SIZE(durations); i++) {
                const char *v = bld_instr_flag(in, durations[i][0], NULL);
                int64_t ns;
                if (!v)
                        continue;
                if (parse_duration(v, &ns) < 0) {
                        json_object_put(hc);
                        return err_set(err, EINVAL, "--%s=%s: not a duration", durations[i][0], v);
                }
                json_object_object_add(hc, durations[i][1], json_object_new_int64(ns));
        }
        const char *r = bld_instr_flag(in, "retries", NULL);
        if (r) {
                char *end;
                long n = strtol(r, &end, 10);
                if (*end || n < 0 || n > 1000000) {
                        json_object_put(hc);
                        return err_set(err, EINVAL, "--retries=%s: not a count", r);
                }
                json_object_object_add(hc, "Retries", json_object_new_int((int)n));
        }
        json_object_object_add(bld_cfg_config(st), "Healthcheck", hc);
        return 0;
}

/* CMD / ENTRYPOINT: exec form verbatim, shell form wrapped in SHELL. */
static int command(struct bld_state *st, const struct bld_instr *in, const char *key,
                   struct isola_err *err)
{
        json_object *v;
        if (in->exec_form) {
                v = strv_json(in->argv, in->argc);
        } else {
                char **sh = NULL;
                if (bld_state_shell(st, &sh, err) < 0)
                        return -1;
                v = json_object_new_array();
                for (size_t i = 0; sh[i]; i++)
                        json_object_array_add(v, json_object_new_string(sh[i]));
                json_object_array_add(v, json_object_new_string(in->rest));
                bld_strv_free(sh);
        }
        json_object *c = bld_cfg_config(st);
        json_object_object_add(c, key, v);
        if (!strcmp(key, "Cmd"))
                st->cmd_set = true;
        else if (!st->cmd_set) /* as Docker: a new ENTRYPOINT drops the base image's CMD */
                json_object_object_add(c, "Cmd", NULL);
        return 0;
}

static int add_port(struct bld_state *st, const char *p, struct isola_err *err)
{
        char port[64];
        const char *slash = strchr(p, '/');
        size_t nlen = slash ? (size_t)(slash - p) : strlen(p);
        const char *proto = slash ? slash + 1 : "tcp";
        bool ok = nlen > 0 && nlen < 12;
        for (size_t i = 0; i < nlen && ok; i++)
                ok = isdigit((unsigned char)p[i]) || (p[i] == '-' && i > 0);
        if (!ok || (strcasecmp(proto, "tcp") != 0 && strcasecmp(proto, "udp") != 0 &&
                    strcasecmp(proto, "sctp") != 0))
                return err_set(err, EINVAL, "invalid port '%s'", p);
        snprintf(port, sizeof(port), "%.*s/%s", (int)nlen, p, proto);
        for (char *c = port; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        json_object_object_add(member(st, "ExposedPorts", json_type_object), port,
                               json_object_new_object());
        return 0;
}

/* Words of the shell form, or the exec form's strings, expanded. */
static int arg_words(struct bld_ctx *c, const struct bld_instr *in, const struct bld_vars *vars,
                     char ***out, size_t *n, struct isola_err *err)
{
        if (!in->exec_form)
                return bld_expand_words(in->rest, vars, c->file.escape, out, n, err);
        char **v = calloc(in->argc + 1, sizeof(*v));
        if (!v)
                return err_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < in->argc; i++) {
                if (bld_expand_word(in->argv[i], vars, '\0', &v[i], err) < 0) {
                        bld_strv_free(v);
                        return -1;
                }
        }
        *out = v;
        *n = in->argc;
        return 0;
}

static int arg_instr(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                     const struct bld_vars *vars, struct isola_err *err)
{
        for (size_t k = 0; k < in->n_kv; k++) {
                _cleanup_free_ char *v = NULL;
                if (bld_arg_value(c, &in->kv[k], vars, &v, err) < 0)
                        return -1;
                /* a bare ARG NAME in a stage brings in the global value */
                const char *val = v ? v : bld_vars_get(&c->global, in->kv[k].key);
                if (val && bld_vars_set(&st->args, in->kv[k].key, val, err) < 0)
                        return -1;
        }
        return 0;
}

static int pairs(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                 const struct bld_vars *vars, struct strbuf *text, struct isola_err *err)
{
        for (size_t k = 0; k < in->n_kv; k++) {
                _cleanup_free_ char *key = NULL, *val = NULL;
                if (bld_expand_word(in->kv[k].key, vars, c->file.escape, &key, err) < 0 ||
                    bld_expand_word(in->kv[k].value, vars, c->file.escape, &val, err) < 0)
                        return -1;
                if (!*key)
                        return err_set(err, EINVAL, "empty name");
                if (in->op == BLD_OP_ENV) {
                        if (set_env(st, key, val, err) < 0)
                                return -1;
                } else {
                        json_object_object_add(member(st, "Labels", json_type_object), key,
                                               json_object_new_string(val));
                }
                sb_putc(text, ' ');
                sb_puts(text, key);
                sb_putc(text, '=');
                sb_puts(text, val);
        }
        return 0;
}

static int words_instr(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                       const struct bld_vars *vars, struct strbuf *text, struct isola_err *err)
{
        char **w = NULL;
        size_t n = 0;
        if (arg_words(c, in, vars, &w, &n, err) < 0)
                return -1;
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
                if (in->op == BLD_OP_EXPOSE)
                        rc = add_port(st, w[i], err);
                else if (!*w[i])
                        rc = err_set(err, EINVAL, "empty volume path");
                else
                        json_object_object_add(member(st, "Volumes", json_type_object), w[i],
                                               json_object_new_object());
                sb_putc(text, ' ');
                sb_puts(text, w[i]);
        }
        bld_strv_free(w);
        return rc;
}

static int single_word(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                       const struct bld_vars *vars, struct strbuf *text, struct isola_err *err)
{
        _cleanup_free_ char *v = NULL;
        if (bld_expand_word(in->rest, vars, c->file.escape, &v, err) < 0)
                return -1;
        if (!*v)
                return err_set(err, EINVAL, "empty argument after expansion");
        json_object *cfg = bld_cfg_config(st);
        if (in->op == BLD_OP_USER) {
                json_object_object_add(cfg, "User", json_object_new_string(v));
        } else if (in->op == BLD_OP_STOPSIGNAL) {
                json_object_object_add(cfg, "StopSignal", json_object_new_string(v));
        } else if (in->op == BLD_OP_MAINTAINER) {
                json_object_object_add(st->cfg, "author", json_object_new_string(v));
        } else { /* WORKDIR: relative to the current one */
                _cleanup_free_ char *p = NULL;
                const char *cur = bld_state_workdir(st);
                if (asprintf(&p, "%s/%s", v[0] == '/' ? "" : cur, v) < 0)
                        return err_set(err, ENOMEM, "out of memory");
                bld_path_clean(p);
                json_object_object_add(cfg, "WorkingDir", json_object_new_string(p));
                free(v);
                v = steal_ptr(&p);
        }
        sb_putc(text, ' ');
        sb_puts(text, v);
        return 0;
}

static int apply(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                 const struct bld_vars *vars, struct strbuf *text, struct isola_err *err)
{
        switch (in->op) {
        case BLD_OP_ARG:
                return arg_instr(c, st, in, vars, err);
        case BLD_OP_ENV:
        case BLD_OP_LABEL:
                return pairs(c, st, in, vars, text, err);
        case BLD_OP_EXPOSE:
        case BLD_OP_VOLUME:
                return words_instr(c, st, in, vars, text, err);
        case BLD_OP_USER:
        case BLD_OP_WORKDIR:
        case BLD_OP_STOPSIGNAL:
        case BLD_OP_MAINTAINER:
                return single_word(c, st, in, vars, text, err);
        case BLD_OP_CMD:
                return command(st, in, "Cmd", err);
        case BLD_OP_ENTRYPOINT:
                return command(st, in, "Entrypoint", err);
        case BLD_OP_SHELL:
                json_object_object_add(bld_cfg_config(st), "Shell", strv_json(in->argv, in->argc));
                return 0;
        case BLD_OP_HEALTHCHECK:
                return healthcheck(st, in, err);
        case BLD_OP_ONBUILD:
                json_object_array_add(member(st, "OnBuild", json_type_array),
                                      json_object_new_string(in->trigger));
                return 0;
        default:
                return err_set(err, EINVAL, "%s is not a config instruction", bld_op_name(in->op));
        }
}

int bld_config_apply(struct bld_ctx *c, struct bld_state *st, const struct bld_instr *in,
                     char **text_out, struct isola_err *err)
{
        struct bld_vars vars;
        struct strbuf text = {0};
        if (bld_state_vars(st, &vars, err) < 0)
                return -1;
        sb_puts(&text, bld_op_name(in->op));
        bool expanded = in->op == BLD_OP_ENV || in->op == BLD_OP_LABEL || in->op == BLD_OP_EXPOSE ||
                        in->op == BLD_OP_VOLUME || in->op == BLD_OP_USER ||
                        in->op == BLD_OP_WORKDIR || in->op == BLD_OP_STOPSIGNAL ||
                        in->op == BLD_OP_MAINTAINER;
        int rc = apply(c, st, in, &vars, &text, err);
        bld_vars_free(&vars);
        if (rc < 0) {
                sb_free(&text);
                return err_prefix(err, "%s:%d: %s", c->file.path, in->line, bld_op_name(in->op));
        }
        if (!expanded) { /* the text as written says it all */
                sb_free(&text);
                sb_puts(&text, in->text);
        }
        *text_out = sb_take(&text);
        return *text_out ? 0 : err_set(err, ENOMEM, "out of memory");
}
