/* SPDX-License-Identifier: MIT */
/*
 * report.c - totals across runs and the ground-truth JSON.
 *
 * Memory stays bounded for --loops 0: the per-run records, the feature /
 * mode-switch / handler-pid / child-pid lists are capped (the first entries are kept and
 * the rest counted as dropped), and the total latency series are exact up to
 * RESERVOIR_CAP samples each, then a uniform reservoir sample of that size
 * (count, mean and max stay exact; "latency_exact" says which).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uffd_compat.h"
#include "workload.h"

/* ------------------------------------------------------------------ */
/* totals                                                              */

struct u64list {
	uint64_t *v;
	size_t n, cap;
	uint64_t dropped;
};

struct swlist {
	struct mode_switch *v;
	size_t n, cap;
	uint64_t dropped;
};

struct reservoir {
	uint64_t *s;
	uint64_t n, alloc;
	uint64_t seen, sum, max;
};

static struct {
	struct counts c;
	struct u64list feat_req, feat, pids, child_pids;
	struct swlist sw;
	struct reservoir lat_fault, lat_kind[FK__N];
	struct run_rec *runs;
	size_t nruns, runs_cap;
	uint64_t runs_dropped;
	uint64_t nruns_total;
	int pm_ok, pm_unavail, pm_last_errno;
	uint64_t pm_written, pm_written_before, pm_expected, pm_calls;
	int rwp_seen, rwp_granted;
	uint64_t rwprotect_count, rwprotect_err;
} T;

static void *grow(void *p, size_t *cap, size_t elem, size_t need, size_t max)
{
	size_t nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	if (nc > max)
		nc = max;
	if (nc == *cap)
		return p;
	p = realloc(p, nc * elem);
	if (!p)
		die(EXIT_RUNTIME, "out of memory");
	*cap = nc;
	return p;
}

static void list_push(struct u64list *l, uint64_t x)
{
	if (l->n >= MAX_LIST_ENTRIES) {
		l->dropped++;
		return;
	}
	if (l->n == l->cap)
		l->v = grow(l->v, &l->cap, sizeof(*l->v), l->n + 1, MAX_LIST_ENTRIES);
	l->v[l->n++] = x;
}

static void sw_push(struct swlist *l, const struct mode_switch *x)
{
	if (l->n >= MAX_LIST_ENTRIES) {
		l->dropped++;
		return;
	}
	if (l->n == l->cap)
		l->v = grow(l->v, &l->cap, sizeof(*l->v), l->n + 1, MAX_LIST_ENTRIES);
	l->v[l->n++] = *x;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void res_add(struct reservoir *r, uint64_t x)
{
	r->seen++;
	r->sum += x;
	if (x > r->max)
		r->max = x;
	if (r->n < RESERVOIR_CAP) {
		if (r->n == r->alloc) {
			size_t cap = (size_t)r->alloc;
			r->s = grow(r->s, &cap, sizeof(*r->s), (size_t)r->n + 1, RESERVOIR_CAP);
			r->alloc = cap;
		}
		r->s[r->n++] = x;
		return;
	}
	uint64_t j = rng() % r->seen; /* Algorithm R */
	if (j < RESERVOIR_CAP)
		r->s[j] = x;
}

void totals_add_samples(int kind, const uint64_t *s, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		res_add(&T.lat_kind[kind], s[i]);
		if (kind != FK_WP_ASYNC)
			res_add(&T.lat_fault, s[i]);
	}
}

void counts_add(struct counts *d, const struct counts *s)
{
	d->uffds_created += s->uffds_created;
	d->uffds_forked += s->uffds_forked;
	for (int k = 0; k < FK__N; k++)
		d->faults[k] += s->faults[k];
	for (int k = 0; k < 3; k++)
		d->msg_pf[k] += s->msg_pf[k];
	d->msg_other += s->msg_other;
	for (int i = 0; i < IOC__N; i++) {
		d->ioc_count[i] += s->ioc_count[i];
		d->ioc_err[i] += s->ioc_err[i];
	}
	d->reads += s->reads;
	d->read_bytes += s->read_bytes;
	d->read_eagain += s->read_eagain;
	if (s->max_msgs_per_read > d->max_msgs_per_read)
		d->max_msgs_per_read = s->max_msgs_per_read;
	d->copy_eexist += s->copy_eexist;
	d->continue_eexist += s->continue_eexist;
	d->eagain_retries += s->eagain_retries;
	d->data_mismatches += s->data_mismatches;
}

void totals_record_run(const struct run_rec *r)
{
	counts_add(&T.c, &r->c);
	for (int i = 0; i < r->nfeat; i++) {
		list_push(&T.feat_req, r->features_req[i]);
		list_push(&T.feat, r->features[i]);
	}
	for (int i = 0; i < r->nsw; i++)
		sw_push(&T.sw, &r->sw[i]);
	if (r->handler_pid)
		list_push(&T.pids, (uint64_t)r->handler_pid);
	if (r->child_pid)
		list_push(&T.child_pids, (uint64_t)r->child_pid);
	if (r->pm == PM_OK) {
		T.pm_ok++;
		T.pm_written += r->pm_written;
		T.pm_written_before += r->pm_written_before;
		T.pm_expected += r->c.faults[FK_WP_ASYNC];
	} else if (r->pm == PM_UNAVAILABLE) {
		T.pm_unavail++;
		T.pm_last_errno = r->pm_errno;
	}
	T.pm_calls += r->pm_calls;
	if (r->scenario == SC_SET_MODE) {
		T.rwp_seen = 1;
		T.rwp_granted |= r->rwp_granted;
	}
	T.nruns_total++;
	if (T.nruns >= MAX_RUN_RECORDS) {
		T.runs_dropped++;
		return;
	}
	if (T.nruns == T.runs_cap)
		T.runs = grow(T.runs, &T.runs_cap, sizeof(*T.runs), T.nruns + 1, MAX_RUN_RECORDS);
	T.runs[T.nruns++] = *r;
}

void totals_free(void)
{
	free(T.feat_req.v);
	free(T.feat.v);
	free(T.pids.v);
	free(T.child_pids.v);
	free(T.sw.v);
	free(T.lat_fault.s);
	for (int k = 0; k < FK__N; k++)
		free(T.lat_kind[k].s);
	free(T.runs);
	memset(&T, 0, sizeof(T));
}

/* ------------------------------------------------------------------ */
/* percentiles                                                          */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* nearest rank: the sample at index ceil(q*n)-1 of the sorted samples (q in per-mille) */
static uint64_t rank(const uint64_t *sorted, uint64_t n, uint64_t permille)
{
	uint64_t idx = (permille * n + 999) / 1000;
	return sorted[idx ? idx - 1 : 0];
}

void summarize(uint64_t *v, uint64_t n, struct lat_summary *o)
{
	uint64_t sum = 0;

	memset(o, 0, sizeof(*o));
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_u64);
	for (uint64_t i = 0; i < n; i++)
		sum += v[i];
	o->count = n;
	o->p50 = rank(v, n, 500);
	o->p90 = rank(v, n, 900);
	o->p99 = rank(v, n, 990);
	o->max = v[n - 1];
	o->mean = sum / n;
}

static void res_summary(struct reservoir *r, struct lat_summary *o)
{
	memset(o, 0, sizeof(*o));
	if (!r->seen)
		return;
	qsort(r->s, r->n, sizeof(*r->s), cmp_u64);
	o->count = r->seen;
	o->p50 = rank(r->s, r->n, 500);
	o->p90 = rank(r->s, r->n, 900);
	o->p99 = rank(r->s, r->n, 990);
	o->max = r->max;
	o->mean = r->sum / r->seen;
}

/* ------------------------------------------------------------------ */
/* a small JSON writer                                                  */

#define JW_MAX_DEPTH 16

struct jw {
	FILE *f;
	int depth;
	int first[JW_MAX_DEPTH];
	int inl[JW_MAX_DEPTH]; /* container written on one line */
};

static void jw_sep(struct jw *w, const char *key)
{
	if (w->depth > 0) {
		int d = w->depth - 1;
		if (!w->first[d])
			fputc(',', w->f);
		if (w->inl[d]) {
			if (!w->first[d])
				fputc(' ', w->f);
		} else {
			fputc('\n', w->f);
			for (int i = 0; i < w->depth; i++)
				fputs("  ", w->f);
		}
		w->first[d] = 0;
	}
	if (key)
		fprintf(w->f, "\"%s\": ", key);
}

static void jw_open(struct jw *w, const char *key, char c, int inl)
{
	jw_sep(w, key);
	fputc(c, w->f);
	if (w->depth < JW_MAX_DEPTH) {
		w->first[w->depth] = 1;
		w->inl[w->depth] = inl || (w->depth > 0 && w->inl[w->depth - 1]);
	}
	w->depth++;
}

static void jw_close(struct jw *w, char c)
{
	int d = --w->depth;
	if (!w->inl[d] && !w->first[d]) {
		fputc('\n', w->f);
		for (int i = 0; i < d; i++)
			fputs("  ", w->f);
	}
	fputc(c, w->f);
}

#define jw_obj(w, key) jw_open(w, key, '{', 0)
#define jw_obj_inl(w, key) jw_open(w, key, '{', 1)
#define jw_arr(w, key) jw_open(w, key, '[', 0)
#define jw_arr_inl(w, key) jw_open(w, key, '[', 1)
#define jw_end_obj(w) jw_close(w, '}')
#define jw_end_arr(w) jw_close(w, ']')

static void jw_u64(struct jw *w, const char *key, uint64_t v)
{
	jw_sep(w, key);
	fprintf(w->f, "%" PRIu64, v);
}

static void jw_i64(struct jw *w, const char *key, int64_t v)
{
	jw_sep(w, key);
	fprintf(w->f, "%" PRId64, v);
}

static void jw_str(struct jw *w, const char *key, const char *s)
{
	jw_sep(w, key);
	fputc('"', w->f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(w->f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(w->f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, w->f);
	}
	fputc('"', w->f);
}

static void jw_raw(struct jw *w, const char *key, const char *raw)
{
	jw_sep(w, key);
	fputs(raw, w->f);
}

static void jw_bool(struct jw *w, const char *key, int b) { jw_raw(w, key, b ? "true" : "false"); }

/* ------------------------------------------------------------------ */

static void write_lat(struct jw *w, const char *key, const struct lat_summary *s)
{
	jw_obj_inl(w, key);
	jw_u64(w, "count", s->count);
	jw_u64(w, "p50", s->p50);
	jw_u64(w, "p90", s->p90);
	jw_u64(w, "p99", s->p99);
	jw_u64(w, "max", s->max);
	jw_u64(w, "mean", s->mean);
	jw_end_obj(w);
}

static void write_lats(struct jw *w, const struct lat_summary *fault, const struct lat_summary kinds[FK__N])
{
	jw_obj(w, "latency_ns");
	write_lat(w, "fault", fault);
	jw_end_obj(w);
	jw_obj(w, "latency_ns_by_kind");
	for (int k = 0; k < FK__N; k++)
		write_lat(w, kind_names[k], &kinds[k]);
	jw_end_obj(w);
}

static void write_switch(struct jw *w, const char *key, const struct mode_switch *sw, const char *k1,
			 const char *k2)
{
	jw_obj_inl(w, key);
	jw_u64(w, k1, sw->enable);
	if (k2)
		jw_u64(w, k2, sw->disable);
	jw_i64(w, "result", sw->result);
	if (sw->err)
		jw_str(w, "errno", errno_name(sw->err));
	else
		jw_raw(w, "errno", "null");
	jw_u64(w, "latency_ns", sw->latency_ns);
	jw_end_obj(w);
}

/* uffds_created, faults, messages, ioctls, reads, races, data_mismatches */
static void write_counts(struct jw *w, const struct counts *c, int with_uffds)
{
	uint64_t total = 0;
	for (int k = 0; k < FK__N; k++)
		total += c->faults[k];
	if (with_uffds) {
		jw_u64(w, "uffds_created", c->uffds_created);
		jw_u64(w, "uffds_forked", c->uffds_forked);
	}
	jw_obj_inl(w, "faults");
	jw_u64(w, "total", total);
	for (int k = 0; k < FK__N; k++)
		jw_u64(w, kind_names[k], c->faults[k]);
	jw_end_obj(w);

	jw_obj_inl(w, "messages");
	jw_obj_inl(w, "pagefault");
	for (int k = 0; k < 3; k++)
		jw_u64(w, kind_names[k], c->msg_pf[k]);
	jw_end_obj(w);
	jw_u64(w, "other", c->msg_other);
	jw_end_obj(w);

	jw_obj(w, "ioctls");
	for (int i = 0; i < IOC__N; i++) {
		jw_obj_inl(w, ioc_names[i]);
		jw_u64(w, "count", c->ioc_count[i]);
		jw_u64(w, "errors", c->ioc_err[i]);
		jw_end_obj(w);
	}
	jw_end_obj(w);

	jw_obj_inl(w, "reads");
	jw_u64(w, "count", c->reads);
	jw_u64(w, "bytes", c->read_bytes);
	jw_u64(w, "eagain", c->read_eagain);
	jw_u64(w, "max_msgs_per_read", c->max_msgs_per_read);
	jw_end_obj(w);

	jw_obj_inl(w, "races");
	jw_u64(w, "copy_eexist", c->copy_eexist);
	jw_u64(w, "continue_eexist", c->continue_eexist);
	jw_u64(w, "eagain_retries", c->eagain_retries);
	jw_end_obj(w);

	jw_u64(w, "data_mismatches", c->data_mismatches);
}

static void write_pm_run(struct jw *w, const struct run_rec *r)
{
	if (r->pm == PM_NOT_RUN) {
		jw_raw(w, "pagemap_scan", "null");
	} else if (r->pm == PM_UNAVAILABLE) {
		jw_str(w, "pagemap_scan", "unavailable");
		jw_str(w, "pagemap_scan_errno", errno_name(r->pm_errno));
	} else {
		jw_obj_inl(w, "pagemap_scan");
		jw_u64(w, "pages_written", r->pm_written);
		jw_u64(w, "pages_expected", r->c.faults[FK_WP_ASYNC]);
		jw_u64(w, "pages_written_before", r->pm_written_before);
		jw_u64(w, "calls", r->pm_calls);
		jw_end_obj(w);
	}
}

static void write_run(struct jw *w, const struct run_rec *r)
{
	jw_obj(w, NULL);
	jw_str(w, "scenario", scenario_names[r->scenario]);
	jw_u64(w, "loop", r->loop);
	jw_arr_inl(w, "handler_pids");
	if (r->handler_pid)
		jw_u64(w, NULL, (uint64_t)r->handler_pid);
	jw_end_arr(w);
	jw_arr_inl(w, "child_pids");
	if (r->child_pid)
		jw_u64(w, NULL, (uint64_t)r->child_pid);
	jw_end_arr(w);
	jw_arr_inl(w, "features_requested");
	for (int i = 0; i < r->nfeat; i++)
		jw_u64(w, NULL, r->features_req[i]);
	jw_end_arr(w);
	jw_arr_inl(w, "features_granted");
	for (int i = 0; i < r->nfeat; i++)
		jw_u64(w, NULL, r->features[i]);
	jw_end_arr(w);
	write_counts(w, &r->c, 1);
	jw_arr(w, "mode_switches");
	for (int i = 0; i < r->nsw; i++)
		write_switch(w, NULL, &r->sw[i], "enable", "disable");
	jw_end_arr(w);
	if (r->scenario == SC_SET_MODE) {
		jw_bool(w, "rwp_granted", r->rwp_granted);
		if (r->has_rwprotect)
			write_switch(w, "rwprotect", &r->rwprotect, "mode", NULL);
	}
	write_lats(w, &r->lat_fault, r->lat_kind);
	write_pm_run(w, r);
	jw_u64(w, "duration_ns", r->duration_ns);
	jw_end_obj(w);
}

static void write_list(struct jw *w, const char *key, const struct u64list *l)
{
	jw_arr_inl(w, key);
	for (size_t i = 0; i < l->n; i++)
		jw_u64(w, NULL, l->v[i]);
	jw_end_arr(w);
}

void report_write(FILE *f, uint64_t loops_started, int interrupted, uint64_t duration_ns)
{
	struct jw w = { .f = f };
	struct lat_summary fault, kinds[FK__N];
	int exact = T.lat_fault.seen <= RESERVOIR_CAP;

	res_summary(&T.lat_fault, &fault);
	for (int k = 0; k < FK__N; k++) {
		res_summary(&T.lat_kind[k], &kinds[k]);
		if (T.lat_kind[k].seen > RESERVOIR_CAP)
			exact = 0;
	}

	jw_obj(&w, NULL);
	jw_str(&w, "schema", SCHEMA);
	jw_u64(&w, "pid", (uint64_t)getpid());
	write_list(&w, "handler_pids", &T.pids);
	write_list(&w, "child_pids", &T.child_pids);
	jw_str(&w, "scenario", scenario_names[g_opt.scenario]);
	jw_u64(&w, "loops", loops_started);
	jw_u64(&w, "loops_requested", g_opt.loops);
	jw_bool(&w, "interrupted", interrupted);
	jw_u64(&w, "pages", g_opt.pages);
	jw_u64(&w, "page_size", (uint64_t)sysconf(_SC_PAGESIZE));
	jw_u64(&w, "threads", g_opt.threads);
	jw_u64(&w, "handler_delay_us", g_opt.handler_delay_us);
	jw_u64(&w, "handler_spin_us", g_opt.handler_spin_us);
	jw_bool(&w, "handler_process", g_opt.handler_process);
	jw_str(&w, "uffd_source", g_opt.use_dev ? "dev" : "syscall");
	jw_str(&w, "touch", g_opt.touch_syscall ? "syscall" : "direct");
	write_list(&w, "features_requested", &T.feat_req);
	write_list(&w, "features_granted", &T.feat);
	write_counts(&w, &T.c, 1);
	jw_arr(&w, "mode_switches");
	for (size_t i = 0; i < T.sw.n; i++)
		write_switch(&w, NULL, &T.sw.v[i], "enable", "disable");
	jw_end_arr(&w);
	if (T.rwp_seen)
		jw_bool(&w, "rwp_granted", T.rwp_granted);
	else
		jw_raw(&w, "rwp_granted", "null");
	write_lats(&w, &fault, kinds);
	jw_bool(&w, "latency_exact", exact);
	if (T.pm_ok) {
		jw_obj_inl(&w, "pagemap_scan");
		jw_u64(&w, "pages_written", T.pm_written);
		jw_u64(&w, "pages_expected", T.pm_expected);
		jw_u64(&w, "pages_written_before", T.pm_written_before);
		jw_u64(&w, "calls", T.pm_calls);
		jw_end_obj(&w);
	} else if (T.pm_unavail) {
		jw_str(&w, "pagemap_scan", "unavailable");
		jw_str(&w, "pagemap_scan_errno", errno_name(T.pm_last_errno));
	} else {
		jw_raw(&w, "pagemap_scan", "null");
	}
	jw_obj_inl(&w, "provisional");
	jw_u64(&w, "UFFD_FEATURE_RWP", g_rwp_feature);
	jw_u64(&w, "UFFD_FEATURE_RWP_ASYNC", g_rwp_async_feature);
	jw_u64(&w, "UFFDIO_SET_MODE", (uint64_t)PROV_UFFDIO_SET_MODE);
	jw_u64(&w, "UFFDIO_RWPROTECT", (uint64_t)PROV_UFFDIO_RWPROTECT);
	jw_end_obj(&w);
	jw_obj_inl(&w, "truncated");
	jw_u64(&w, "scenarios", T.runs_dropped);
	jw_u64(&w, "features", T.feat.dropped);
	jw_u64(&w, "mode_switches", T.sw.dropped);
	jw_u64(&w, "handler_pids", T.pids.dropped);
	jw_u64(&w, "child_pids", T.child_pids.dropped);
	jw_end_obj(&w);
	jw_u64(&w, "scenario_runs", T.nruns_total);
	jw_arr(&w, "scenarios");
	for (size_t i = 0; i < T.nruns; i++)
		write_run(&w, &T.runs[i]);
	jw_end_arr(&w);
	jw_u64(&w, "duration_ns", duration_ns);
	jw_end_obj(&w);
	fputc('\n', f);
}
