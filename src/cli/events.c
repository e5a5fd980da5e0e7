/* isola events [--since T] [--until T] [--filter K=V]... [--format json]
 * [--root DIR]: the event log (src/engine/events*.c), as podman prints it.
 * Without --until it follows new events until interrupted. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/ctr_common.h"
#include "cli/verbs.h"
#include "engine/events.h"

#define POLL_MS 250

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
        (void)sig;
        stop_flag = 1;
}

static void usage(FILE *f)
{
        fprintf(f, "usage: isola events [--since TIME] [--until TIME] [--filter KEY=VALUE]... "
                   "[--format json]\n"
                   "  TIME: a duration before now (10m, 1h), unix seconds or RFC 3339\n"
                   "  KEY:  type, event, container, image, label, network, volume\n");
}

static int print_text(const struct eng_event_row *ev, void *arg)
{
        char when[64];
        time_t sec = (time_t)(ev->time_ns / 1000000000);
        struct tm tm;
        bool first = true;
        (void)arg;

        gmtime_r(&sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        printf("%s.%09lld +0000 UTC %s %s %s", when, (long long)(ev->time_ns % 1000000000),
               ev->type, ev->action, ev->actor);
        if (ev->attrs && json_object_object_length(ev->attrs) > 0) {
                printf(" (");
                json_object_object_foreach(ev->attrs, k, v)
                {
                        printf("%s%s=%s", first ? "" : ", ", k, json_object_get_string(v));
                        first = false;
                }
                printf(")");
        }
        printf("\n");
        return 0;
}

static int print_json(const struct eng_event_row *ev, void *arg)
{
        json_object *o = eng_event_docker_json(ev);
        (void)arg;

        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return 0;
}

static int64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int follow(struct eng_ctx *c, struct eng_event_filter *f, eng_event_cb cb,
                  struct isola_err *err)
{
        int64_t last = f->since_ns ? 0 : eng_events_last_id(c->db);

        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        while (!stop_flag) {
                int64_t before = last;
                if (eng_events_read(c->db, last, f, 1024, cb, NULL, &last, err) < 0)
                        return -1;
                fflush(stdout);
                if (last != before)
                        continue;
                if (f->until_ns && now_ns() > f->until_ns)
                        break;
                struct timespec ts = {.tv_nsec = POLL_MS * 1000000L};
                nanosleep(&ts, NULL);
        }
        return 0;
}

static int parse_args(int argc, char **argv, struct eng_event_filter *f, bool *json,
                      const char **root, struct isola_err *err)
{
        enum { OPT_SINCE = 256, OPT_UNTIL, OPT_FILTER, OPT_FORMAT, OPT_ROOT };
        static const struct option opts[] = {{"since", required_argument, NULL, OPT_SINCE},
                                             {"until", required_argument, NULL, OPT_UNTIL},
                                             {"filter", required_argument, NULL, OPT_FILTER},
                                             {"format", required_argument, NULL, OPT_FORMAT},
                                             {"root", required_argument, NULL, OPT_ROOT},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        int64_t now = now_ns();
        int ch;

        optind = 1;
        while ((ch = getopt_long(argc, argv, "+hf:", opts, NULL)) != -1) {
                int rc = 0;
                switch (ch) {
                case OPT_SINCE:
                        rc = eng_event_time_parse(optarg, now, &f->since_ns, err);
                        if (rc == 0 && f->since_ns <= 0)
                                f->since_ns = 1; /* 0 would mean no --since */
                        break;
                case OPT_UNTIL:
                        rc = eng_event_time_parse(optarg, now, &f->until_ns, err);
                        break;
                case 'f':
                case OPT_FILTER:
                        rc = eng_event_filter_add(f, optarg, err);
                        break;
                case OPT_FORMAT:
                        if (strcmp(optarg, "json") != 0 && strcmp(optarg, "{{json .}}") != 0)
                                rc = err_set(err, EINVAL, "--format '%s': only json", optarg);
                        *json = true;
                        break;
                case OPT_ROOT:
                        *root = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 1;
                default:
                        usage(stderr);
                        return 2;
                }
                if (rc < 0)
                        return -1;
        }
        if (optind != argc) {
                usage(stderr);
                return 2;
        }
        return 0;
}

int cli_events(int argc, char **argv)
{
        struct eng_event_filter f = {0};
        struct isola_err err = {0};
        struct eng_ctx c;
        const char *root = NULL;
        bool json = false;
        int rc = parse_args(argc, argv, &f, &json, &root, &err);

        if (rc != 0) {
                eng_event_filter_free(&f);
                return rc < 0 ? cli_fail("events", &err) : rc == 1 ? 0 : 125;
        }
        if (cli_eng_open(root, &c) < 0) {
                eng_event_filter_free(&f);
                return 125;
        }
        rc = follow(&c, &f, json ? print_json : print_text, &err);
        eng_close(&c);
        eng_event_filter_free(&f);
        return rc < 0 ? cli_fail("events", &err) : 0;
}
