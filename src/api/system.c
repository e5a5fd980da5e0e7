/* _ping, version, info (events: events.c). */
#include "api/api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "image/image.h"

enum MHD_Result api_h_ping(struct api_call *c)
{
        struct MHD_Response *r =
            MHD_create_response_from_buffer(2, (void *)"OK", MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
        MHD_add_response_header(r, "Api-Version", "1.41");
        MHD_add_response_header(r, "Ostype", "linux");
        MHD_add_response_header(r, "Docker-Experimental", "false");
        MHD_add_response_header(r, "Cache-Control", "no-cache, no-store, must-revalidate");
        ret = MHD_queue_response(c->conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}

enum MHD_Result api_h_version(struct api_call *c)
{
        struct utsname u;
        json_object *o = json_object_new_object();
        json_object *comp = json_object_new_array(), *e = json_object_new_object();

        uname(&u);
        json_object_object_add(e, "Name", json_object_new_string("Engine"));
        json_object_object_add(e, "Version", json_object_new_string(ISOLA_VERSION));
        json_object_array_add(comp, e);
        json_object_object_add(o, "Platform", json_object_new_object());
        json_object_object_add(json_object_object_get(o, "Platform"), "Name",
                               json_object_new_string("isola"));
        json_object_object_add(o, "Components", comp);
        json_object_object_add(o, "Version", json_object_new_string(ISOLA_VERSION));
        json_object_object_add(o, "ApiVersion", json_object_new_string("1.41"));
        json_object_object_add(o, "MinAPIVersion", json_object_new_string("1.24"));
        json_object_object_add(o, "GitCommit", json_object_new_string("isola"));
        json_object_object_add(o, "GoVersion", json_object_new_string("none (C17)"));
        json_object_object_add(o, "Os", json_object_new_string("linux"));
        json_object_object_add(o, "Arch", json_object_new_string("amd64"));
        json_object_object_add(o, "KernelVersion", json_object_new_string(u.release));
        return api_reply_json(c, MHD_HTTP_OK, o);
}

struct counts {
        size_t total, running, paused, stopped, images;
};

static int count_work(struct eng_ctx *e, void *arg, FILE *out, struct isola_err *err)
{
        struct eng_container **l = NULL;
        struct img_image **imgs = NULL;
        struct img_store st;
        size_t n = 0, ni = 0;
        struct counts k = {0};
        (void)arg;

        if (eng_list(e, &l, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                k.running += strcmp(l[i]->state, "running") == 0;
                k.paused += strcmp(l[i]->state, "paused") == 0;
        }
        k.total = n;
        k.stopped = n - k.running - k.paused;
        eng_container_list_free(l, n);
        img_store_init(&st, &e->paths, e->db);
        if (img_list(&st, &imgs, &ni, err) < 0)
                return -1;
        for (size_t i = 0; i < ni; i++)
                img_image_free(imgs[i]);
        free(imgs);
        k.images = ni;
        fprintf(out, "%zu %zu %zu %zu %zu %s", k.total, k.running, k.paused, k.stopped, k.images,
                e->paths.root);
        return 0;
}

enum MHD_Result api_h_info(struct api_call *c)
{
        struct isola_err err = {0};
        _cleanup_free_ char *text = NULL;
        size_t len;
        struct counts k = {0};
        char root[PATH_MAX] = "";
        struct utsname u;
        char host[256] = "";
        json_object *o;

        if (api_work(c->srv, count_work, NULL, &text, &len, &err) < 0)
                return api_reply_err(c, &err);
        if (sscanf(text, "%zu %zu %zu %zu %zu %4095s", &k.total, &k.running, &k.paused, &k.stopped,
                   &k.images, root) < 5)
                return api_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "info: bad counts");
        uname(&u);
        gethostname(host, sizeof(host) - 1);
        o = json_object_new_object();
        json_object_object_add(o, "ID", json_object_new_string("isola"));
        json_object_object_add(o, "Containers", json_object_new_int64((int64_t)k.total));
        json_object_object_add(o, "ContainersRunning", json_object_new_int64((int64_t)k.running));
        json_object_object_add(o, "ContainersPaused", json_object_new_int64((int64_t)k.paused));
        json_object_object_add(o, "ContainersStopped", json_object_new_int64((int64_t)k.stopped));
        json_object_object_add(o, "Images", json_object_new_int64((int64_t)k.images));
        json_object_object_add(o, "Driver", json_object_new_string("overlay"));
        json_object_object_add(o, "DockerRootDir", json_object_new_string(root));
        json_object_object_add(o, "Name", json_object_new_string(host));
        json_object_object_add(o, "KernelVersion", json_object_new_string(u.release));
        json_object_object_add(o, "OperatingSystem", json_object_new_string("isola"));
        json_object_object_add(o, "OSType", json_object_new_string("linux"));
        json_object_object_add(o, "Architecture", json_object_new_string(u.machine));
        json_object_object_add(o, "NCPU", json_object_new_int((int)sysconf(_SC_NPROCESSORS_ONLN)));
        json_object_object_add(
            o, "MemTotal",
            json_object_new_int64((int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE)));
        json_object_object_add(o, "ServerVersion", json_object_new_string(ISOLA_VERSION));
        json_object_object_add(o, "CgroupDriver", json_object_new_string("cgroupfs"));
        json_object_object_add(
            o, "CgroupVersion",
            json_object_new_string(access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "2"
                                                                                          : "1"));
        json_object_object_add(o, "DefaultRuntime", json_object_new_string("isola"));
        json_object_object_add(o, "SecurityOptions", json_object_new_array());
        return api_reply_json(c, MHD_HTTP_OK, o);
}
