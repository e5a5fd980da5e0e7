/* Translation of linux.seccomp into a libseccomp filter and its loading.
 * Semantics follow runc/crun: syscall names the architecture does not know are
 * skipped, rules whose action equals the default action are dropped (libseccomp
 * refuses them), and conditions on the same argument index become separate
 * rules because libseccomp cannot AND two comparisons of one argument. */
#include <errno.h>
#include <string.h>

#include "ctr/seccomp.h"
#include "util/cleanup.h"

/* Base action with the 16-bit data (errno or trace message) masked off. */
static uint32_t action_base(uint32_t action)
{
        uint32_t base = action & 0xffff0000U;

        if (base == SCMP_ACT_ERRNO(0) || base == SCMP_ACT_TRACE(0))
                return base;
        return action;
}

/* Applies errnoRet to an errno action; a bare errno action means EPERM. */
static uint32_t resolve_action(uint32_t action, bool has_errno_ret, uint32_t errno_ret)
{
        if (action_base(action) != SCMP_ACT_ERRNO(0))
                return action;
        if (has_errno_ret)
                return SCMP_ACT_ERRNO(errno_ret);
        if ((action & 0xffffU) == 0)
                return SCMP_ACT_ERRNO(EPERM);
        return action;
}

static int set_flags(scmp_filter_ctx ctx, const struct spec_seccomp *sc, struct isola_err *err)
{
        for (size_t i = 0; i < sc->n_flags; i++) {
                const char *f = sc->flags[i];
                enum scmp_filter_attr attr;
                int r;

                if (!strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC"))
                        attr = SCMP_FLTATR_CTL_TSYNC;
                else if (!strcmp(f, "SECCOMP_FILTER_FLAG_LOG"))
                        attr = SCMP_FLTATR_CTL_LOG;
                else if (!strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
                        attr = SCMP_FLTATR_CTL_SSB;
                else
                        return err_set(err, EINVAL, "seccomp: unsupported flag '%s'", f);
                r = seccomp_attr_set(ctx, attr, 1);
                if (r < 0)
                        return err_set(err, -r, "seccomp: flag '%s': %s", f, strerror(-r));
        }
        return 0;
}

static int add_architectures(scmp_filter_ctx ctx, const struct spec_seccomp *sc,
                             struct isola_err *err)
{
        for (size_t i = 0; i < sc->n_architectures; i++) {
                int r = seccomp_arch_add(ctx, sc->architectures[i]);

                if (r < 0 && r != -EEXIST)
                        return err_set(err, -r, "seccomp: adding architecture 0x%x: %s",
                                       sc->architectures[i], strerror(-r));
        }
        return 0;
}

static int check_args(const char *name, const struct spec_seccomp_rule *rule, struct isola_err *err)
{
        for (size_t i = 0; i < rule->n_args; i++) {
                const struct spec_seccomp_arg *a = &rule->args[i];

                if (a->index > 5)
                        return err_set(err, EINVAL,
                                       "seccomp: syscall '%s': argument index %u out of range 0-5",
                                       name, a->index);
                if (a->op <= _SCMP_CMP_MIN || a->op >= _SCMP_CMP_MAX)
                        return err_set(err, EINVAL,
                                       "seccomp: syscall '%s': invalid comparison operator %d",
                                       name, a->op);
        }
        return 0;
}

static struct scmp_arg_cmp to_cmp(const struct spec_seccomp_arg *a)
{
        return (struct scmp_arg_cmp){
            .arg = a->index,
            .op = (enum scmp_compare)a->op,
            .datum_a = a->value,
            .datum_b = a->value_two,
        };
}

static bool args_share_index(const struct spec_seccomp_rule *rule)
{
        unsigned seen = 0;

        for (size_t i = 0; i < rule->n_args; i++) {
                unsigned bit = 1U << rule->args[i].index;

                if (seen & bit)
                        return true;
                seen |= bit;
        }
        return false;
}

static int add_one(scmp_filter_ctx ctx, const char *name, int nr, uint32_t action,
                   const struct scmp_arg_cmp *cmps, unsigned n, struct isola_err *err)
{
        int r = seccomp_rule_add_array(ctx, action, nr, n, cmps);

        if (r < 0)
                return err_set(err, -r, "seccomp: syscall '%s': adding rule: %s", name,
                               strerror(-r));
        return 0;
}

static int add_syscall(scmp_filter_ctx ctx, const char *name, uint32_t action,
                       const struct spec_seccomp_rule *rule, struct isola_err *err)
{
        struct scmp_arg_cmp cmps[6];
        int nr = seccomp_syscall_resolve_name(name);

        if (nr == __NR_SCMP_ERROR)
                return 0;
        if (rule->n_args > ARRAY_SIZE(cmps) || args_share_index(rule)) {
                for (size_t i = 0; i < rule->n_args; i++) {
                        struct scmp_arg_cmp c = to_cmp(&rule->args[i]);

                        if (add_one(ctx, name, nr, action, &c, 1, err) < 0)
                                return -1;
                }
                return 0;
        }
        for (size_t i = 0; i < rule->n_args; i++)
                cmps[i] = to_cmp(&rule->args[i]);
        return add_one(ctx, name, nr, action, cmps, rule->n_args, err);
}

static int add_rule(scmp_filter_ctx ctx, uint32_t default_action,
                    const struct spec_seccomp_rule *rule, struct isola_err *err)
{
        uint32_t action = resolve_action(rule->action, rule->has_errno_ret, rule->errno_ret);

        for (size_t i = 0; i < rule->n_names; i++) {
                const char *name = rule->names[i];

                if (action == SCMP_ACT_NOTIFY)
                        return err_set(err, EINVAL,
                                       "seccomp: syscall '%s': action SCMP_ACT_NOTIFY is not "
                                       "supported",
                                       name);
                if (check_args(name, rule, err) < 0)
                        return -1;
                if (action == default_action)
                        continue;
                if (add_syscall(ctx, name, action, rule, err) < 0)
                        return -1;
        }
        return 0;
}

scmp_filter_ctx seccomp_build(const struct spec_seccomp *sc, struct isola_err *err)
{
        uint32_t def =
            resolve_action(sc->default_action, sc->has_default_errno_ret, sc->default_errno_ret);
        scmp_filter_ctx ctx;
        int r;

        if (def == SCMP_ACT_NOTIFY) {
                err_set(err, EINVAL, "seccomp: default action SCMP_ACT_NOTIFY is not supported");
                return NULL;
        }
        ctx = seccomp_init(def);
        if (!ctx) {
                err_set(err, EINVAL, "seccomp: invalid default action 0x%x", def);
                return NULL;
        }
        /* no_new_privs is the spec's own switch (process_no_new_privs), not a
         * side effect of loading the filter. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0) {
                err_set(err, -r, "seccomp: clearing the NNP attribute: %s", strerror(-r));
                goto fail;
        }
        /* Report the kernel's errno from seccomp_load, not ECANCELED. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
        if (r < 0) {
                err_set(err, -r, "seccomp: setting SYSRAWRC: %s", strerror(-r));
                goto fail;
        }
        if (add_architectures(ctx, sc, err) < 0 || set_flags(ctx, sc, err) < 0)
                goto fail;
        for (size_t i = 0; i < sc->n_rules; i++)
                if (add_rule(ctx, def, &sc->rules[i], err) < 0)
                        goto fail;
        return ctx;
fail:
        seccomp_release(ctx);
        return NULL;
}

int seccomp_apply(const struct spec_seccomp *sc, struct isola_err *err)
{
        scmp_filter_ctx ctx;
        int r;

        if (!sc)
                return 0;
        ctx = seccomp_build(sc, err);
        if (!ctx)
                return -1;
        r = seccomp_load(ctx);
        seccomp_release(ctx);
        if (r == -EACCES)
                return err_set(err, EACCES,
                               "seccomp: loading the filter needs CAP_SYS_ADMIN or "
                               "noNewPrivileges");
        if (r < 0)
                return err_set(err, -r, "seccomp: loading the filter: %s", strerror(-r));
        return 0;
}
