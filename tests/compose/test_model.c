/* Unit tests of the compose model: YAML, interpolation, .env, merging,
 * extends, profiles, typed binding, errors and warnings, `config` output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "mem_files.h"
#include "tap.h"

static char *env_none[] = {NULL};

/* Loads /p/compose.yaml (+ files) with -f when files_arg is set. */
static struct cmp_project *load(const struct mem_file *files, char **environ_, const char *const *f,
                                size_t nf, struct isola_err *err)
{
        struct cmp_load_opts o = {.files = f,
                                  .n_files = nf,
                                  .environ = environ_ ? environ_ : env_none,
                                  .cwd = "/p",
                                  .read = mem_read,
                                  .read_ctx = (void *)files};
        struct cmp_project *p = NULL;

        memset(err, 0, sizeof(*err));
        if (cmp_project_load(&o, &p, err) < 0)
                return NULL;
        return p;
}

static struct cmp_project *load1(const char *yaml, char **env, struct isola_err *err)
{
        const struct mem_file files[] = {{"/p/compose.yaml", yaml, 0}, {NULL, NULL, 0}};

        return load(files, env, NULL, 0, err);
}

static void expect_error(const char *yaml, const char *want, const char *name)
{
        struct isola_err err;
        struct cmp_project *p = load1(yaml, NULL, &err);

        tap_ok(!p && strstr(err.msg, want), "%s", name);
        if (p || !strstr(err.msg, want))
                printf("#   got '%s', want '%s'\n", p ? "(loaded)" : err.msg, want);
        cmp_project_free(p);
}

static char *config_text(const struct cmp_project *p)
{
        char *t = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&t, &n);

        cmp_emit_project(p, f);
        fclose(f);
        return t;
}

static void test_basic(void)
{
        struct isola_err err;
        struct cmp_project *p =
            load1("services:\n"
                  "  web:\n"
                  "    image: busybox\n"
                  "    command: httpd -f -p \"8 0\"\n"
                  "    ports: [\"8080:80\", \"127.0.0.1:9000-9001:90-91/udp\", 7]\n"
                  "    volumes: [\"./www:/www:ro\", \"data:/data\", /anon]\n"
                  "    environment: [A=1, B]\n"
                  "    depends_on: [db]\n"
                  "  db:\n"
                  "    image: busybox\n"
                  "volumes:\n"
                  "  data: {}\n",
                  NULL, &err);
        const struct cmp_service *w;

        tap_ok(p != NULL, "basic file loads (%s)", p ? "" : err.msg);
        if (!p)
                return;
        TAP_EQ_STR(p->name, "p", "project name from the directory");
        TAP_EQ_INT(p->n_services, 2, "two services");
        TAP_EQ_STR(p->services[0].name, "db", "services sorted by name");
        w = cmp_service_find(p, "web");
        TAP_EQ_INT(w->command.n, 4, "command string split like a shell");
        TAP_EQ_STR(w->command.v[3], "8 0", "quoted word kept whole");
        TAP_EQ_INT(w->n_ports, 4, "port range expanded");
        TAP_EQ_INT(w->ports[1].published, 9000, "range published start");
        TAP_EQ_INT(w->ports[2].target, 91, "range target end");
        TAP_EQ_STR(w->ports[2].protocol, "udp", "protocol");
        TAP_EQ_STR(w->ports[1].host_ip, "127.0.0.1", "host ip");
        TAP_EQ_INT(w->ports[3].published, 0, "bare port not published");
        TAP_EQ_INT(w->volumes[0].type, CMP_VOL_BIND, "./ is a bind mount");
        TAP_EQ_STR(w->volumes[0].source, "/p/www", "bind source made absolute");
        tap_ok(w->volumes[0].read_only, ":ro");
        TAP_EQ_INT(w->volumes[1].type, CMP_VOL_VOLUME, "named volume");
        tap_ok(w->volumes[2].source == NULL, "anonymous volume");
        TAP_EQ_STR(w->environment.v[0].val, "1", "environment list");
        tap_ok(w->environment.v[1].val == NULL, "unset variable without value stays unset");
        TAP_EQ_INT(w->depends_on[0].condition, CMP_COND_STARTED, "short depends_on");
        TAP_EQ_STR(w->networks[0].name, "default", "default network");
        TAP_EQ_STR(cmp_network_find(p, "default")->name, "p_default", "network prefixed");
        TAP_EQ_STR(cmp_volume_find(p, "data")->name, "p_data", "volume prefixed");
        cmp_project_free(p);
}

static void test_interpolation(void)
{
        char *env[] = {"TAG=1.36", "EMPTY=", "HOME=/home/u", NULL};
        struct isola_err err;
        struct cmp_project *p = load1("services:\n"
                                      "  a:\n"
                                      "    image: busybox:${TAG}\n"
                                      "    environment:\n"
                                      "      D1: ${NOPE:-def}\n"
                                      "      D2: ${EMPTY:-def}\n"
                                      "      D3: ${EMPTY-def}\n"
                                      "      D4: ${TAG:+alt}\n"
                                      "      D5: ${NOPE+alt}x\n"
                                      "      D6: $$TAG $TAG\n"
                                      "      D7: ${NOPE:-${TAG}}\n"
                                      "      D8: ${NOPE}\n",
                                      env, &err);
        const struct cmp_service *s;
        static const char *const want[] = {"def", "def", "", "alt", "x", "$TAG 1.36", "1.36", ""};

        tap_ok(p != NULL, "interpolation loads (%s)", p ? "" : err.msg);
        if (!p)
                return;
        s = &p->services[0];
        TAP_EQ_STR(s->image, "busybox:1.36", "${VAR}");
        for (size_t i = 0; i < 8; i++) {
                char name[32];

                snprintf(name, sizeof(name), "D%zu", i + 1);
                TAP_EQ_STR(s->environment.v[i].val, want[i], name);
        }
        tap_ok(p->warns.n == 1 && strstr(p->warns.msgs[0], "\"NOPE\" variable is not set"),
               "unset variable warned about once");
        cmp_project_free(p);
        expect_error("services:\n  a:\n    image: ${IMG:?set IMG to an image}\n",
                     "services.a.image: required variable IMG is missing a value: set IMG",
                     "${VAR:?msg} names the variable and the message");
        expect_error("services:\n  a:\n    image: x\n    command: echo $\n",
                     "invalid interpolation", "lone $ is an error");
        expect_error("services:\n  a:\n    image: ${A\n", "invalid interpolation", "unclosed ${");
}

static void test_dotenv(void)
{
        const struct mem_file files[] = {
            {"/p/compose.yaml",
             "services:\n  a:\n    image: \"${IMG}\"\n    env_file: vars.env\n"
             "    environment: [OVER=compose]\n",
             0},
            {"/p/.env", "# comment\nIMG=busybox:${V}\nV=1\nexport Q='lit ${V}'\n", 0},
            {"/p/vars.env", "OVER=file\nFROM_FILE=\"a\\nb\" # c\n", 0},
            {NULL, NULL, 0}};
        char *env[] = {"V=9", NULL};
        struct isola_err err;
        struct cmp_project *p = load(files, env, NULL, 0, &err);

        tap_ok(p != NULL, ".env loads (%s)", p ? "" : err.msg);
        if (!p)
                return;
        TAP_EQ_STR(p->services[0].image, "busybox:9", "process env wins over .env");
        TAP_EQ_STR(cmp_env_get(&p->env, "Q"), "lit ${V}", "single quotes are literal");
        TAP_EQ_STR(p->services[0].environment.v[0].key, "FROM_FILE", "env_file entries first");
        TAP_EQ_STR(p->services[0].environment.v[0].val, "a\nb", "double-quote escapes");
        TAP_EQ_STR(p->services[0].environment.v[1].val, "compose",
                   "environment wins over env_file");
        cmp_project_free(p);
}

static void test_merge(void)
{
        const struct mem_file files[] = {
            {"/p/compose.yaml",
             "services:\n  a:\n    image: one\n    command: [a, b]\n"
             "    ports: ['80:80', '81:81']\n    volumes: ['v:/data']\n"
             "    environment: {A: '1', B: '2'}\n    dns: [1.1.1.1]\n"
             "    healthcheck: {test: [CMD, x], interval: 5s}\n"
             "volumes: {v: {}, w: {}}\n",
             0},
            {"/p/compose.override.yaml",
             "services:\n  a:\n    image: two\n    command: [c]\n"
             "    ports: ['80:80', '82:82']\n    volumes: ['w:/data']\n"
             "    environment: [B=3]\n    dns: [8.8.8.8]\n"
             "    healthcheck: {test: [CMD, y]}\n  b:\n    image: three\n",
             0},
            {"/p/reset.yaml",
             "services:\n  a:\n    ports: !reset []\n    dns: !override [9.9.9.9]\n", 0},
            {NULL, NULL, 0}};
        struct isola_err err;
        struct cmp_project *p = load(files, NULL, NULL, 0, &err);
        const struct cmp_service *a;

        tap_ok(p != NULL, "base + override discovered and merged (%s)", p ? "" : err.msg);
        if (!p)
                return;
        a = cmp_service_find(p, "a");
        TAP_EQ_STR(a->image, "two", "scalar replaced");
        TAP_EQ_INT(a->command.n, 1, "command replaced, not appended");
        TAP_EQ_INT(a->n_ports, 3, "ports unique by key");
        TAP_EQ_INT(a->n_volumes, 1, "volumes unique by target");
        TAP_EQ_STR(a->volumes[0].source, "w", "override volume wins");
        TAP_EQ_STR(a->environment.v[1].val, "3", "environment merged as a mapping");
        TAP_EQ_INT(a->dns.n, 2, "other sequences appended");
        TAP_EQ_STR(a->healthcheck.test.v[1], "y", "healthcheck.test replaced");
        TAP_EQ_INT(a->healthcheck.interval_ms, 5000, "healthcheck interval kept");
        tap_ok(cmp_service_find(p, "b") != NULL, "service added by the override");
        cmp_project_free(p);

        const char *const f[] = {"compose.yaml", "reset.yaml"};
        p = load(files, NULL, f, 2, &err);
        tap_ok(p != NULL, "-f files merged in order (%s)", p ? "" : err.msg);
        if (!p)
                return;
        a = cmp_service_find(p, "a");
        TAP_EQ_INT(a->n_ports, 0, "!reset drops the base value");
        TAP_EQ_INT(a->dns.n, 1, "!override replaces");
        cmp_project_free(p);
}

static void test_anchors_extends(void)
{
        const struct mem_file files[] = {
            {"/p/compose.yaml",
             "x-base: &base\n  image: busybox\n  labels: {tier: x}\n"
             "services:\n"
             "  a:\n    <<: *base\n    image: own\n"
             "  b:\n    extends: a\n    command: [b]\n"
             "  c:\n    extends: {file: sub/common.yaml, service: tpl}\n",
             0},
            {"/p/sub/common.yaml",
             "services:\n  tpl:\n    image: tpl\n    volumes: ['./x:/x']\n    env_file: e.env\n",
             0},
            {"/p/sub/e.env", "E=1\n", 0},
            {NULL, NULL, 0}};
        struct isola_err err;
        struct cmp_project *p = load(files, NULL, NULL, 0, &err);

        tap_ok(p != NULL, "anchors and extends load (%s)", p ? "" : err.msg);
        if (!p)
                return;
        TAP_EQ_STR(cmp_service_find(p, "a")->image, "own", "explicit key beats merge key");
        TAP_EQ_STR(cmp_service_find(p, "a")->labels.v[0].val, "x", "<< merges the anchor");
        TAP_EQ_STR(cmp_service_find(p, "b")->image, "own", "extends in the same file");
        TAP_EQ_STR(cmp_service_find(p, "b")->command.v[0], "b", "extends: own keys on top");
        TAP_EQ_STR(cmp_service_find(p, "c")->image, "tpl", "extends from another file");
        TAP_EQ_STR(cmp_service_find(p, "c")->volumes[0].source, "/p/sub/x",
                   "relative paths of the other file resolve against its directory");
        TAP_EQ_STR(cmp_service_find(p, "c")->environment.v[0].key, "E", "its env_file too");
        cmp_project_free(p);
        expect_error("services:\n  a: {extends: b, image: x}\n  b: {extends: a, image: y}\n",
                     "extends cycle: a -> b -> a", "extends cycle named");
}

static void test_profiles(void)
{
        const char *yaml = "services:\n  a: {image: x}\n  dbg: {image: y, profiles: [debug]}\n";
        char *env[] = {"COMPOSE_PROFILES=debug", NULL};
        struct isola_err err;
        struct cmp_project *p = load1(yaml, NULL, &err);

        TAP_EQ_INT(p ? p->n_services : 99, 1, "profiled service off by default");
        TAP_EQ_STR(p && p->disabled.n ? p->disabled.v[0] : NULL, "dbg", "listed as disabled");
        cmp_project_free(p);
        p = load1(yaml, env, &err);
        TAP_EQ_INT(p ? p->n_services : 99, 2, "COMPOSE_PROFILES enables it");
        cmp_project_free(p);
        expect_error("services:\n  a: {image: x, depends_on: [dbg]}\n"
                     "  dbg: {image: y, profiles: [debug]}\n",
                     "disabled by profiles", "dependency on a disabled service");
}

static void test_errors(void)
{
        expect_error("services:\n  a:\n    image: x\n   bad: [\n",
                     "compose.yaml:4:", "YAML syntax error has file:line");
        expect_error("services:\n  web:\n    image: x\n    ports:\n      - {target: [1]}\n",
                     "compose.yaml:5:18: services.web.ports[0].target: expected an integer",
                     "wrong type names the path");
        expect_error("services:\n  web:\n    image: x\n    read_only: maybe\n",
                     "services.web.read_only: expected a boolean", "bool");
        expect_error("services:\n  web: {image: x, ports: 80}\n",
                     "services.web.ports: expected a sequence", "ports not a list");
        expect_error(
            "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [c]}\n"
            "  c: {image: x, depends_on: [a]}\n",
            "depends_on cycle: a -> b -> c -> a", "depends_on cycle named");
        expect_error("services:\n  a: {image: x, depends_on: [zz]}\n", "undefined service \"zz\"",
                     "undefined dependency");
        expect_error("services:\n  a: {image: x, ports: ['8080:80']}\n  b: {image: y, ports: "
                     "['8080:81']}\n",
                     "port conflict", "port conflict inside the project");
        expect_error("services:\n  a: {command: x}\n", "neither an image nor a build",
                     "image or build required");
        expect_error("services:\n  a: {image: x, volumes: ['nope:/d']}\n",
                     "volume \"nope\" is not defined", "undefined named volume");
        expect_error("services:\n  a: {image: x, healthcheck: {interval: soon}}\n",
                     "invalid duration", "bad duration");
        expect_error("a: &a [*a]\n", "alias", "recursive alias refused");
        expect_error("services: {a: {image: x}}\nservices: {}\n", "already defined",
                     "duplicate key");
        expect_error("", "empty compose file", "empty file");
        expect_error("- a\n", "top level must be a mapping", "top level list");
}

static void test_billion_laughs(void)
{
        const char *yaml = "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
                           "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                           "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                           "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                           "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                           "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                           "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                           "services: {}\n";

        expect_error(yaml, "too many nodes", "alias expansion bounded (billion laughs)");
}

static void test_warnings_config(void)
{
        struct isola_err err;
        struct cmp_project *p = load1("version: '3'\nname: demo\nservices:\n"
                                      "  a:\n    image: x\n    frobnicate: 1\n    sysctls: {}\n"
                                      "    deploy: {replicas: 2, resources: {limits: "
                                      "{memory: 64m, cpus: '0.5', pids: 50}}}\n",
                                      NULL, &err);
        char *text;
        char h1[65], h2[65];
        bool found = false;

        tap_ok(p != NULL, "file with unknown keys loads (%s)", p ? "" : err.msg);
        if (!p)
                return;
        TAP_EQ_STR(p->name, "demo", "top-level name");
        for (size_t i = 0; i < p->warns.n; i++)
                found |= strstr(p->warns.msgs[i], "compose.yaml:6: services.a.frobnicate: unknown "
                                                  "key") != NULL;
        tap_ok(found, "unknown key warned with file, line and path");
        TAP_EQ_INT(p->warns.n, 3, "version, unknown and unsupported keys warned");
        TAP_EQ_INT(p->services[0].limits.memory, 64 << 20, "memory limit");
        TAP_EQ_INT(p->services[0].limits.pids, 50, "pids limit");
        text = config_text(p);
        tap_ok(strstr(text, "name: demo\nservices:\n  a:\n    deploy:\n      replicas: 2\n") !=
                   NULL,
               "config output");
        free(text);
        cmp_service_hash(p, &p->services[0], h1, &err);
        p->services[0].replicas = 5;
        cmp_service_hash(p, &p->services[0], h2, &err);
        TAP_EQ_STR(h1, h2, "replicas not in the config hash");
        p->services[0].limits.pids = 51;
        cmp_service_hash(p, &p->services[0], h2, &err);
        tap_ok(strcmp(h1, h2) != 0, "limits are in the config hash");
        cmp_project_free(p);
}

static void test_config_roundtrip(void)
{
        const struct mem_file files[] = {
            {"/p/compose.yaml",
             "services:\n  a:\n    image: 'x:1'\n    command: ['sh', '-c', 'echo \"hi\" $$X']\n"
             "    environment: {Y: 'true', Z: '010', N: null}\n"
             "    healthcheck: {test: 'wget -q localhost', interval: 1m30s, retries: 2}\n"
             "    networks: {front: {aliases: [w]}}\n"
             "networks: {front: {}}\n",
             0},
            {NULL, NULL, 0}};
        struct isola_err err;
        struct cmp_project *p = load(files, NULL, NULL, 0, &err), *q;
        char *t1 = NULL, *t2 = NULL;

        tap_ok(p != NULL, "roundtrip source loads (%s)", p ? "" : err.msg);
        if (!p)
                return;
        t1 = config_text(p);
        const struct mem_file again[] = {{"/p/compose.yaml", t1, 0}, {NULL, NULL, 0}};
        q = load(again, NULL, NULL, 0, &err);
        tap_ok(q != NULL, "config output loads again (%s)", q ? "" : err.msg);
        if (q)
                t2 = config_text(q);
        /* $$ was interpolated once: the reloaded text would interpolate $X; it has none */
        TAP_EQ_STR(t2, t1, "config output is a fixed point");
        free(t1);
        free(t2);
        cmp_project_free(p);
        cmp_project_free(q);
}

int main(void)
{
        test_basic();
        test_interpolation();
        test_dotenv();
        test_merge();
        test_anchors_extends();
        test_profiles();
        test_errors();
        test_billion_laughs();
        test_warnings_config();
        test_config_roundtrip();
        return tap_done();
}
