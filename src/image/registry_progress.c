/* Per-blob progress lines on a terminal: digest, bytes done of total, rate.
 * The block of lines is redrawn in place (cursor up, clear line) at most ten
 * times a second; the caller passes NULL output when not on a terminal.
 * Push threads update rows concurrently: every call takes the lock. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/registry_internal.h"

struct reg_progress_row {
        char digest[13]; /* 12 hex, like podman's short blob names */
        int64_t total, done;
        char state[16]; /* "" while running, else "done", "exists", ... */
        double started;
};

struct reg_progress {
        pthread_mutex_t lock;
        FILE *out;
        size_t n;
        size_t drawn; /* lines on screen from the last draw */
        double last;
        struct reg_progress_row rows[];
};

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct reg_progress *reg_progress_new(FILE *out, size_t rows)
{
        if (!out || !rows)
                return NULL;
        struct reg_progress *p = calloc(1, sizeof(*p) + rows * sizeof(p->rows[0]));
        if (!p)
                return NULL;
        p->out = out;
        p->n = rows;
        pthread_mutex_init(&p->lock, NULL);
        return p;
}

void reg_progress_row(struct reg_progress *p, size_t row, const char *digest, int64_t total)
{
        if (!p || row >= p->n)
                return;
        const char *hex = strchr(digest, ':');
        pthread_mutex_lock(&p->lock);
        snprintf(p->rows[row].digest, sizeof(p->rows[row].digest), "%s", hex ? hex + 1 : digest);
        p->rows[row].total = total;
        p->rows[row].started = now();
        pthread_mutex_unlock(&p->lock);
}

void reg_progress_set(struct reg_progress *p, size_t row, int64_t done, const char *state)
{
        if (!p || row >= p->n)
                return;
        pthread_mutex_lock(&p->lock);
        if (p->rows[row].done == 0 && done > 0) /* the rate counts from the first byte */
                p->rows[row].started = now();
        p->rows[row].done = done;
        snprintf(p->rows[row].state, sizeof(p->rows[row].state), "%s", state ? state : "");
        pthread_mutex_unlock(&p->lock);
}

static void human(double v, char *buf, size_t len)
{
        const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        int i = 0;

        while (v >= 1024 && i < 4) {
                v /= 1024;
                i++;
        }
        snprintf(buf, len, i ? "%.1f%s" : "%.0f%s", v, u[i]);
}

void reg_progress_draw(struct reg_progress *p, bool force)
{
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        double t = now();
        if (!force && t - p->last < 0.1) {
                pthread_mutex_unlock(&p->lock);
                return;
        }
        p->last = t;
        if (p->drawn)
                fprintf(p->out, "\033[%zuA", p->drawn);
        for (size_t i = 0; i < p->n; i++) {
                struct reg_progress_row *r = &p->rows[i];
                char done[16], total[16], rate[16];
                human((double)r->done, done, sizeof(done));
                human((double)r->total, total, sizeof(total));
                double el = t - r->started;
                human(el > 0.05 ? (double)r->done / el : 0, rate, sizeof(rate));
                fprintf(p->out, "\033[2KCopying blob %s  %9s / %-9s  ", r->digest, done, total);
                if (r->state[0])
                        fprintf(p->out, "%s\n", r->state);
                else
                        fprintf(p->out, "%s/s\n", rate);
        }
        p->drawn = p->n;
        fflush(p->out);
        pthread_mutex_unlock(&p->lock);
}

void reg_progress_free(struct reg_progress *p)
{
        if (p)
                pthread_mutex_destroy(&p->lock);
        free(p);
}
