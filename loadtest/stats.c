/* stats: what one cartload thread saw, and the merge of all threads (see stats.h). */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool stats_init(struct stats *s, int nsec)
{
    memset(s, 0, sizeof *s);
    atomic_init(&s->live_done, 0);
    atomic_init(&s->live_bad, 0);
    s->nsec = nsec > 0 ? nsec : 1;
    s->sec = calloc((size_t)s->nsec, sizeof *s->sec);
    if (!s->sec || !hist_init(&s->corrected, HIST_US_LOWEST, HIST_US_HIGHEST, 3) ||
        !hist_init(&s->uncorrected, HIST_US_LOWEST, HIST_US_HIGHEST, 3)) {
        stats_free(s);
        return false;
    }
    return true;
}

void stats_free(struct stats *s)
{
    hist_free(&s->corrected);
    hist_free(&s->uncorrected);
    for (int i = 0; s->sec && i < s->nsec; i++)
        hist_free(&s->sec[i].lat);
    free(s->sec);
    s->sec = NULL;
}

/* The histogram of second i, allocated on first use; NULL when out of memory. */
static struct hist *stats_sec_hist(struct stats *s, int i)
{
    struct hist *h = &s->sec[i].lat;
    if (!h->counts && !hist_init(h, HIST_US_LOWEST, HIST_US_HIGHEST, 2))
        return NULL;
    return h;
}

void stats_record(struct stats *s, int second, enum check_kind kind, int status,
                  int64_t corrected_us, int64_t uncorrected_us)
{
    if (second < 0)
        second = 0;
    if (second >= s->nsec)
        second = s->nsec - 1;
    s->kinds[kind]++;
    s->status[status > 0 && status < STATS_STATUS_MAX ? status : 0]++;
    struct stats_sec *sec = &s->sec[second];
    sec->done++;
    sec->kinds[kind]++;
    if (corrected_us >= 0) {
        hist_record(&s->corrected, corrected_us);
        struct hist *h = stats_sec_hist(s, second);
        if (h)
            hist_record(h, corrected_us);
    }
    if (uncorrected_us >= 0)
        hist_record(&s->uncorrected, uncorrected_us);
    atomic_store_explicit(&s->live_done, atomic_load_explicit(&s->live_done,
                          memory_order_relaxed) + 1, memory_order_relaxed);
    if (kind != CHECK_OK)
        atomic_store_explicit(&s->live_bad, atomic_load_explicit(&s->live_bad,
                              memory_order_relaxed) + 1, memory_order_relaxed);
}

void stats_example(struct stats *s, const char *detail)
{
    if (s->n_examples < STATS_EXAMPLES && detail && *detail)
        snprintf(s->examples[s->n_examples++], sizeof s->examples[0], "%s", detail);
}

bool stats_merge(struct stats *dst, const struct stats *src)
{
    if (dst->nsec != src->nsec || !hist_merge(&dst->corrected, &src->corrected) ||
        !hist_merge(&dst->uncorrected, &src->uncorrected))
        return false;
    for (int k = 0; k < CHECK_KIND_COUNT; k++)
        dst->kinds[k] += src->kinds[k];
    for (int i = 0; i < STATS_STATUS_MAX; i++)
        dst->status[i] += src->status[i];
    dst->carts_created += src->carts_created;
    dst->carts_lost += src->carts_lost;
    dst->connects += src->connects;
    dst->retries += src->retries;
    dst->replays += src->replays;
    dst->final_exact += src->final_exact;
    dst->final_differ += src->final_differ;
    if (src->longest_outage_us > dst->longest_outage_us)
        dst->longest_outage_us = src->longest_outage_us;
    for (int i = 0; i < src->n_examples; i++)
        stats_example(dst, src->examples[i]);
    for (int i = 0; i < src->nsec; i++) {
        const struct stats_sec *a = &src->sec[i];
        struct stats_sec *b = &dst->sec[i];
        b->done += a->done;
        for (int k = 0; k < CHECK_KIND_COUNT; k++)
            b->kinds[k] += a->kinds[k];
        if (!a->lat.counts)
            continue;
        struct hist *h = stats_sec_hist(dst, i);
        if (!h || !hist_merge(h, &a->lat))
            return false;
    }
    return true;
}

uint64_t stats_total(const struct stats *s)
{
    uint64_t n = 0;
    for (int k = 0; k < CHECK_KIND_COUNT; k++)
        n += s->kinds[k];
    return n;
}

uint64_t stats_mismatches(const struct stats *s)
{
    return s->kinds[CHECK_LOST] + s->kinds[CHECK_STALE] + s->kinds[CHECK_MISDIRECTED] +
           s->final_differ;
}

uint64_t stats_failures(const struct stats *s)
{
    return stats_total(s) - s->kinds[CHECK_OK];
}
