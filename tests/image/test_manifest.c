/* Manifest, index and config parsing (OCI 1.1 and Docker schema 2), the
 * refusals, platform choice and kind detection. */
#include <stdio.h>
#include <string.h>

#include "image/image.h"
#include "tap.h"

#define D(c)                                                                                       \
        "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
            c c c c c c c c c c c c c c c c c c c c c c c c

#define OCI_MANIFEST                                                                               \
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","       \
        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D(  \
            "a") "\",\"size\":123},\"layers\":[{\"mediaType\":"                                    \
                 "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D(                \
                     "b") "\",\"size\":10},"                                                       \
                          "{\"mediaType\":\"application/"                                          \
                          "vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" D(                     \
                              "c") "\",\"size\":20}]}"

#define DOCKER_MANIFEST                                                                            \
        "{\"schemaVersion\":2,\"mediaType\":"                                                      \
        "\"application/vnd.docker.distribution.manifest.v2+json\",\"config\":{\"mediaType\":"      \
        "\"application/vnd.docker.container.image.v1+json\",\"digest\":\"" D(                      \
            "a") "\",\"size\":5},\"layers\":[{\"mediaType\":"                                      \
                 "\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"" D(          \
                     "b") "\",\"size\":10}]}"

#define INDEX                                                                                      \
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","          \
        "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":" \
        "\"" D("1") "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\","     \
                    "\"variant\":\"v8\"}},{\"mediaType\":\"application/"                           \
                    "vnd.oci.image.manifest.v1+json\","                                            \
                    "\"digest\":\"" D(                                                             \
                        "2") "\",\"size\":2,\"platform\":{\"os\":\"linux\",\"architecture\":"      \
                             "\"amd64\"}},{\"mediaType\":\"application/"                           \
                             "vnd.oci.image.manifest.v1+json\",\"digest\":"                        \
                             "\"" D("3") "\",\"size\":3,\"platform\":{\"os\":\"linux\","           \
                                         "\"architecture\":\"arm\","                               \
                                         "\"variant\":\"v7\"}}]}"

#define CONFIG                                                                                     \
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-02T03:04:05.5+01:"     \
        "00\","                                                                                    \
        "\"config\":{\"Env\":[\"PATH=/bin\",\"A=b\"],\"Entrypoint\":[\"/bin/sh\",\"-c\"],"         \
        "\"Cmd\":[\"echo hi\"],\"WorkingDir\":\"/w\",\"User\":\"1000:1000\",\"ExposedPorts\":"     \
        "{\"80/tcp\":{}},\"Volumes\":{\"/data\":{}},\"Labels\":{\"k\":\"v\"},\"StopSignal\":"      \
        "\"SIGTERM\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D("d") "\",\"" D(          \
            "e") "\"]},\"history\":[{\"created_by\":\"ADD x\"},{\"created_by\":\"CMD\","           \
                 "\"empty_layer\":true}]}"

static void manifests(void)
{
        struct img_manifest m;
        struct isola_err err = {0};

        tap_ok(img_manifest_parse(OCI_MANIFEST, strlen(OCI_MANIFEST), &m, &err) == 0,
               "OCI manifest parses (%s)", err.msg);
        TAP_EQ_INT(m.n_layers, 2, "  two layers");
        TAP_EQ_STR(m.config.digest, D("a"), "  config digest");
        TAP_EQ_INT(m.layers[1].size, 20, "  layer size");
        img_manifest_free(&m);
        tap_ok(img_manifest_parse(DOCKER_MANIFEST, strlen(DOCKER_MANIFEST), &m, &err) == 0,
               "Docker schema 2 manifest parses (%s)", err.msg);
        TAP_EQ_STR(m.media_type, "application/vnd.docker.distribution.manifest.v2+json",
                   "  media type");
        img_manifest_free(&m);

        static const struct {
                const char *json, *msg;
        } bad[] = {
            {"{\"schemaVersion\":1}", "schemaVersion"},
            {"[1]", "not a JSON object"},
            {"{\"schemaVersion\":2,", "invalid JSON"},
            {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
             "vnd.oci.image.config.v1+json\","
             "\"digest\":\"sha256:12\",\"size\":1},\"layers\":[]}",
             "digest"},
            {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
             "x-helm\",\"digest\":\"" D("a") "\",\"size\":1},\"layers\":[]}",
             "not an image config"},
            {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
             "vnd.oci.image.config.v1+json\","
             "\"digest\":\"" D("a") "\",\"size\":-1},\"layers\":[]}",
             "size"},
            {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
             "vnd.oci.image.config.v1+json\","
             "\"digest\":\"" D("a") "\",\"size\":1},\"layers\":[{\"mediaType\":\"text/plain\","
                                    "\"digest\":\"" D("b") "\",\"size\":1}]}",
             "not a layer"},
            {"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}",
             "not an image manifest"},
            {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
             "vnd.oci.image.config.v1+json\","
             "\"digest\":\"" D("a") "\",\"size\":1}}",
             "layers"},
            {"{\"schemaVersion\":2} trailing", "invalid JSON"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int rc = img_manifest_parse(bad[i].json, strlen(bad[i].json), &m, &err);
                tap_ok(rc < 0 && strstr(err.msg, bad[i].msg), "manifest refused: %s", err.msg);
        }
        /* More layers than allowed */
        static char many[64 << 10];
        size_t off =
            (size_t)snprintf(many, sizeof(many),
                             "{\"schemaVersion\":2,\"config\":{\"mediaType\":"
                             "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D(
                                 "a") "\",\"size\":1},\"layers\":[");
        for (int i = 0; i <= IMG_MAX_LAYERS; i++)
                off +=
                    (size_t)snprintf(many + off, sizeof(many) - off,
                                     "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                                     "\"digest\":\"" D("b") "\",\"size\":1}",
                                     i ? "," : "");
        snprintf(many + off, sizeof(many) - off, "]}");
        tap_ok(img_manifest_parse(many, strlen(many), &m, &err) < 0 && strstr(err.msg, "layers"),
               "manifest with %d layers refused", IMG_MAX_LAYERS + 1);
}

static void indexes(void)
{
        struct img_index idx;
        struct isola_err err = {0};
        const struct img_descriptor *d = NULL;

        tap_ok(img_index_parse(INDEX, strlen(INDEX), &idx, &err) == 0, "index parses (%s)",
               err.msg);
        tap_ok(img_index_select(&idx, NULL, &d, &err) == 0 && !strcmp(d->digest, D("2")),
               "host platform (linux/amd64) chosen");
        tap_ok(img_index_select(&idx, "linux/arm64", &d, &err) == 0 && !strcmp(d->digest, D("1")),
               "linux/arm64 chosen");
        tap_ok(img_index_select(&idx, "linux/arm/v7", &d, &err) == 0 && !strcmp(d->digest, D("3")),
               "linux/arm/v7 chosen by variant");
        tap_ok(img_index_select(&idx, "linux/s390x", &d, &err) < 0 && strstr(err.msg, "s390x"),
               "missing platform refused: %s", err.msg);
        tap_ok(img_index_select(&idx, "linux", &d, &err) < 0 && strstr(err.msg, "OS/ARCH"),
               "malformed platform refused");
        img_index_free(&idx);
        const char *one = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                          "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D(
                              "4") "\",\"size\":4}]}";
        tap_ok(img_index_parse(one, strlen(one), &idx, &err) == 0 &&
                   img_index_select(&idx, NULL, &d, &err) == 0 && !strcmp(d->digest, D("4")),
               "single platform-less entry (OCI layout) chosen");
        img_index_free(&idx);
        tap_ok(img_index_parse(OCI_MANIFEST, strlen(OCI_MANIFEST), &idx, &err) < 0,
               "manifest refused as an index");

        TAP_EQ_INT(img_detect_kind(INDEX, strlen(INDEX), NULL), IMG_KIND_INDEX, "kind: index");
        TAP_EQ_INT(img_detect_kind(OCI_MANIFEST, strlen(OCI_MANIFEST), NULL), IMG_KIND_MANIFEST,
                   "kind: manifest");
        const char *bare = "{\"schemaVersion\":2,\"manifests\":[]}";
        TAP_EQ_INT(img_detect_kind(bare, strlen(bare), NULL), IMG_KIND_INDEX,
                   "kind: index by shape");
        const char *ct = "{\"schemaVersion\":2}";
        TAP_EQ_INT(img_detect_kind(ct, strlen(ct),
                                   "application/vnd.docker.distribution.manifest.v2+json; x=y"),
                   IMG_KIND_MANIFEST, "kind: by content type");
        TAP_EQ_INT(img_detect_kind("{\"schemaVersion\":1,\"fsLayers\":[]}", 33, NULL),
                   IMG_KIND_UNKNOWN, "kind: schema 1 unknown");
        TAP_EQ_INT(img_detect_kind("nope", 4, NULL), IMG_KIND_UNKNOWN, "kind: garbage unknown");
}

static void configs(void)
{
        struct img_config c;
        struct isola_err err = {0};

        tap_ok(img_config_parse(CONFIG, strlen(CONFIG), &c, &err) == 0, "config parses (%s)",
               err.msg);
        TAP_EQ_STR(c.env[1], "A=b", "  Env");
        TAP_EQ_STR(c.entrypoint[0], "/bin/sh", "  Entrypoint");
        TAP_EQ_STR(c.cmd[0], "echo hi", "  Cmd");
        TAP_EQ_STR(c.working_dir, "/w", "  WorkingDir");
        TAP_EQ_STR(c.user, "1000:1000", "  User");
        TAP_EQ_STR(c.exposed_ports[0], "80/tcp", "  ExposedPorts");
        TAP_EQ_STR(c.volumes[0], "/data", "  Volumes");
        TAP_EQ_STR(c.label_values[0], "v", "  Labels");
        TAP_EQ_STR(c.stop_signal, "SIGTERM", "  StopSignal");
        TAP_EQ_INT(c.n_diff_ids, 2, "  diff ids");
        TAP_EQ_INT(c.created, 1704161045, "  created (with zone offset)");
        struct img_history *h;
        size_t n;
        tap_ok(img_config_history(&c, &h, &n, &err) == 0 && n == 2 && h[1].empty_layer &&
                   !strcmp(h[0].created_by, "ADD x"),
               "history entries");
        img_history_free(h, n);
        img_config_free(&c);

        static const struct {
                const char *json, *msg;
        } bad[] = {
            {"{}", "rootfs"},
            {"{\"rootfs\":{\"type\":\"x\",\"diff_ids\":[]}}", "rootfs.type"},
            {"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"nope\"]}}", "not a digest"},
            {"{\"config\":{\"Env\":\"A=b\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
             "Env"},
            {"{\"config\":{\"Cmd\":[1]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "Cmd"},
            {"{\"config\":{\"Labels\":{\"a\":1}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
             "Labels"},
            {"{\"config\":[],\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "not an object"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int rc = img_config_parse(bad[i].json, strlen(bad[i].json), &c, &err);
                tap_ok(rc < 0 && strstr(err.msg, bad[i].msg), "config refused: %s", err.msg);
        }
        const char *minimal = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
        tap_ok(img_config_parse(minimal, strlen(minimal), &c, &err) == 0 && c.env && !c.env[0] &&
                   !c.cmd && !c.user,
               "minimal config: empty Env, no Cmd/User");
        img_config_free(&c);
}

int main(void)
{
        manifests();
        indexes();
        configs();
        return tap_done();
}
